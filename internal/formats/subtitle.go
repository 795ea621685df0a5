package formats

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/asr-server/asr-server/internal/transcript"
)

// cue is one subtitle: a time span in milliseconds and its text lines.
type cue struct {
	start, end int64
	lines      []string
}

// buildCues turns segments into subtitle cues.
//
// A segment's text is split into words at white space other than the
// no-break spaces, so line breaks, tabs and runs of spaces in the text
// become single spaces, and a segment with no words gives no cue. The
// words are wrapped to opts.MaxLineWidth and, when there are more lines
// than opts.MaxLinesPerCue, grouped into cues of that many lines (the last
// may have fewer).
//
// Times are rounded to whole milliseconds, and then made monotonic: a
// segment never starts before the previous cue ends (nor before 0), and
// every cue lasts at least a millisecond, as WebVTT requires an end after
// the start. The cues of a split segment divide its span
// in proportion to their character counts, the first starting at the
// segment's start and the last ending at its end, each ending where the
// next begins. Word timestamps are not used for the split: the words of
// Segment.Words need not match the segment's text word for word.
func buildCues(segs []transcript.Segment, opts Options) []cue {
	var cues []cue
	var prevEnd int64
	for _, s := range segs {
		words := strings.FieldsFunc(s.Text, isBreakSpace)
		if len(words) == 0 {
			continue
		}
		lines := wrap(words, opts.MaxLineWidth)
		n := 1
		if opts.MaxLinesPerCue > 0 {
			n = (len(lines) + opts.MaxLinesPerCue - 1) / opts.MaxLinesPerCue
		}
		start := max(millis(s.Start), prevEnd)
		end := max(millis(s.End), start+int64(n))
		cues = appendSplit(cues, lines, opts.MaxLinesPerCue, start, end)
		prevEnd = end
	}
	return cues
}

// appendSplit appends the cues of one segment spanning start to end whose
// text is lines, at most perCue lines per cue (0: all in one).
func appendSplit(cues []cue, lines []string, perCue int, start, end int64) []cue {
	if perCue == 0 || len(lines) <= perCue {
		return append(cues, cue{start: start, end: end, lines: lines})
	}

	// Count the characters of the whole segment, then cut its span at the
	// cumulative character count of each group of lines.
	total := 0
	for _, l := range lines {
		total += utf8.RuneCountInString(l)
	}
	span := float64(end - start)
	done := 0
	from := start
	for i := 0; i < len(lines); i += perCue {
		group := lines[i:min(i+perCue, len(lines))]
		for _, l := range group {
			done += utf8.RuneCountInString(l)
		}
		to := start + int64(math.Round(span*float64(done)/float64(total)))
		left := int64((len(lines) - i - 1) / perCue) // cues after this one
		to = min(max(to, from+1), end-left)
		if i+perCue >= len(lines) {
			to = end
		}
		cues = append(cues, cue{start: from, end: to, lines: group})
		from = to
	}
	return cues
}

// wrap joins words with single spaces into lines of at most width runes,
// greedily. A word longer than width gets a line of its own. A width of 0
// gives one line.
func wrap(words []string, width int) []string {
	if width == 0 {
		return []string{strings.Join(words, " ")}
	}
	var lines []string
	var line strings.Builder
	n := 0 // runes in line
	for _, w := range words {
		wn := utf8.RuneCountInString(w)
		if n > 0 && n+1+wn > width {
			lines = append(lines, line.String())
			line.Reset()
			n = 0
		}
		if n > 0 {
			line.WriteByte(' ')
			n++
		}
		line.WriteString(w)
		n += wn
	}
	return append(lines, line.String())
}

// isBreakSpace reports whether r separates words: white space other than
// the no-break spaces, which stay inside a word.
func isBreakSpace(r rune) bool {
	switch r {
	case '\u00a0', '\u2007', '\u202f':
		return false
	}
	return unicode.IsSpace(r)
}

// millis rounds t seconds to the nearest millisecond. Render has checked
// that t is within ±MaxSeconds.
func millis(t float64) int64 {
	return int64(math.Round(t * 1000))
}

// timestamp formats ms as HH:MM:SS followed by sep and three digits of
// milliseconds. Minutes and seconds stay below 60; hours take as many
// digits as they need, at least two.
func timestamp(ms int64, sep byte) string {
	h, m, s := ms/3_600_000, ms/60_000%60, ms/1000%60
	return fmt.Sprintf("%02d:%02d:%02d%c%03d", h, m, s, sep, ms%1000)
}

// writeSRT writes cues as SubRip: each cue is its number (from 1), a
// "HH:MM:SS,mmm --> HH:MM:SS,mmm" line, its text lines and a blank line.
// The text is written as it is; SubRip has no escapes.
func writeSRT(b *bytes.Buffer, cues []cue) {
	for i, c := range cues {
		fmt.Fprintf(b, "%d\n%s --> %s\n",
			i+1, timestamp(c.start, ','), timestamp(c.end, ','))
		for _, l := range c.lines {
			b.WriteString(l)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
}

// writeVTT writes cues as WebVTT: the "WEBVTT" line and a blank line, then
// for each cue a "HH:MM:SS.mmm --> HH:MM:SS.mmm" line, its text lines and
// a blank line. Cues have no identifiers. In the text, &, < and > are
// written as &amp;, &lt; and &gt;, which also keeps "-->" out of it.
func writeVTT(b *bytes.Buffer, cues []cue) {
	b.WriteString("WEBVTT\n\n")
	for _, c := range cues {
		fmt.Fprintf(b, "%s --> %s\n", timestamp(c.start, '.'), timestamp(c.end, '.'))
		for _, l := range c.lines {
			vttEscaper.WriteString(b, l)
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
	}
}

// vttEscaper replaces the characters WebVTT cue text reserves.
var vttEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
