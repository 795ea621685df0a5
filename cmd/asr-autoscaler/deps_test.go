package main

import (
	"testing"

	"github.com/asr-server/asr-server/internal/puregotest"
)

// asr-autoscaler must stay pure Go: it runs inference nowhere.
func TestAutoscalerIsPureGo(t *testing.T) { puregotest.Check(t) }
