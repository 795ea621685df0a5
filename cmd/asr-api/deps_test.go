package main

import (
	"testing"

	"github.com/asr-server/asr-server/internal/puregotest"
)

// asr-api must stay pure Go, so it builds and runs on any Linux host.
func TestAPIIsPureGo(t *testing.T) { puregotest.Check(t) }
