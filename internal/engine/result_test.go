package engine

import (
	"reflect"
	"strings"
	"testing"

	"github.com/asr-server/asr-server/internal/transcript"
)

func TestBuildResult(t *testing.T) {
	seg := func(id int, start, end float64, text string) transcript.Segment {
		return transcript.Segment{ID: id, Start: start, End: end, Text: text, Tokens: []int{},
			CompressionRatio: compressionRatio(text)}
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
			[]rawSegment{{t0: 0, t1: 250, text: " hello "}, {t0: 250, t1: 900, text: " world"}},
			[]transcript.Segment{seg(0, 0, 2.5, "hello"), seg(1, 2.5, 9, "world")},
			"hello world",
		},
		{
			"end past the audio",
			[]rawSegment{{t0: 56, t1: 2740, text: " a"}},
			[]transcript.Segment{seg(0, 0.56, 11, "a")},
			"a",
		},
		{
			"start past the audio takes the rest",
			[]rawSegment{{t0: 0, t1: 500, text: " a"}, {t0: 1200, t1: 1400, text: " b"}},
			[]transcript.Segment{seg(0, 0, 5, "a"), seg(1, 5, 11, "b")},
			"a b",
		},
		{
			"nothing left joins the previous segment",
			[]rawSegment{{t0: 0, t1: 1500, text: " a"}, {t0: 1200, t1: 1400, text: " b"}},
			[]transcript.Segment{seg(0, 0, 11, "a b")},
			"a b",
		},
		{
			"first segment past the audio",
			[]rawSegment{{t0: 1200, t1: 1300, text: " a"}},
			[]transcript.Segment{seg(0, 0, 11, "a")},
			"a",
		},
		{
			"zero length",
			[]rawSegment{{t0: 722, t1: 722, text: " a"}},
			[]transcript.Segment{seg(0, 7.22, 7.23, "a")},
			"a",
		},
		{
			"negative and reversed times",
			[]rawSegment{{t0: -5, t1: -1, text: " a"}},
			[]transcript.Segment{seg(0, 0, 0.01, "a")},
			"a",
		},
		{
			"empty text dropped",
			[]rawSegment{{t0: 0, t1: 100, text: "  "}, {t0: 100, t1: 200, text: " b"}},
			[]transcript.Segment{seg(0, 1, 2, "b")},
			"b",
		},
		{
			"invalid UTF-8 replaced",
			[]rawSegment{{t0: 0, t1: 100, text: " caf\xc3"}},
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

func TestBuildResultTokensAndWords(t *testing.T) {
	raw := []rawSegment{{t0: 3000, t1: 3200, text: " Hello, world", tokens: []rawToken{
		{id: 7, text: " Hello", plog: -0.5, t0: 3000, t1: 3050},
		{id: 8, text: ",", plog: -1.0, t0: 3050, t1: 3060},
		{id: 9, text: " world", plog: -1.5, t0: 3090, t1: 3250},
	}}}
	res := buildResult(raw, 31.5)
	if len(res.Segments) != 1 {
		t.Fatalf("segments: %+v", res.Segments)
	}
	s := res.Segments[0]
	if !reflect.DeepEqual(s.Tokens, []int{7, 8, 9}) || s.AvgLogprob != -1.0 || s.Seek != 3000 {
		t.Errorf("tokens %v, avg logprob %v, seek %d", s.Tokens, s.AvgLogprob, s.Seek)
	}
	want := []transcript.Word{{Word: "Hello,", Start: 30, End: 30.6}, {Word: "world",
		Start: 30.9, End: 31.5}}
	if !reflect.DeepEqual(s.Words, want) {
		t.Errorf("words %+v, want %+v", s.Words, want)
	}
	if got := compressionRatio(strings.Repeat("la ", 100)); got < 2 {
		t.Errorf("compression ratio of repetitive text %v, want over 2", got)
	}
	raw[0].tokens[1].t0 = -1
	if w := buildResult(raw, 31.5).Segments[0].Words; w != nil {
		t.Errorf("words without token times: %+v", w)
	}
}
