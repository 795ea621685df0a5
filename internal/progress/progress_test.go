package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	tests := []struct {
		name string
		set  func(b *Bar)
		want string
	}{
		{"percent", func(b *Bar) { b.Percent("transcribing", 45) },
			"speech.wav  transcribing  [==================                      ]  45%"},
		{"full", func(b *Bar) { b.Percent("done", 100) },
			"speech.wav  done          [========================================] 100%"},
		{"bytes", func(b *Bar) { b.Bytes("uploading", 1536, 3<<20) },
			"speech.wav  uploading     [                           ]   0%  1.5 KiB / 3.0 MiB"},
		{"note", func(b *Bar) { b.Note("queued", "position 3") },
			"speech.wav  queued        position 3"},
		{"over 100 % is capped", func(b *Bar) { b.Percent("x", 250) },
			"speech.wav  x             [========================================] 100%"},
		{"nothing set", func(b *Bar) {}, "speech.wav"},
	}
	for _, tc := range tests {
		d := New(&bytes.Buffer{}, func() int { return 80 })
		b := d.Add("speech.wav")
		tc.set(b)
		if got := b.line(79, 10); got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestLineFitsNarrowTerminals(t *testing.T) {
	d := New(&bytes.Buffer{}, nil)
	b := d.Add("a-very-long-file-name-that-goes-on-and-on.wav")
	b.Bytes("uploading", 10, 100)
	for _, width := range []int{1, 20, 39, 60} {
		if got := b.line(width, 32); len([]rune(got)) > width {
			t.Errorf("width %d: %d runes: %q", width, len([]rune(got)), got)
		}
	}
	if got := pad("a-very-long-file-name-that-goes-on-and-on.wav", 12); got != "a-ver…on.wav" {
		t.Errorf("pad: %q", got)
	}
}

func TestSanitize(t *testing.T) {
	d := New(&bytes.Buffer{}, nil)
	b := d.Add("evil\x1b[2Jname\n.wav")
	b.Note("st\rage", "no\x07te\u009b")
	if got := b.line(80, 20); got != "evil?[2Jname?.wav     st?age        no?te?" {
		t.Errorf("line %q", got)
	}
}

func TestRedraw(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(0, 0)
	d := New(&out, func() int { return 60 })
	d.Now = func() time.Time { return now }
	a, b := d.Add("a.wav"), d.Add("b.wav")
	a.Note("queued", "1")
	want := clearLine + "a.wav     queued        1\n" + clearLine + "b.wav\n"
	if out.String() != want {
		t.Fatalf("first draw %q, want %q", out.String(), want)
	}
	out.Reset()
	// Same stage within the interval: no redraw.
	a.Note("queued", "2")
	if out.Len() != 0 {
		t.Fatalf("redrew within the interval: %q", out.String())
	}
	// A new stage redraws at once, moving up over both lines.
	b.Percent("running", 50)
	if !strings.HasPrefix(out.String(), "\x1b[2A"+clearLine+"a.wav     queued        2\n") ||
		strings.Count(out.String(), "\n") != 2 {
		t.Fatalf("redraw %q", out.String())
	}
	out.Reset()
	now = now.Add(DefaultInterval)
	b.Percent("running", 60)
	if !strings.Contains(out.String(), " 60%\n") {
		t.Fatalf("redraw after the interval: %q", out.String())
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB",
		1536: "1.5 KiB", 147951465: "141.1 MiB", 3094623691: "2.9 GiB", 1 << 62: "4.0 EiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
