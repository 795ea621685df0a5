package main

import (
	"testing"

	"github.com/asr-server/asr-server/internal/puregotest"
)

// asrctl must stay pure Go, so it builds and runs on any Linux host.
func TestAsrctlIsPureGo(t *testing.T) { puregotest.Check(t) }
