package formats

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"

	"github.com/asr-server/asr-server/internal/transcript"
)

// jsonBody is the json format: the text alone.
type jsonBody struct {
	Text string `json:"text"`
}

// verboseBody is the verbose_json format. Field order follows OpenAI's
// documented response.
type verboseBody struct {
	Task     string           `json:"task"`
	Language string           `json:"language"`
	Duration float64          `json:"duration"`
	Text     string           `json:"text"`
	Segments []verboseSegment `json:"segments"`
	Words    []verboseWord    `json:"words,omitempty"`
}

// verboseSegment is one element of verbose_json's segments.
type verboseSegment struct {
	ID               int     `json:"id"`
	Seek             int     `json:"seek"`
	Start            float64 `json:"start"`
	End              float64 `json:"end"`
	Text             string  `json:"text"`
	Tokens           []int   `json:"tokens"`
	Temperature      float64 `json:"temperature"`
	AvgLogprob       float64 `json:"avg_logprob"`
	CompressionRatio float64 `json:"compression_ratio"`
	NoSpeechProb     float64 `json:"no_speech_prob"`
}

// verboseWord is one element of verbose_json's words.
type verboseWord struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// writeJSON writes {"text":...} and a newline.
func writeJSON(b *bytes.Buffer, r *transcript.Result) error {
	return encode(b, jsonBody{Text: r.Text})
}

// writeVerboseJSON writes the verbose_json object and a newline.
//
// The language is written as its lower-case English name (LanguageName).
// An empty Task is written as "transcribe". Segments keep their ID, seek,
// times, text and statistics as stored (times are not rounded or adjusted
// as subtitles are); tokens are [] rather than null when there are none.
// The top-level words array, all segments' words in order with surrounding
// spaces trimmed, is present only when some segment has words.
// Statistics that are not finite (JSON has no NaN or infinity) are written
// as 0 for NaN and as ±math.MaxFloat64 for the infinities.
func writeVerboseJSON(b *bytes.Buffer, r *transcript.Result) error {
	body := verboseBody{
		Task:     r.Task,
		Language: LanguageName(r.Language),
		Duration: r.Duration,
		Text:     r.Text,
		Segments: make([]verboseSegment, len(r.Segments)),
	}
	if body.Task == "" {
		body.Task = "transcribe"
	}
	for i, s := range r.Segments {
		tokens := s.Tokens
		if tokens == nil {
			tokens = []int{}
		}
		body.Segments[i] = verboseSegment{
			ID:               s.ID,
			Seek:             s.Seek,
			Start:            s.Start,
			End:              s.End,
			Text:             s.Text,
			Tokens:           tokens,
			Temperature:      finite(s.Temperature),
			AvgLogprob:       finite(s.AvgLogprob),
			CompressionRatio: finite(s.CompressionRatio),
			NoSpeechProb:     finite(s.NoSpeechProb),
		}
		for _, w := range s.Words {
			body.Words = append(body.Words, verboseWord{
				Word:  strings.TrimSpace(w.Word),
				Start: w.Start,
				End:   w.End,
			})
		}
	}
	return encode(b, body)
}

// encode writes v as compact JSON followed by a newline. HTML characters
// are not escaped: the body is served as application/json, and <, > and &
// stay readable in the text.
func encode(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// finite maps NaN to 0 and the infinities to the largest finite values of
// the same sign, so that the number can be written as JSON.
func finite(x float64) float64 {
	switch {
	case math.IsNaN(x):
		return 0
	case math.IsInf(x, 1):
		return math.MaxFloat64
	case math.IsInf(x, -1):
		return -math.MaxFloat64
	}
	return x
}
