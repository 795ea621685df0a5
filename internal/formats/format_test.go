package formats

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/asr-server/asr-server/internal/transcript"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Format
		ok   bool
	}{
		{"json", JSON, true},
		{"text", Text, true},
		{"srt", SRT, true},
		{"verbose_json", VerboseJSON, true},
		{"vtt", VTT, true},
		{"", JSON, true},
		{"JSON", "", false},
		{" srt", "", false},
		{"xml", "", false},
		{"verbose-json", "", false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.ok {
			if err != nil || got != tt.want {
				t.Errorf("Parse(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("Parse(%q) error = %v; want ErrUnknownFormat", tt.in, err)
			continue
		}
		for _, name := range []string{"json", "text", "srt", "verbose_json", "vtt"} {
			if !strings.Contains(err.Error(), name) {
				t.Errorf("Parse(%q) error %q does not name %q", tt.in, err, name)
			}
		}
	}
}

func TestContentType(t *testing.T) {
	tests := []struct {
		f    Format
		want string
	}{
		{JSON, "application/json"},
		{VerboseJSON, "application/json"},
		{Text, "text/plain; charset=utf-8"},
		{SRT, "text/plain; charset=utf-8"},
		{VTT, "text/vtt; charset=utf-8"},
		{"xml", ""},
	}
	for _, tt := range tests {
		if got := tt.f.ContentType(); got != tt.want {
			t.Errorf("Format(%q).ContentType() = %q; want %q", tt.f, got, tt.want)
		}
	}
}

func TestLanguageName(t *testing.T) {
	tests := []struct{ code, want string }{
		{"en", "english"},
		{"EN", "english"},
		{"zh", "chinese"},
		{"haw", "hawaiian"},
		{"yue", "cantonese"},
		{"jw", "javanese"},
		{"xx", "xx"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := LanguageName(tt.code); got != tt.want {
			t.Errorf("LanguageName(%q) = %q; want %q", tt.code, got, tt.want)
		}
	}
	if n := len(languageNames); n != 100 {
		t.Errorf("len(languageNames) = %d; want 100", n)
	}
}

func TestTimestamp(t *testing.T) {
	tests := []struct {
		ms   int64
		sep  byte
		want string
	}{
		{0, ',', "00:00:00,000"},
		{1999, '.', "00:00:01.999"},
		{99 * 60_000, ',', "01:39:00,000"},
		{100 * 3_600_000, ',', "100:00:00,000"},
		{9*3_600_000 + 59*60_000 + 59_999, '.', "09:59:59.999"},
	}
	for _, tt := range tests {
		if got := timestamp(tt.ms, tt.sep); got != tt.want {
			t.Errorf("timestamp(%d, %q) = %q; want %q", tt.ms, tt.sep, got, tt.want)
		}
	}
}

func TestWrap(t *testing.T) {
	tests := []struct {
		text  string
		width int
		want  []string
	}{
		{"a b c", 0, []string{"a b c"}},
		{"aa bb cc", 5, []string{"aa bb", "cc"}},
		{"aa bb cc", 4, []string{"aa", "bb", "cc"}},
		{"a verylongword b", 4, []string{"a", "verylongword", "b"}},
		{"éé éé éé", 5, []string{"éé éé", "éé"}},
		{"x\u00a0y z", 3, []string{"x\u00a0y", "z"}},
	}
	for _, tt := range tests {
		got := wrap(strings.FieldsFunc(tt.text, isBreakSpace), tt.width)
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("wrap(%q, %d) = %q; want %q", tt.text, tt.width, got, tt.want)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		r    *transcript.Result
		f    Format
		opts Options
		want error
	}{
		{"unknown format", &transcript.Result{}, "xml", Options{}, ErrUnknownFormat},
		{"negative width", oneSegment(0, 1), SRT, Options{MaxLineWidth: -1}, ErrOptions},
		{"negative lines", oneSegment(0, 1), VTT, Options{MaxLinesPerCue: -1}, ErrOptions},
		{"NaN start", oneSegment(nan, 1), SRT, Options{}, ErrTime},
		{"infinite end", oneSegment(0, math.Inf(1)), VTT, Options{}, ErrTime},
		{"huge end", oneSegment(0, 2*MaxSeconds), VerboseJSON, Options{}, ErrTime},
		{"NaN duration", &transcript.Result{Duration: nan}, VerboseJSON, Options{},
			ErrTime},
		{"NaN word", &transcript.Result{Segments: []transcript.Segment{{
			Text: "a", Words: []transcript.Word{{Word: "a", Start: nan}},
		}}}, SRT, Options{}, ErrTime},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		err := Render(&b, tt.r, tt.f, tt.opts)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Render error = %v; want %v", tt.name, err, tt.want)
		}
		if b.Len() != 0 {
			t.Errorf("%s: Render wrote %q before failing", tt.name, b.String())
		}
	}
	if err := Render(io.Discard, nil, JSON, Options{}); err == nil {
		t.Error("Render(nil result) succeeded")
	}
	// Times only matter to the formats that show them.
	for _, f := range []Format{JSON, Text} {
		if err := Render(io.Discard, oneSegment(nan, nan), f, Options{}); err != nil {
			t.Errorf("Render(%s) with NaN times: %v", f, err)
		}
	}
}

func oneSegment(start, end float64) *transcript.Result {
	return &transcript.Result{
		Text:     "hi",
		Segments: []transcript.Segment{{Start: start, End: end, Text: "hi"}},
	}
}
