package formats

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/asr-server/asr-server/internal/transcript"
)

// FuzzRender builds a Result from the fuzzer's input, renders it in every
// format and checks the output: no panic, errors only for bad times, valid
// JSON, and subtitles whose cues are well formed, in order and within the
// line limits.
func FuzzRender(f *testing.F) {
	f.Add("Hello there.|How are you?", []byte{0, 0, 0, 0, 9, 196}, uint8(0), uint8(0))
	f.Add("a --> b <b>x</b> & y|| |z", []byte{4, 1, 2, 5, 0, 7, 6, 0, 1}, uint8(5), uint8(1))
	f.Add("Ça va très bien merci à vous|日本語のテキスト", []byte{5, 0, 200, 5, 1, 0},
		uint8(7), uint8(130))
	f.Add("one two three four five six", []byte{3, 7, 208, 0, 0, 1},
		uint8(3), uint8(2))
	f.Add("nan", []byte{7, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f}, uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, texts string, times []byte, width, lines uint8) {
		src := &timeSource{b: times}
		r := fuzzResult(texts, src, lines&0x80 != 0)
		opts := Options{MaxLineWidth: int(width % 24), MaxLinesPerCue: int(lines % 4)}
		for _, f := range all {
			var b bytes.Buffer
			err := Render(&b, r, f, opts)
			if err != nil {
				if f == JSON || f == Text || !errors.Is(err, ErrTime) {
					t.Fatalf("Render(%s): %v", f, err)
				}
				continue
			}
			out := b.String()
			switch f {
			case JSON, VerboseJSON:
				checkJSON(t, r, f, out)
			case SRT:
				checkCues(t, r, opts, out, ',')
			case VTT:
				if !strings.HasPrefix(out, "WEBVTT\n\n") {
					t.Fatalf("vtt lacks its header: %q", out)
				}
				checkCues(t, r, opts, out[len("WEBVTT\n\n"):], '.')
			}
		}
	})
}

// timeSource turns fuzzer bytes into times and statistics: mostly small
// times with millisecond steps, sometimes values near a half millisecond,
// hours-long times, negative times or any float64 at all.
type timeSource struct{ b []byte }

func (s *timeSource) next() float64 {
	if len(s.b) == 0 {
		return 0
	}
	mode := s.b[0] % 8
	s.b = s.b[1:]
	if mode == 7 {
		if len(s.b) < 8 {
			return 0
		}
		v := math.Float64frombits(binary.LittleEndian.Uint64(s.b))
		s.b = s.b[8:]
		return v
	}
	var v float64
	if len(s.b) >= 2 {
		v = float64(binary.BigEndian.Uint16(s.b))
		s.b = s.b[2:]
	}
	switch mode {
	case 4:
		return v/1000 + 0.0005
	case 5:
		return v * 7.3
	case 6:
		return -v / 100
	}
	return v / 1000
}

// fuzzResult makes one segment per "|"-separated part of texts, with
// times and statistics from src and, when withWords is set, one word per
// field of the text.
func fuzzResult(texts string, src *timeSource, withWords bool) *transcript.Result {
	r := &transcript.Result{Text: texts, Language: "en", Duration: src.next()}
	for i, text := range strings.Split(texts, "|") {
		if i == 64 {
			break
		}
		s := transcript.Segment{ID: i, Start: src.next(), End: src.next(), Text: text,
			AvgLogprob: src.next()}
		if withWords {
			for _, w := range strings.Fields(text) {
				ws := transcript.Word{Word: w, Start: src.next(), End: src.next()}
				s.Words = append(s.Words, ws)
			}
		}
		r.Segments = append(r.Segments, s)
	}
	return r
}

func checkJSON(t *testing.T, r *transcript.Result, f Format, out string) {
	t.Helper()
	var v struct {
		Text     *string
		Segments []json.RawMessage
		Words    []json.RawMessage
	}
	if !strings.HasSuffix(out, "}\n") || json.Unmarshal([]byte(out), &v) != nil {
		t.Fatalf("%s: not a JSON object and a newline: %q", f, out)
	}
	if v.Text == nil {
		t.Fatalf("%s: no text in %q", f, out)
	}
	if f == JSON {
		return
	}
	words := 0
	for _, s := range r.Segments {
		words += len(s.Words)
	}
	if len(v.Segments) != len(r.Segments) || len(v.Words) != words {
		t.Fatalf("%s: %d segments and %d words in %q; want %d and %d",
			f, len(v.Segments), len(v.Words), out, len(r.Segments), words)
	}
	if words == 0 && strings.Contains(out, `"words":`) {
		t.Fatalf("%s: words key without words: %q", f, out)
	}
}

// checkCues parses SRT (sep ',') or WebVTT cues (sep '.', header removed)
// and checks numbering, timestamps, order, the line limits and that every
// segment with words gave at least one cue.
func checkCues(t *testing.T, r *transcript.Result, opts Options, out string, sep byte) {
	t.Helper()
	if out == "" {
		for _, s := range r.Segments {
			if len(strings.FieldsFunc(s.Text, isBreakSpace)) > 0 {
				t.Fatalf("no cues for segment %q", s.Text)
			}
		}
		return
	}
	if !strings.HasSuffix(out, "\n\n") {
		t.Fatalf("cues do not end with a blank line: %q", out)
	}
	var prevEnd int64
	for i, block := range strings.Split(strings.TrimSuffix(out, "\n\n"), "\n\n") {
		ls := strings.Split(block, "\n")
		if sep == ',' {
			if ls[0] != strconv.Itoa(i+1) {
				t.Fatalf("cue %d numbered %q in %q", i+1, ls[0], out)
			}
			ls = ls[1:]
		}
		if len(ls) < 2 {
			t.Fatalf("cue %d has no text: %q", i+1, block)
		}
		start, end, ok := parseTimes(ls[0], sep)
		if !ok {
			t.Fatalf("cue %d: bad time line %q", i+1, ls[0])
		}
		if start < prevEnd || end < start {
			t.Fatalf("cue %d: %q out of order after end %d", i+1, ls[0], prevEnd)
		}
		prevEnd = end
		text := ls[1:]
		if opts.MaxLinesPerCue > 0 && len(text) > opts.MaxLinesPerCue {
			t.Fatalf("cue %d has %d lines; limit %d",
				i+1, len(text), opts.MaxLinesPerCue)
		}
		for _, l := range text {
			checkLine(t, l, opts, sep)
		}
	}
}

func checkLine(t *testing.T, l string, opts Options, sep byte) {
	t.Helper()
	if l == "" || strings.HasPrefix(l, " ") || strings.HasSuffix(l, " ") {
		t.Fatalf("badly trimmed line %q", l)
	}
	if sep == '.' && (strings.Contains(l, "-->") || strings.ContainsAny(l, "<>")) {
		t.Fatalf("unescaped vtt line %q", l)
	}
	if sep == ',' && opts.MaxLineWidth > 0 && strings.Contains(l, " ") &&
		utf8.RuneCountInString(l) > opts.MaxLineWidth {
		t.Fatalf("line %q is wider than %d", l, opts.MaxLineWidth)
	}
}

// parseTimes parses "HH:MM:SS<sep>mmm --> HH:MM:SS<sep>mmm" into
// milliseconds.
func parseTimes(line string, sep byte) (start, end int64, ok bool) {
	a, b, found := strings.Cut(line, " --> ")
	if !found {
		return 0, 0, false
	}
	start, ok1 := parseTimestamp(a, sep)
	end, ok2 := parseTimestamp(b, sep)
	return start, end, ok1 && ok2
}

func parseTimestamp(s string, sep byte) (int64, bool) {
	n := len(s)
	if n < 12 || s[n-4] != sep || s[n-7] != ':' || s[n-10] != ':' {
		return 0, false
	}
	h, err1 := strconv.ParseUint(s[:n-10], 10, 63)
	m, err2 := strconv.ParseUint(s[n-9:n-7], 10, 8)
	sec, err3 := strconv.ParseUint(s[n-6:n-4], 10, 8)
	ms, err4 := strconv.ParseUint(s[n-3:], 10, 16)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || m > 59 || sec > 59 {
		return 0, false
	}
	return int64(((h*60+m)*60+sec)*1000 + ms), true
}
