package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// asr-autoscaler must stay pure Go: it runs inference nowhere.
func TestAutoscalerIsPureGo(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.Contains(pkg, "whisper.cpp/bindings") ||
			pkg == "github.com/asr-server/asr-server/internal/engine" {
			t.Errorf("asr-autoscaler depends on %s", pkg)
		}
	}
	build := exec.Command("go", "build", "-o", os.DevNull, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 build: %v\n%s", err, out)
	}
}
