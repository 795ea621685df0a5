package models

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestSetKey(t *testing.T) {
	const m = "/var/lib/asr/models/ggml-small.bin"
	tests := []struct {
		name, in, want string
	}{
		{"replace keeping comments",
			"# top\n[worker]\n# the model\nmodel = \"/old.bin\"  # was base\nthreads = 2\n",
			"# top\n[worker]\n# the model\nmodel = \"" + m + "\"  # was base\nthreads = 2\n"},
		{"literal string and odd spacing",
			"[worker]\n  model='/old.bin'\n",
			"[worker]\n  model=\"" + m + "\"\n"},
		{"quoted key and header comment",
			"[ \"worker\" ] # w\n\"model\" = \"a\\\"b\"\n[queue]\nlease = \"15s\"\n",
			"[ \"worker\" ] # w\n\"model\" = \"" + m + "\"\n[queue]\nlease = \"15s\"\n"},
		{"missing key goes after a commented one",
			"[worker]\nthreads = 1\n# model = \"/x\"\nlanguage = \"en\"\n",
			"[worker]\nthreads = 1\n# model = \"/x\"\nmodel = \"" + m + "\"\nlanguage = \"en\"\n"},
		{"missing key goes under the header",
			"[api]\nlisten = \"x\"\n[worker]\nthreads = 1\n",
			"[api]\nlisten = \"x\"\n[worker]\nmodel = \"" + m + "\"\nthreads = 1\n"},
		{"missing table is appended",
			"[api]\nlisten = \"x\"",
			"[api]\nlisten = \"x\"\n\n[worker]\nmodel = \"" + m + "\"\n"},
		{"empty file", "", "[worker]\nmodel = \"" + m + "\"\n"},
		{"CRLF",
			"[worker]\r\nmodel = \"/old\"\r\n",
			"[worker]\r\nmodel = \"" + m + "\"\r\n"},
		{"dotted key at the top",
			"worker.model = \"/old\" # here\n[api]\nlisten = \"x\"\n",
			"worker.model = \"" + m + "\" # here\n[api]\nlisten = \"x\"\n"},
		{"same key in another table untouched",
			"[other]\nmodel = \"/o\"\n[worker]\nmodel = \"/old\"\n",
			"[other]\nmodel = \"/o\"\n[worker]\nmodel = \"" + m + "\"\n"},
		{"multi-line string that looks like a table",
			"[api]\nnote = \"\"\"\n[worker]\nmodel = 1\n\"\"\"\n[worker]\nmodel = \"/old\"\n",
			"[api]\nnote = \"\"\"\n[worker]\nmodel = 1\n\"\"\"\n[worker]\nmodel = \"" + m +
				"\"\n"},
	}
	for _, tc := range tests {
		got, err := SetKey(tc.in, "worker", "model", m)
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %q, %v\nwant %q", tc.name, got, err, tc.want)
		}
	}
}

func TestSetKeyRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"invalid TOML":       "[worker\nmodel = 1\n",
		"multi-line value":   "[worker]\nmodel = \"\"\"\n/x\"\"\"\n",
		"inline table":       "worker = { model = \"/x\" }\n",
		"worker not a table": "worker = 3\n",
	} {
		if got, err := SetKey(in, "worker", "model", "/m"); !errors.Is(err, ErrEdit) {
			t.Errorf("%s: %q, %v; want ErrEdit", name, got, err)
		}
	}
}

func TestSetKeyOnShippedConfig(t *testing.T) {
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	const m = "/var/lib/asr/models/ggml-large-v3-turbo-q5_0.bin"
	got, err := SetKey(string(data), "worker", "model", m)
	if err != nil {
		t.Fatal(err)
	}
	before, after := splitLines(string(data)), splitLines(got)
	if len(before) != len(after) {
		t.Fatalf("line count %d -> %d", len(before), len(after))
	}
	changed := 0
	for i := range before {
		if before[i] != after[i] {
			changed++
			if after[i] != "model = \""+m+"\"\n" {
				t.Errorf("line %d became %q", i+1, after[i])
			}
		}
	}
	if changed != 1 {
		t.Errorf("%d lines changed, want 1", changed)
	}
}

func TestSetConfigKeyAtomic(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.toml")
	link := filepath.Join(dir, "config.toml")
	os.WriteFile(real, []byte("[worker]\nmodel = \"/old\" # keep\n"), 0o640)
	if err := os.Symlink("real.toml", link); err != nil {
		t.Fatal(err)
	}
	if err := SetConfigKey(link, "worker", "model", "/new"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(real)
	if string(data) != "[worker]\nmodel = \"/new\" # keep\n" {
		t.Errorf("file %q", data)
	}
	st, _ := os.Lstat(link)
	rst, _ := os.Stat(real)
	if st.Mode()&os.ModeSymlink == 0 || rst.Mode().Perm() != 0o640 {
		t.Errorf("link mode %v, file mode %v", st.Mode(), rst.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := SetConfigKey(filepath.Join(dir, "absent.toml"), "worker", "model",
		"/x"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("absent file: %v", err)
	}
}

// FuzzSetKey checks that an edit either fails or yields a document that
// decodes to the original with only worker.model changed (SetKey checks
// that itself; the fuzz target checks it again independently, and that
// the lines of the input survive).
func FuzzSetKey(f *testing.F) {
	if data, err := os.ReadFile("../../config.toml"); err == nil {
		f.Add(string(data), "/m.bin")
	}
	f.Add("[worker]\nmodel = \"/a\" # c\n", "/b")
	f.Add("worker.model = 'x'\n[a]\nb = \"\"\"\n[worker]\n\"\"\"\n", "q\"\\\n")
	f.Add("[[worker]]\nmodel = 1\n", "x")
	f.Fuzz(func(t *testing.T, text, value string) {
		out, err := SetKey(text, "worker", "model", value)
		if err != nil {
			return
		}
		var doc struct {
			Worker struct {
				Model string `toml:"model"`
			} `toml:"worker"`
		}
		if _, err := toml.Decode(out, &doc); err != nil {
			t.Fatalf("edited document does not decode: %v\n%q", err, out)
		}
		if doc.Worker.Model != value {
			t.Fatalf("worker.model = %q, want %q", doc.Worker.Model, value)
		}
		for _, line := range splitLines(text) {
			if !strings.Contains(out, strings.TrimRight(line, "\r\n")) &&
				!strings.Contains(line, "model") {
				t.Fatalf("line %q lost", line)
			}
		}
	})
}
