package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/metrics/metricstest"
)

// metrics scrapes the instance's /metrics.
func (e *testEnv) metrics() metricstest.Families {
	e.t.Helper()
	return metricstest.Scrape(e.t, e.URL+"/metrics")
}

// expectMetric fails the test unless the counter or gauge name with
// labels (name, value pairs) reads want now.
func (e *testEnv) expectMetric(want float64, name string, labels ...string) {
	e.t.Helper()
	if got := e.metrics().Value(name, labels...); got != want {
		e.t.Errorf("%s: %v, want %v", series(name, labels), got, want)
	}
}

// waitMetric waits until the counter or gauge name with labels reads
// want: for what is counted after the client saw it (a connection's end).
func (e *testEnv) waitMetric(want float64, name string, labels ...string) {
	e.t.Helper()
	metricstest.WaitFor(e.t, e.URL+"/metrics", fmt.Sprintf("%s of %v", series(name, labels), want), func(f metricstest.Families) bool {
		return f.Value(name, labels...) == want
	})
}

func series(name string, labels []string) string {
	var b strings.Builder
	for i := 0; i+1 < len(labels); i += 2 {
		fmt.Fprintf(&b, "%s=%q,", labels[i], labels[i+1])
	}
	return name + "{" + strings.TrimSuffix(b.String(), ",") + "}"
}

// The names of the series the tests of each event read.
const (
	connsOpened    = "ordercast_hub_connections_opened_total"
	connsClosed    = "ordercast_hub_connections_closed_total"
	refusals       = "ordercast_handshake_refusals_total"
	limitRefusals  = "ordercast_limit_refusals_total"
	sendQueue      = "ordercast_hub_send_queue_frames"
	replayEvents   = "ordercast_hub_replay_events"
	storeDurations = "ordercast_store_query_duration_seconds"
	outboxLag      = "ordercast_outbox_lag_seconds"
)

// Every store call is timed under its method's name.
func TestMetricsTimeStoreCallsByMethod(t *testing.T) {
	e := newTestEnv(t)
	e.register(delivery.RoleCustomer)
	e.register(delivery.RoleCustomer)
	e.must(http.StatusOK, "GET", "/readyz", "", nil)
	f := e.metrics()
	if h := f.Histogram(storeDurations, "op", "CreateUser"); h.GetSampleCount() != 2 || h.GetSampleSum() <= 0 {
		t.Errorf("CreateUser: %d calls in %vs, want 2 in some time", h.GetSampleCount(), h.GetSampleSum())
	}
	if h := f.Histogram(storeDurations, "op", "Ping"); h.GetSampleCount() != 1 {
		t.Errorf("Ping: %d calls, want 1 (the readiness probe's)", h.GetSampleCount())
	}
	if h := f.Histogram(storeDurations, "op", "PlaceOrder"); h != nil {
		t.Errorf("a series for a method the store does not have: %v", h)
	}
}

// The outbox lag is the age of the oldest unpublished event: 0 while
// every commit is published, growing while one is not, 0 again once it
// is.
func TestMetricsOutboxLag(t *testing.T) {
	e := newTestEnv(t, func(cfg *app.Config) { cfg.Outbox.Grace = time.Hour }) // no relay meanwhile
	w := e.newWorld()
	o := e.place(w) // published by its committer, then marked
	e.waitMetric(0, outboxLag)
	// Committed past the service: nobody publishes it.
	_, ev, err := e.Store.UpdateOrder(context.Background(), o.ID, func(*delivery.Order) (delivery.Change, error) {
		return delivery.Change{Type: "test.step"}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	first := metricstest.WaitFor(t, e.URL+"/metrics", "a lag", func(f metricstest.Families) bool { return f.Value(outboxLag) > 0 }).Value(outboxLag)
	metricstest.WaitFor(t, e.URL+"/metrics", "a growing lag", func(f metricstest.Families) bool { return f.Value(outboxLag) > first })
	if err := e.Store.MarkPublished(context.Background(), []delivery.Event{ev}); err != nil {
		t.Fatal(err)
	}
	e.expectMetric(0, outboxLag)
}
