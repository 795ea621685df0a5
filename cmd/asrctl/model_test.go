package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asr-server/asr-server/internal/testmodel"
)

func TestModelPullUseList(t *testing.T) {
	var model bytes.Buffer
	if err := testmodel.Write(&model, testmodel.Options{Seed: 3}); err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(model.Bytes())
	sum := hex.EncodeToString(s[:])
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/m/ggml-mine.bin" {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(model.Bytes()))
	}))
	defer srv.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("# asr\n[worker]\n# the model\nmodel = \"/old.bin\" # note\n"+
		"threads = 2\n"), 0o640)

	code, stdout, stderr := run(t, "model", "pull", "mine", "--dir", dir)
	if code != 1 || !strings.Contains(stderr, "no known SHA-256 sum") {
		t.Errorf("pull without a sum: exit %d, %q", code, stderr)
	}
	code, stdout, stderr = run(t, "model", "pull", "mine", "--dir", dir, "--sha256", sum,
		"--base-url", srv.URL+"/m")
	path := filepath.Join(dir, "ggml-mine.bin")
	if code != 0 || !strings.Contains(stdout, "installed mine: "+path) ||
		!strings.Contains(stdout, "mine: 100% of ") {
		t.Fatalf("pull: exit %d, %s\n%s", code, stderr, stdout)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, model.Bytes()) {
		t.Errorf("installed file differs")
	}

	code, stdout, stderr = run(t, "model", "use", "mine", "--dir", dir, "--config", cfg)
	if code != 0 {
		t.Fatalf("use: exit %d, %s", code, stderr)
	}
	got, _ := os.ReadFile(cfg)
	want := "# asr\n[worker]\n# the model\nmodel = \"" + path + "\" # note\nthreads = 2\n"
	if string(got) != want {
		t.Errorf("config:\n%s\nwant\n%s", got, want)
	}
	if code, _, stderr := run(t, "model", "use", "tiny", "--dir", dir, "--config",
		cfg); code != 1 || !strings.Contains(stderr, "tiny is not installed") {
		t.Errorf("use of a missing model: exit %d, %q", code, stderr)
	}

	code, stdout, _ = run(t, "model", "list", "--dir", dir, "--config", cfg)
	if code != 0 || !strings.Contains(stdout, "\nmine ") ||
		!strings.HasSuffix(stdout, "installed (not in the catalog), in use\n") ||
		!strings.Contains(stdout, "\nlarge-v3-turbo-q5_0  547.4 MiB  -\n") {
		t.Errorf("list: exit %d:\n%s", code, stdout)
	}
}
