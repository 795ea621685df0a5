package metricstest

import (
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

const exposition = `# HELP demo_jobs Jobs.
# TYPE demo_jobs gauge
demo_jobs{state="queued",pool="b"} 3
demo_jobs{state="running",pool="b"} 1
# TYPE demo_total counter
demo_total 7.5
# TYPE demo_seconds histogram
demo_seconds_bucket{le="0.5"} 1
demo_seconds_bucket{le="2.5"} 4
demo_seconds_bucket{le="+Inf"} 5
demo_seconds_sum 9.25
demo_seconds_count 5
`

func TestParse(t *testing.T) {
	s, err := Parse(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		`demo_jobs{pool="b",state="queued"}`:  3,
		`demo_jobs{pool="b",state="running"}`: 1,
		`demo_total`:                          7.5,
		`demo_seconds_bucket{le="0.5"}`:       1,
		`demo_seconds_bucket{le="2.5"}`:       4,
		`demo_seconds_bucket{le="+Inf"}`:      5,
		`demo_seconds_sum`:                    9.25,
		`demo_seconds_count`:                  5,
	}
	if len(s.Values) != len(want) {
		t.Errorf("got %d samples, want %d: %v", len(s.Values), len(want), s.Values)
	}
	for k, v := range want {
		if got, ok := s.Values[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	types := map[string]dto.MetricType{"demo_jobs": dto.MetricType_GAUGE,
		"demo_total": dto.MetricType_COUNTER, "demo_seconds": dto.MetricType_HISTOGRAM}
	for name, kind := range types {
		if s.Types[name] != kind {
			t.Errorf("type of %s = %v, want %v", name, s.Types[name], kind)
		}
	}
}

func TestParseRefusesBrokenInput(t *testing.T) {
	for _, in := range []string{"demo_total{ 1\n", "# TYPE x counter\nx abc\n",
		"demo 1\ndemo 2\n"} {
		if s, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, s.Values)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(exposition)
	f.Add("x{a=\"\\\"q\\\"\"} 1\n")
	f.Add("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_count 2\nh_sum NaN\n")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for key := range s.Values {
			name, _, _ := strings.Cut(key, "{")
			if name == "" {
				t.Errorf("sample key %q has no name", key)
			}
		}
	})
}
