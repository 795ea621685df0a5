package engine

import (
	"reflect"
	"testing"

	"github.com/asr-server/asr-server/internal/transcript"
)

func TestBuildResult(t *testing.T) {
	seg := func(id int, start, end float64, text string) transcript.Segment {
		return transcript.Segment{ID: id, Start: start, End: end, Text: text}
	}
	for _, tc := range []struct {
		name string
		raw  []rawSegment
		want []transcript.Segment
		text string
	}{
		{"none", nil, []transcript.Segment{}, ""},
		{
			"in range, trimmed",
			[]rawSegment{{0, 250, " hello "}, {250, 900, " world"}},
			[]transcript.Segment{seg(0, 0, 2.5, "hello"), seg(1, 2.5, 9, "world")},
			"hello world",
		},
		{
			"end past the audio",
			[]rawSegment{{56, 2740, " a"}},
			[]transcript.Segment{seg(0, 0.56, 11, "a")},
			"a",
		},
		{
			"start past the audio takes the rest",
			[]rawSegment{{0, 500, " a"}, {1200, 1400, " b"}},
			[]transcript.Segment{seg(0, 0, 5, "a"), seg(1, 5, 11, "b")},
			"a b",
		},
		{
			"nothing left joins the previous segment",
			[]rawSegment{{0, 1500, " a"}, {1200, 1400, " b"}},
			[]transcript.Segment{seg(0, 0, 11, "a b")},
			"a b",
		},
		{
			"first segment past the audio",
			[]rawSegment{{1200, 1300, " a"}},
			[]transcript.Segment{seg(0, 0, 11, "a")},
			"a",
		},
		{
			"zero length",
			[]rawSegment{{722, 722, " a"}},
			[]transcript.Segment{seg(0, 7.22, 7.23, "a")},
			"a",
		},
		{
			"negative and reversed times",
			[]rawSegment{{-5, -1, " a"}},
			[]transcript.Segment{seg(0, 0, 0.01, "a")},
			"a",
		},
		{
			"empty text dropped",
			[]rawSegment{{0, 100, "  "}, {100, 200, " b"}},
			[]transcript.Segment{seg(0, 1, 2, "b")},
			"b",
		},
		{
			"invalid UTF-8 replaced",
			[]rawSegment{{0, 100, " caf\xc3"}},
			[]transcript.Segment{seg(0, 0, 1, "caf\uFFFD")},
			"caf\uFFFD",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := buildResult(tc.raw, 11)
			if !reflect.DeepEqual(res.Segments, tc.want) {
				t.Errorf("segments = %+v, want %+v", res.Segments, tc.want)
			}
			if res.Text != tc.text || res.Duration != 11 {
				t.Errorf("text %q duration %v, want %q 11", res.Text, res.Duration, tc.text)
			}
		})
	}
}
