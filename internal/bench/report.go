package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Row is one figure of the report, with the figure it is compared against
// (its anchor), measured in the same run.
type Row struct {
	// Item is the benchmark the figure belongs to, such as "1 overhead".
	Item string
	// Name says what was measured.
	Name  string
	Value float64
	Unit  string
	// Anchor names the figure Value is compared with, and AnchorValue is
	// that figure (in the same unit); the ratio is Value / AnchorValue.
	// An empty Anchor means the figure stands alone.
	Anchor      string
	AnchorValue float64
	// Note holds the target, the configuration or the repetitions.
	Note string
	// Err is set when the measurement did not complete.
	Err error
}

// Ratio returns Value / AnchorValue, or NaN when the row has no anchor.
func (r Row) Ratio() float64 {
	if r.Anchor == "" || r.AnchorValue == 0 || r.Err != nil {
		return math.NaN()
	}
	return r.Value / r.AnchorValue
}

// Report collects rows from the benchmarks; it is safe for concurrent use.
type Report struct {
	mu   sync.Mutex
	rows []Row
}

// Add appends a row.
func (r *Report) Add(row Row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, row)
}

// Fail records that a measurement did not complete.
func (r *Report) Fail(item, name string, err error) {
	r.Add(Row{Item: item, Name: name, Err: err})
}

// Rows returns a copy of the rows added so far.
func (r *Report) Rows() []Row {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Row(nil), r.rows...)
}

// Failed reports how many measurements did not complete.
func (r *Report) Failed() int {
	n := 0
	for _, row := range r.Rows() {
		if row.Err != nil {
			n++
		}
	}
	return n
}

// WriteTable writes the rows as one Markdown table, grouped by item in the
// order of the items' numbers and otherwise in the order they were added.
func (r *Report) WriteTable(w io.Writer) error {
	rows := r.Rows()
	slices.SortStableFunc(rows, func(a, b Row) int {
		return strings.Compare(itemNumber(a.Item), itemNumber(b.Item))
	})
	var b strings.Builder
	b.WriteString("| item | figure | value | anchor (same run) | anchor value | ratio | note |\n")
	b.WriteString("| --- | --- | ---: | --- | ---: | ---: | --- |\n")
	for _, row := range rows {
		value, note := FormatValue(row.Value, row.Unit), row.Note
		if row.Err != nil {
			value, note = "FAILED", cell(row.Err.Error())
		}
		anchorValue, ratio := "", ""
		if row.Anchor != "" && row.Err == nil {
			anchorValue = FormatValue(row.AnchorValue, row.Unit)
			ratio = FormatValue(row.Ratio(), "x")
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", cell(row.Item),
			cell(row.Name), value, cell(row.Anchor), anchorValue, ratio, cell(note))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// itemNumber returns the first word of an item, its number.
func itemNumber(item string) string {
	first, _, _ := strings.Cut(item, " ")
	return first
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.Join(strings.Fields(s), " ")
}

// FormatValue writes v with as many decimals as its size deserves (three
// significant digits, at least the units), followed by unit; "x" is
// written without a space. NaN and infinities are "n/a".
func FormatValue(v float64, unit string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	decimals := 0
	switch a := math.Abs(v); {
	case a == 0 || a >= 100:
	case a >= 10:
		decimals = 1
	case a >= 1:
		decimals = 2
	default:
		decimals = 3
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	switch unit {
	case "":
		return s
	case "x":
		return s + "x"
	}
	return s + " " + unit
}
