package models

import (
	"errors"
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Catalog() {
		if seen[m.Name] {
			t.Errorf("%s listed twice", m.Name)
		}
		seen[m.Name] = true
		if name, err := ParseName(m.Name); err != nil || name != m.Name {
			t.Errorf("%s: ParseName = %q, %v", m.Name, name, err)
		}
		if s, err := ParseSHA256(m.SHA256); err != nil || s != m.SHA256 {
			t.Errorf("%s: sum %q is not lower-case hex: %v", m.Name, m.SHA256, err)
		}
		if m.Size < 30<<20 {
			t.Errorf("%s: size %d", m.Name, m.Size)
		}
	}
	for _, name := range []string{"tiny", "tiny.en", "base", "base.en", "small", "small.en",
		"medium", "medium.en", "large-v1", "large-v2", "large-v3", "large-v3-turbo",
		"tiny-q5_1", "base-q5_1", "small-q5_1", "medium-q5_0", "large-v3-turbo-q5_0"} {
		if !seen[name] {
			t.Errorf("catalog lacks %s", name)
		}
	}
	m, ok := Lookup("base.en")
	if !ok || m.FileName() != "ggml-base.en.bin" || m.Size != 147964211 {
		t.Errorf("Lookup(base.en) = %+v, %v", m, ok)
	}
}

func TestParseName(t *testing.T) {
	good := map[string]string{"base.en": "base.en", "ggml-base.en.bin": "base.en",
		"large-v3-turbo-q5_0": "large-v3-turbo-q5_0", "My_Model.2": "My_Model.2",
		"ggml-ggml-x.bin.bin": "ggml-x.bin"}
	for arg, want := range good {
		if got, err := ParseName(arg); err != nil || got != want {
			t.Errorf("ParseName(%q) = %q, %v; want %q", arg, got, err, want)
		}
	}
	for _, arg := range []string{"", ".", "..", "../base", "a/b", "-rf", ".hidden", "a b",
		"ggml-../x.bin", "ggml-.bin", "é", strings.Repeat("a", 101)} {
		if got, err := ParseName(arg); !errors.Is(err, ErrBadName) {
			t.Errorf("ParseName(%q) = %q, %v; want ErrBadName", arg, got, err)
		}
	}
}

func TestParseSHA256(t *testing.T) {
	const s = "be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21"
	for _, arg := range []string{s, strings.ToUpper(s), "sha256:" + s, " " + s + "\n"} {
		if got, err := ParseSHA256(arg); err != nil || got != s {
			t.Errorf("ParseSHA256(%q) = %q, %v", arg, got, err)
		}
	}
	for _, arg := range []string{"", s[:63], s + "0", "g" + s[1:], "sha1:" + s} {
		if _, err := ParseSHA256(arg); !errors.Is(err, ErrBadChecksum) {
			t.Errorf("ParseSHA256(%q): %v, want ErrBadChecksum", arg, err)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		h                  string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-99/100", 0, 99, 100, true},
		{"bytes 100-199/*", 100, 199, -1, true},
		{"bytes */500", -1, -1, 500, true},
		{"bytes 5-4/10", 0, 0, 0, false},
		{"bytes 0-10/10", 0, 0, 0, false},
		{"bytes */*", 0, 0, 0, false},
		{"bytes -1-5/10", 0, 0, 0, false},
		{"bytes +1-5/10", 0, 0, 0, false},
		{"items 0-1/2", 0, 0, 0, false},
		{"bytes 0-1", 0, 0, 0, false},
		{"bytes 99999999999999999999-1/2", 0, 0, 0, false},
	}
	for _, tc := range tests {
		first, last, total, err := ParseContentRange(tc.h)
		if tc.ok != (err == nil) || tc.ok && (first != tc.first || last != tc.last ||
			total != tc.total) {
			t.Errorf("ParseContentRange(%q) = %d %d %d %v", tc.h, first, last, total, err)
		}
		if err != nil && !errors.Is(err, ErrContentRange) {
			t.Errorf("ParseContentRange(%q): error %v does not wrap ErrContentRange", tc.h, err)
		}
	}
}

func FuzzParseName(f *testing.F) {
	f.Add("base.en")
	f.Add("ggml-large-v3-turbo-q5_0.bin")
	f.Add("../../etc/passwd")
	f.Fuzz(func(t *testing.T, arg string) {
		name, err := ParseName(arg)
		if err != nil {
			return
		}
		file := FileName(name)
		if strings.ContainsAny(file, "/\\\x00") || strings.HasPrefix(name, ".") ||
			strings.HasPrefix(name, "-") {
			t.Fatalf("ParseName(%q) = %q: not a plain file name", arg, name)
		}
		if again, err := ParseName(file); err != nil || again != name {
			t.Fatalf("ParseName(FileName(%q)) = %q, %v", name, again, err)
		}
	})
}

func FuzzParseSHA256(f *testing.F) {
	f.Add("sha256:be07e048e1e599ad46341c8d2a135645097a538221678b7acdd1b1919c6e1b21")
	f.Add("xyz")
	f.Fuzz(func(t *testing.T, arg string) {
		s, err := ParseSHA256(arg)
		if err != nil {
			return
		}
		if len(s) != 64 || strings.ToLower(s) != s {
			t.Fatalf("ParseSHA256(%q) = %q", arg, s)
		}
		if again, err := ParseSHA256(s); err != nil || again != s {
			t.Fatalf("not idempotent: %q, %v", again, err)
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	f.Add("bytes 0-99/100")
	f.Add("bytes */500")
	f.Add("bytes 1-2/*")
	f.Fuzz(func(t *testing.T, h string) {
		first, last, total, err := ParseContentRange(h)
		if err != nil {
			return
		}
		if first == -1 {
			if last != -1 || total < 0 {
				t.Fatalf("%q: %d %d %d", h, first, last, total)
			}
			return
		}
		if first < 0 || last < first || total >= 0 && last >= total || total < -1 {
			t.Fatalf("%q: %d %d %d", h, first, last, total)
		}
	})
}
