package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ordercast/ordercast/internal/bus/bustest"
	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/metrics/metricstest"
)

// timedBus is a bus on url whose publish and receive times go to
// histograms of a registry of its own.
func timedBus(t *testing.T, url, prefix string) (*redisbus.Bus, *bustest.Recorder, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	publish := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "publish_seconds"})
	receive := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "receive_seconds"})
	reg.MustRegister(publish, receive)
	b := newBus(t, redistest.Client(t, url), redisbus.Options{Prefix: prefix, PublishSeconds: publish, ReceiveSeconds: receive})
	rec := bustest.NewRecorder()
	if err := b.Start(rec); err != nil {
		t.Fatal(err)
	}
	return b, rec, reg
}

// A Publish is timed once, however many messages it carries; each
// message from another instance is timed as it is handed to the handler,
// and a bus's own echoes are not.
func TestPublishAndReceiveAreTimed(t *testing.T) {
	url := redistest.URL(t)
	prefix := redistest.Prefix(t)
	pub, _, pubReg := timedBus(t, url, prefix)
	sub, rec, subReg := timedBus(t, url, prefix)
	ctx := context.Background()
	for _, b := range []*redisbus.Bus{pub, sub} {
		if err := b.Subscribe(ctx, "order:1"); err != nil {
			t.Fatal(err)
		}
	}
	one := delivery.BusMessage{Channel: "order:1", Seq: 1, Frame: []byte(`{"n":1}`)}
	if err := pub.Publish(ctx, one); err != nil {
		t.Fatal(err)
	}
	two, three := one, one
	two.Seq, three.Seq = 2, 3
	if err := pub.Publish(ctx, two, three); err != nil {
		t.Fatal(err)
	}
	rec.WaitCount(t, "order:1", 3)
	p, s := metricstest.Gather(t, pubReg), metricstest.Gather(t, subReg)
	if n := p.Histogram("publish_seconds").GetSampleCount(); n != 2 {
		t.Errorf("publisher: %d publishes timed, want 2", n)
	}
	if n := s.Histogram("receive_seconds").GetSampleCount(); n != 3 {
		t.Errorf("subscriber: %d receives timed, want 3", n)
	}
	if h := s.Histogram("receive_seconds"); h.GetSampleSum() <= 0 {
		t.Errorf("subscriber: receives took %vs in all", h.GetSampleSum())
	}
	// The publisher got its own messages locally, not from Redis: the
	// echoes Redis sends it back are not receives.
	deadline := time.Now().Add(10 * time.Second)
	for pub.Stats().Echoes < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("publisher: %d echoes after 10s, want 3", pub.Stats().Echoes)
		}
		time.Sleep(5 * time.Millisecond) // polling a counter: no event to wait on
	}
	if n := metricstest.Gather(t, pubReg).Histogram("receive_seconds").GetSampleCount(); n != 0 {
		t.Errorf("publisher: %d receives timed, want 0", n)
	}
	if n := metricstest.Gather(t, subReg).Histogram("publish_seconds").GetSampleCount(); n != 0 {
		t.Errorf("subscriber: %d publishes timed, want 0", n)
	}
}
