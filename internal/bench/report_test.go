package bench

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		unit string
		want string
	}{
		{1234.56, "jobs/s", "1235 jobs/s"},
		{123.4, "ms", "123 ms"},
		{12.345, "ms", "12.3 ms"},
		{1.2345, "x", "1.23x"},
		{0.01234, "s", "0.012 s"},
		{-3.5, "ms", "-3.50 ms"},
		{0, "", "0"},
		{10000, "", "10000"},
		{math.NaN(), "ms", "n/a"},
		{math.Inf(1), "x", "n/a"},
	} {
		if got := FormatValue(tc.v, tc.unit); got != tc.want {
			t.Errorf("FormatValue(%v, %q) = %q, want %q", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestWriteTable(t *testing.T) {
	var rep Report
	rep.Add(Row{Item: "3 dispatch", Name: "RQ default Worker", Value: 130, Unit: "jobs/s",
		Note: "2000 jobs"})
	rep.Add(Row{Item: "1 overhead", Name: "ours | sync", Value: 150, Unit: "ms",
		Anchor: "whisper-server", AnchorValue: 120, Note: "target <= 1.05x"})
	rep.Fail("2 throughput", "ours: 4 workers", errors.New("bench: job x ended\nfailed"))
	rep.Add(Row{Item: "3 dispatch", Name: "ours", Value: 2600, Unit: "jobs/s",
		Anchor: "RQ default Worker", AnchorValue: 130})
	var b strings.Builder
	if err := rep.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := `| item | figure | value | anchor (same run) | anchor value | ratio | note |
| --- | --- | ---: | --- | ---: | ---: | --- |
| 1 overhead | ours \| sync | 150 ms | whisper-server | 120 ms | 1.25x | target <= 1.05x |
| 2 throughput | ours: 4 workers | FAILED |  |  |  | bench: job x ended failed |
| 3 dispatch | RQ default Worker | 130 jobs/s |  |  |  | 2000 jobs |
| 3 dispatch | ours | 2600 jobs/s | RQ default Worker | 130 jobs/s | 20.0x |  |
`
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
	if rep.Failed() != 1 {
		t.Errorf("Failed() = %d, want 1", rep.Failed())
	}
}

func TestRatio(t *testing.T) {
	if r := (Row{Value: 3, Anchor: "a", AnchorValue: 2}).Ratio(); r != 1.5 {
		t.Errorf("ratio = %v, want 1.5", r)
	}
	for _, row := range []Row{
		{Value: 3},
		{Value: 3, Anchor: "a"},
		{Value: 3, Anchor: "a", AnchorValue: 2, Err: errors.New("x")},
	} {
		if r := row.Ratio(); !math.IsNaN(r) {
			t.Errorf("%+v: ratio = %v, want NaN", row, r)
		}
	}
}
