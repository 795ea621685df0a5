// Package formats renders a transcript.Result in the response formats of
// OpenAI's transcription API: json, text, srt, verbose_json and vtt.
//
// Every non-empty body ends with a newline: the JSON bodies with the one
// newline that encoding/json's Encoder writes after a value, text after the
// text, and SRT and WebVTT with the blank line that closes each cue. SRT
// with no cues is empty; WebVTT with no cues is its header and a blank
// line.
package formats

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/asr-server/asr-server/internal/transcript"
)

// Format is the name of a response format, as the response_format field of
// a transcription request spells it.
type Format string

// The response formats.
const (
	// JSON is an object with the transcript text only: {"text":"..."}.
	JSON Format = "json"
	// Text is the plain transcript text.
	Text Format = "text"
	// SRT is SubRip subtitles.
	SRT Format = "srt"
	// VerboseJSON is an object with the text, the language, the duration,
	// the segments and, when they were asked for, the words.
	VerboseJSON Format = "verbose_json"
	// VTT is WebVTT subtitles.
	VTT Format = "vtt"
)

// all lists the formats in the order error messages name them.
var all = []Format{JSON, Text, SRT, VerboseJSON, VTT}

var (
	// ErrUnknownFormat is returned by Parse and Render for a format name
	// that is not one of the constants.
	ErrUnknownFormat = errors.New("formats: unknown response format")
	// ErrTime is returned by Render when a time in the Result is not a
	// finite number of at most MaxSeconds in absolute value.
	ErrTime = errors.New("formats: time out of range")
	// ErrOptions is returned by Render for negative Options.
	ErrOptions = errors.New("formats: invalid options")
)

// MaxSeconds bounds the times Render accepts (about 31 years), so that a
// time in milliseconds always fits an int64.
const MaxSeconds = 1e9

// Parse returns the Format named by s. The empty string means JSON, as it
// does in OpenAI's API when response_format is not given. Names are
// matched exactly; the error wraps ErrUnknownFormat and lists the accepted
// names.
func Parse(s string) (Format, error) {
	if s == "" {
		return JSON, nil
	}
	for _, f := range all {
		if s == string(f) {
			return f, nil
		}
	}
	names := make([]string, len(all))
	for i, f := range all {
		names[i] = string(f)
	}
	return "", fmt.Errorf("%w %q: accepted values are %s",
		ErrUnknownFormat, s, strings.Join(names, ", "))
}

// ContentType returns the value of the Content-Type header for a body in
// format f, or "" when f is not one of the constants.
//
// OpenAI's API answers json and verbose_json as application/json and the
// three text formats as text/plain. The same is done here except for vtt,
// which gets its registered media type text/vtt; SubRip has no registered
// type, so srt stays text/plain, which browsers and clients show as text.
func (f Format) ContentType() string {
	switch f {
	case JSON, VerboseJSON:
		return "application/json"
	case Text, SRT:
		return "text/plain; charset=utf-8"
	case VTT:
		return "text/vtt; charset=utf-8"
	}
	return ""
}

// Options shape subtitle cues (srt and vtt); other formats ignore them.
// The zero value gives one cue per segment with its text on one line.
type Options struct {
	// MaxLineWidth is the most characters (runes) on one cue line; text is
	// wrapped at spaces to fit. A word longer than this stands alone on
	// its line, unbroken. 0 means no limit.
	MaxLineWidth int
	// MaxLinesPerCue is the most lines in one cue. A segment whose wrapped
	// text has more lines is split into consecutive cues that share the
	// segment's time span in proportion to their characters. 0 means no
	// limit.
	MaxLinesPerCue int
}

// Render writes r to w in format f.
//
// json is {"text":...} and text is r.Text, each with a newline.
// verbose_json follows OpenAI's verbose response: task, language (as its
// English name, see LanguageName), duration, text, segments and, only when
// some segment has word timestamps, words. srt and vtt have one cue per
// segment with text, or several when opts split it; segments whose text
// is empty or white space give none. Subtitle times are rounded to the
// millisecond and then adjusted so that no cue starts before 0 or before
// the previous cue ends, and none ends before it starts; for segments in
// time order that do not overlap, which is what the engine produces, the
// adjustment changes nothing.
//
// For srt, vtt and verbose_json every time in r (segment and word start
// and end, and the duration) must be finite and at most MaxSeconds in
// absolute value; otherwise Render returns an error wrapping ErrTime.
// Render also fails for a nil r, an unknown f (ErrUnknownFormat) and
// negative options (ErrOptions). On any of these errors nothing is
// written: the body is built in memory and written with a single Write.
func Render(w io.Writer, r *transcript.Result, f Format, opts Options) error {
	if r == nil {
		return errors.New("formats: nil result")
	}
	if opts.MaxLineWidth < 0 || opts.MaxLinesPerCue < 0 {
		return fmt.Errorf("%w: negative limit in %+v", ErrOptions, opts)
	}
	if f == SRT || f == VTT || f == VerboseJSON {
		if err := checkTimes(r); err != nil {
			return err
		}
	}

	var b bytes.Buffer
	var err error
	switch f {
	case JSON:
		err = writeJSON(&b, r)
	case Text:
		b.WriteString(r.Text)
		b.WriteByte('\n')
	case SRT:
		writeSRT(&b, buildCues(r.Segments, opts))
	case VTT:
		writeVTT(&b, buildCues(r.Segments, opts))
	case VerboseJSON:
		err = writeVerboseJSON(&b, r)
	default:
		return fmt.Errorf("%w %q", ErrUnknownFormat, string(f))
	}
	if err != nil {
		return err
	}
	_, err = w.Write(b.Bytes())
	return err
}

// checkTimes returns an error wrapping ErrTime for the first time in r
// that is not finite or is beyond MaxSeconds.
func checkTimes(r *transcript.Result) error {
	if !validTime(r.Duration) {
		return fmt.Errorf("%w: duration %v", ErrTime, r.Duration)
	}
	for i, s := range r.Segments {
		if !validTime(s.Start) || !validTime(s.End) {
			return fmt.Errorf("%w: segment %d spans %v to %v",
				ErrTime, i, s.Start, s.End)
		}
		for j, w := range s.Words {
			if !validTime(w.Start) || !validTime(w.End) {
				return fmt.Errorf("%w: segment %d word %d spans %v to %v",
					ErrTime, i, j, w.Start, w.End)
			}
		}
	}
	return nil
}

// validTime reports whether t is finite and within ±MaxSeconds. NaN fails
// both comparisons.
func validTime(t float64) bool {
	return t >= -MaxSeconds && t <= MaxSeconds
}
