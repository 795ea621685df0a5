package engine

import (
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
}

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
			last := &res.Segments[len(res.Segments)-1]
			last.Text += " " + text
			continue
		case start >= duration:
			start, end = prevEnd, duration
		case end <= start:
			end = math.Min(duration, roundMs(start+minSpan))
		}
		res.Segments = append(res.Segments, transcript.Segment{
			ID:    len(res.Segments),
			Start: start,
			End:   end,
			Text:  text,
		})
	}
	texts := make([]string, len(res.Segments))
	for i, s := range res.Segments {
		texts[i] = s.Text
	}
	res.Text = strings.Join(texts, " ")
	return res
}

// roundMs rounds seconds to whole milliseconds, so that times like 7.23
// do not come out as 7.2299999999999995.
func roundMs(s float64) float64 { return math.Round(s*1000) / 1000 }

func clamp(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(v, hi))
}
