// Package puregotest checks, from a command's tests, that the command stays
// pure Go: it builds with cgo off and links nothing of whisper.cpp, which
// belongs to asr-worker alone, so it builds and runs on any Linux host.
package puregotest

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Check fails t if the package in the current directory depends on
// whisper.cpp's bindings or the engine, or does not build with
// CGO_ENABLED=0.
func Check(t *testing.T) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "whisper.cpp/bindings") ||
			pkg == "github.com/asr-server/asr-server/internal/engine" {
			t.Errorf("depends on %s", pkg)
		}
	}
	build := exec.Command("go", "build", "-o", os.DevNull, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 build: %v\n%s", err, out)
	}
}
