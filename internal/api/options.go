package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/asr-server/asr-server/internal/formats"
	"github.com/asr-server/asr-server/internal/transcript"
)

// maxPromptBytes bounds the prompt; whisper keeps only its last 224 tokens.
const maxPromptBytes = 4096

// parseOptions reads the decoding options and the response format from a
// request's fields (OpenAI's names). translation is set for
// /v1/audio/translations, which takes no language and always translates.
func parseOptions(fields url.Values, translation bool) (transcript.Options, formats.Format,
	*apiError) {
	var opts transcript.Options
	format := formats.JSON
	if v := fields.Get("response_format"); v != "" {
		f, err := formats.Parse(v)
		if err != nil {
			return opts, "", badRequest("invalid_response_format", "response_format",
				err.Error())
		}
		format = f
	}
	if lang := strings.ToLower(strings.TrimSpace(fields.Get("language"))); lang != "" &&
		lang != "auto" && !translation {
		if formats.LanguageName(lang) == lang {
			return opts, "", badRequest("invalid_language", "language",
				fmt.Sprintf("unknown language %q: give an ISO-639-1 code such as "+
					`"en" or "de", or "auto"`, lang))
		}
		opts.Language = lang
	}
	opts.Translate = translation
	opts.Prompt = fields.Get("prompt")
	if len(opts.Prompt) > maxPromptBytes {
		return opts, "", badRequest("invalid_prompt", "prompt",
			fmt.Sprintf("the prompt is longer than %d bytes", maxPromptBytes))
	}
	if v := fields.Get("temperature"); v != "" {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || !(t >= 0 && t <= 1) {
			return opts, "", badRequest("invalid_temperature", "temperature",
				"temperature must be a number from 0 to 1")
		}
		opts.Temperature = t
	}
	if v := fields.Get("vad"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return opts, "", badRequest("invalid_vad", "vad", "vad must be true or false")
		}
		opts.VAD = &on
	}
	if v := fields.Get("vad_threshold"); v != "" {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || !(t > 0 && t <= 1) {
			return opts, "", badRequest("invalid_vad_threshold", "vad_threshold",
				"vad_threshold must be a number above 0 and at most 1")
		}
		opts.VADThreshold = t
	}
	ints := []struct {
		name     string
		min, max int
		dst      *int
	}{
		{"beam_size", 1, 16, &opts.BeamSize},
		{"best_of", 1, 16, &opts.BestOf},
		{"max_segment_length", 0, 1000, &opts.MaxSegmentLength},
	}
	for _, f := range ints {
		if v := fields.Get(f.name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < f.min || n > f.max {
				return opts, "", badRequest("invalid_"+f.name, f.name,
					fmt.Sprintf("%s must be a whole number from %d to %d", f.name, f.min, f.max))
			}
			*f.dst = n
		}
	}
	if v := fields.Get("no_speech_threshold"); v != "" {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil || !(t > 0 && t <= 1) {
			return opts, "", badRequest("invalid_no_speech_threshold", "no_speech_threshold",
				"no_speech_threshold must be a number above 0 and at most 1")
		}
		opts.NoSpeechThreshold = t
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"split_on_word", &opts.SplitOnWord}, {"translate", &opts.Translate}} {
		if v := fields.Get(b.name); v != "" {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return opts, "", badRequest("invalid_"+b.name, b.name,
					b.name+" must be true or false")
			}
			*b.dst = *b.dst || on
		}
	}
	granularities := append(fields["timestamp_granularities[]"],
		fields["timestamp_granularities"]...)
	for _, g := range granularities {
		switch g {
		case "segment":
		case "word":
			opts.WordTimestamps = true
		default:
			return opts, "", badRequest("invalid_timestamp_granularities",
				"timestamp_granularities[]",
				fmt.Sprintf(`unknown timestamp granularity %q: use "segment" or "word"`, g))
		}
	}
	return opts, format, nil
}
