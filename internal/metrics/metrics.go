// Package metrics exports the Stats snapshots of the components that keep
// no metrics library (the hub, the bus, the outbox, the limits) as
// Prometheus counters and gauges read at scrape time, and names the
// buckets their histograms share.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Stats reads one component's snapshot, Read, under the metric name
// prefix Prefix ("ordercast_hub_").
type Stats[S any] struct {
	Prefix string
	Read   func() S
}

// Counter is a counter of the field v reads.
func (m Stats[S]) Counter(name, help string, v func(S) uint64) prometheus.Collector {
	return m.Labeled(name, help, nil, v)
}

// Labeled is Counter for one set of label values: several with one name,
// one help and the same label names make one metric
// (shed_total{class="location"}, shed_total{class="typing"}, ...).
func (m Stats[S]) Labeled(name, help string, labels prometheus.Labels, v func(S) uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.Prefix + name, Help: help, ConstLabels: labels},
		func() float64 { return float64(v(m.Read())) })
}

// Gauge is a gauge of the value v reads.
func (m Stats[S]) Gauge(name, help string, v func(S) float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.Prefix + name, Help: help},
		func() float64 { return v(m.Read()) })
}

// LatencyBuckets are the buckets of the durations of a network or store
// call, in seconds: 100 µs to 10 s.
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}
