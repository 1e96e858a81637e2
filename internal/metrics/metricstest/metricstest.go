// Package metricstest reads what an instance exports at /metrics, for
// tests: scrape, find a sample by its labels, wait for a condition.
package metricstest

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape gets url (an instance's /metrics) and parses it.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// Gather reads the registry g, as a scrape would.
func Gather(t testing.TB, g prometheus.Gatherer) Families {
	t.Helper()
	list, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := Families{}
	for _, f := range list {
		fams[f.GetName()] = f
	}
	return fams
}

// Sample is the sample of the metric name whose labels include labels
// (name, value pairs), or nil.
func (f Families) Sample(name string, labels ...string) *dto.Metric {
	fam := f[name]
	if fam == nil {
		return nil
	}
	for _, m := range fam.GetMetric() {
		if hasLabels(m, labels) {
			return m
		}
	}
	return nil
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Value is the value of the counter or gauge name with labels; -1 when
// there is no such sample.
func (f Families) Value(name string, labels ...string) float64 {
	m := f.Sample(name, labels...)
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	}
	return m.GetUntyped().GetValue()
}

// Histogram is the histogram name with labels; nil when there is none.
func (f Families) Histogram(name string, labels ...string) *dto.Histogram {
	return f.Sample(name, labels...).GetHistogram()
}

// Above is how many observations of h exceeded bound, which must be one
// of its buckets' upper bounds; 0 for no histogram (nil).
func Above(h *dto.Histogram, bound float64) uint64 {
	if h == nil {
		return 0
	}
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == bound {
			return h.GetSampleCount() - b.GetCumulativeCount()
		}
	}
	panic("metricstest: no bucket with upper bound " + model.SampleValue(bound).String())
}

// WaitFor scrapes url until cond holds, failing the test after 10 s with
// what it waited for.
func WaitFor(t testing.TB, url, what string, cond func(Families) bool) Families {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f := Scrape(t, url)
		if cond(f) {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics: no %s within 10s", what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a bounded wait
	}
}
