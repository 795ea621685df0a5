package engine

import (
	"bytes"
	"compress/zlib"
	"math"
	"strings"

	"github.com/asr-server/asr-server/internal/transcript"
)

// SampleRate is the only rate Transcribe accepts: mono samples in [-1, 1]
// at 16 kHz.
const SampleRate = 16000

// MinSamples is the shortest audio Transcribe accepts: 1.0 s. Older
// whisper.cpp releases silently return nothing for shorter input; 1.9.5
// pads it with silence and returns words that were never spoken.
const MinSamples = SampleRate

// minSpan is the time resolution of whisper.cpp's timestamps, given to a
// segment whose start and end coincide.
const minSpan = 0.01

// rawSegment is a segment as whisper.cpp reports it, in units of 10 ms.
type rawSegment struct {
	t0, t1 int64
	text   string
	tokens []rawToken
}

// rawToken is a text token of a segment. Its times are in units of 10 ms,
// or -1 when they were not computed.
type rawToken struct {
	id     int
	text   string
	plog   float64
	t0, t1 int64
}

// windowFrames is the length of whisper's 30 s window in 10 ms frames.
const windowFrames = 3000

// buildResult turns whisper.cpp's segments for audio of the given duration
// into a Result whose segments satisfy 0 <= Start < End <= Duration.
//
// whisper.cpp can place timestamps after the end of the audio (segments
// past the end of an 11 s clip have been seen ending at 27 s), because it
// decodes 30 s windows. Times are clamped to the audio; a segment that
// starts at or after the end takes the time left after the previous one,
// or, when none is left, its text joins the previous segment. Segments
// without text are dropped.
func buildResult(raw []rawSegment, duration float64) transcript.Result {
	res := transcript.Result{Duration: duration, Segments: []transcript.Segment{}}
	var tokens [][]rawToken // tokens[i] belong to res.Segments[i]
	for _, r := range raw {
		text := strings.TrimSpace(strings.ToValidUTF8(r.text, "\uFFFD"))
		if text == "" {
			continue
		}
		start := clamp(roundMs(float64(r.t0)/100), 0, duration)
		end := clamp(roundMs(float64(r.t1)/100), start, duration)
		prevEnd := 0.0
		if n := len(res.Segments); n > 0 {
			prevEnd = res.Segments[n-1].End
		}
		switch {
		case start >= duration && prevEnd >= duration && len(res.Segments) > 0:
			last := len(res.Segments) - 1
			res.Segments[last].Text += " " + text
			tokens[last] = append(tokens[last], r.tokens...)
			continue
		case start >= duration:
			start, end = prevEnd, duration
		case end <= start:
			end = math.Min(duration, roundMs(start+minSpan))
		}
		res.Segments = append(res.Segments, transcript.Segment{
			ID:    len(res.Segments),
			Seek:  int(max(r.t0, 0)/windowFrames) * windowFrames,
			Start: start,
			End:   end,
			Text:  text,
		})
		tokens = append(tokens, r.tokens)
	}
	texts := make([]string, len(res.Segments))
	for i := range res.Segments {
		seg := &res.Segments[i]
		texts[i] = seg.Text
		seg.Tokens = make([]int, len(tokens[i]))
		for j, t := range tokens[i] {
			seg.Tokens[j] = t.id
			seg.AvgLogprob += t.plog / float64(len(tokens[i]))
		}
		seg.CompressionRatio = compressionRatio(seg.Text)
		seg.Words = words(tokens[i], seg.Start, seg.End)
	}
	res.Text = strings.Join(texts, " ")
	return res
}

// compressionRatio is the size of text over its zlib-compressed size;
// decodings stuck in a loop repeat themselves and compress well.
func compressionRatio(text string) float64 {
	if text == "" {
		return 0
	}
	var buf bytes.Buffer
	zw := zlib.NewWriter(&buf)
	zw.Write([]byte(text))
	zw.Close()
	return float64(len(text)) / float64(buf.Len())
}

// words groups tokens into words: a token that starts with a space starts
// a word, any other continues the current one. Times are clamped to the
// segment's span; without token times there are no words.
func words(tokens []rawToken, start, end float64) []transcript.Word {
	var out []transcript.Word
	for _, t := range tokens {
		if t.t0 < 0 || t.t1 < 0 {
			return nil
		}
		t0 := clamp(roundMs(float64(t.t0)/100), start, end)
		t1 := clamp(roundMs(float64(t.t1)/100), t0, end)
		text := strings.ToValidUTF8(t.text, "\uFFFD")
		if len(out) == 0 || strings.HasPrefix(text, " ") {
			out = append(out, transcript.Word{Word: strings.TrimSpace(text), Start: t0, End: t1})
			continue
		}
		last := &out[len(out)-1]
		last.Word += text
		last.End = math.Max(last.End, t1)
	}
	kept := out[:0]
	for _, w := range out {
		if w.Word != "" {
			kept = append(kept, w)
		}
	}
	return kept
}

// roundMs rounds seconds to whole milliseconds, so that times like 7.23
// do not come out as 7.2299999999999995.
func roundMs(s float64) float64 { return math.Round(s*1000) / 1000 }

func clamp(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(v, hi))
}
