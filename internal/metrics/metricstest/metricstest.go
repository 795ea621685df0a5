// Package metricstest reads a Prometheus text exposition into flat
// samples, so that tests can assert exact values by name and labels.
package metricstest

import (
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one parsed exposition.
type Scrape struct {
	// Values maps each sample to its value. A sample is written as its
	// name followed, when it has labels, by {name="value",...} with the
	// labels sorted by name and each value quoted as Go quotes strings.
	// A histogram gives name_count, name_sum and name_bucket with an le
	// label per bucket, "+Inf" included.
	Values map[string]float64
	// Types maps each metric family's name to its type.
	Types map[string]dto.MetricType
}

// Parse reads a text exposition.
func Parse(r io.Reader) (*Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metricstest: parse exposition: %w", err)
	}
	s := &Scrape{Values: map[string]float64{}, Types: map[string]dto.MetricType{}}
	for name, mf := range families {
		s.Types[name] = mf.GetType()
		for _, m := range mf.GetMetric() {
			if err := s.add(name, mf.GetType(), m); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// Fetch scrapes url and parses the answer, which must be a 200.
func Fetch(url string) (*Scrape, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, fmt.Errorf("metricstest: scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("metricstest: scrape %s: status %d: %s", url, resp.StatusCode,
			body)
	}
	return Parse(resp.Body)
}

func (s *Scrape) add(name string, kind dto.MetricType, m *dto.Metric) error {
	labels := map[string]string{}
	for _, lp := range m.GetLabel() {
		labels[lp.GetName()] = lp.GetValue()
	}
	set := func(sample string, extra map[string]string, v float64) error {
		key := Key(sample, merge(labels, extra))
		if _, dup := s.Values[key]; dup {
			return fmt.Errorf("metricstest: sample %s appears twice", key)
		}
		s.Values[key] = v
		return nil
	}
	switch kind {
	case dto.MetricType_COUNTER:
		return set(name, nil, m.GetCounter().GetValue())
	case dto.MetricType_GAUGE:
		return set(name, nil, m.GetGauge().GetValue())
	case dto.MetricType_UNTYPED:
		return set(name, nil, m.GetUntyped().GetValue())
	case dto.MetricType_HISTOGRAM:
		h := m.GetHistogram()
		if err := set(name+"_count", nil, float64(h.GetSampleCount())); err != nil {
			return err
		}
		if err := set(name+"_sum", nil, h.GetSampleSum()); err != nil {
			return err
		}
		inf := false
		for _, b := range h.GetBucket() {
			inf = inf || math.IsInf(b.GetUpperBound(), 1)
			le := map[string]string{"le": formatBound(b.GetUpperBound())}
			if err := set(name+"_bucket", le, float64(b.GetCumulativeCount())); err != nil {
				return err
			}
		}
		if !inf {
			return set(name+"_bucket", map[string]string{"le": "+Inf"},
				float64(h.GetSampleCount()))
		}
		return nil
	}
	return fmt.Errorf("metricstest: %s: unsupported type %s", name, kind)
}

// Key writes a sample's name and labels as Scrape.Values spells them.
func Key(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	names := make([]string, 0, len(labels))
	for k := range labels {
		names = append(names, k)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + strconv.Quote(labels[k])
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

func merge(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

func formatBound(b float64) string {
	if math.IsInf(b, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(b, 'g', -1, 64)
}
