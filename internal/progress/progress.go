// Package progress draws progress bars on a terminal: one line per task,
// redrawn in place with ANSI cursor movement. It draws nothing but what
// it is told; whether the output is a terminal is the caller's decision.
package progress

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Terminal control sequences: move the cursor up n lines, and clear the
// line the cursor is on.
const (
	cursorUp  = "\x1b[%dA"
	clearLine = "\r\x1b[2K"
)

// Layout bounds of a line.
const (
	minLabel   = 8
	maxLabel   = 32
	stageWidth = 12
	minBar     = 10
	maxBar     = 40
)

// DefaultInterval is the shortest time between two redraws caused by
// changes of numbers only; a change of stage redraws at once.
const DefaultInterval = 100 * time.Millisecond

// Display is a set of bars drawn together. Its methods and those of its
// bars are safe for concurrent use.
type Display struct {
	mu    sync.Mutex
	w     io.Writer
	width func() int
	bars  []*Bar
	drawn int // lines drawn by the last render
	last  time.Time
	// Interval is the shortest time between redraws of changed numbers.
	Interval time.Duration
	// Now is the clock; tests may replace it.
	Now func() time.Time
}

// New returns a Display that draws on w, a terminal whose width in
// columns width returns (called at each redraw; 0 or less means 80).
func New(w io.Writer, width func() int) *Display {
	return &Display{w: w, width: width, Interval: DefaultInterval, Now: time.Now}
}

// Bar is one line of a Display: a label, a stage and either a fraction
// (drawn as a bar) or a note.
type Bar struct {
	d      *Display
	label  string
	stage  string
	cur    int64
	total  int64
	bytes  bool
	note   string
	hasBar bool
}

// Add appends a bar with the given label; it shows nothing but the label
// until it is set.
func (d *Display) Add(label string) *Bar {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := &Bar{d: d, label: sanitize(label)}
	d.bars = append(d.bars, b)
	return b
}

// Bytes shows stage with cur of total bytes done.
func (b *Bar) Bytes(stage string, cur, total int64) {
	b.update(stage, func() {
		b.cur, b.total, b.bytes, b.hasBar, b.note = cur, total, true, true, ""
	})
}

// Percent shows stage with a bar at percent (0 to 100).
func (b *Bar) Percent(stage string, percent int) {
	b.update(stage, func() {
		b.cur, b.total, b.bytes, b.hasBar, b.note = int64(percent), 100, false, true, ""
	})
}

// Note shows stage with a note instead of a bar.
func (b *Bar) Note(stage, note string) {
	b.update(stage, func() { b.hasBar, b.note = false, sanitize(note) })
}

func (b *Bar) update(stage string, set func()) {
	d := b.d
	d.mu.Lock()
	defer d.mu.Unlock()
	stage = sanitize(stage)
	changed := b.stage != stage
	b.stage = stage
	set()
	now := d.Now()
	if changed || now.Sub(d.last) >= d.Interval {
		d.renderLocked(now)
	}
}

// Render redraws every bar now.
func (d *Display) Render() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.renderLocked(d.Now())
}

// TODO(progress): bars beyond the terminal's height scroll away and are
// drawn again below; show only as many as fit, with a summary line.
func (d *Display) renderLocked(now time.Time) {
	d.last = now
	width := 80
	if d.width != nil {
		if w := d.width(); w > 0 {
			width = w
		}
	}
	labelWidth := minLabel
	for _, b := range d.bars {
		labelWidth = max(labelWidth, min(utf8.RuneCountInString(b.label), maxLabel))
	}
	var out strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&out, cursorUp, d.drawn)
	}
	for _, b := range d.bars {
		out.WriteString(clearLine)
		out.WriteString(b.line(width-1, labelWidth))
		out.WriteByte('\n')
	}
	d.drawn = len(d.bars)
	io.WriteString(d.w, out.String())
}

// line renders the bar in at most width columns.
func (b *Bar) line(width, labelWidth int) string {
	s := pad(b.label, labelWidth) + "  " + pad(b.stage, stageWidth)
	switch {
	case b.hasBar:
		frac := 0.0
		if b.total > 0 {
			frac = min(max(float64(b.cur)/float64(b.total), 0), 1)
		}
		suffix := fmt.Sprintf(" %3d%%", int(frac*100))
		if b.bytes {
			suffix += "  " + Bytes(b.cur)
			if b.total > 0 {
				suffix += " / " + Bytes(b.total)
			}
		}
		barWidth := min(max(width-utf8.RuneCountInString(s)-len(suffix)-4, minBar), maxBar)
		filled := int(frac * float64(barWidth))
		s += "  [" + strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled) +
			"]" + suffix
	case b.note != "":
		s += "  " + b.note
	}
	return truncate(strings.TrimRight(s, " "), width)
}

// Bytes formats a byte count with a binary unit, e.g. "1.5 MiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// sanitize replaces control characters, so that a label (a file name,
// which may hold anything) cannot move the cursor or change colours.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == utf8.RuneError {
			return '?'
		}
		return r
	}, s)
}

// pad pads s with spaces to n runes, or shortens it to n runes with an
// ellipsis in the middle.
func pad(s string, n int) string {
	c := utf8.RuneCountInString(s)
	if c <= n {
		return s + strings.Repeat(" ", n-c)
	}
	r := []rune(s)
	head := (n - 1) / 2
	return string(r[:head]) + "…" + string(r[len(r)-(n-1-head):])
}

// truncate cuts s to at most n runes.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
