package redis_test

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"

	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
)

// latencyHandler records, for each message, how long it took from the
// publishing instance's Publish call to this instance's handler.
type latencyHandler struct {
	mu    sync.Mutex
	lat   []time.Duration
	count atomic.Int64
	done  chan struct{}
	want  int64
}

func (h *latencyHandler) HandleMessage(m delivery.BusMessage) {
	sent := int64(binary.BigEndian.Uint64(m.Frame))
	d := time.Duration(time.Now().UnixNano() - sent)
	h.mu.Lock()
	h.lat = append(h.lat, d)
	h.mu.Unlock()
	if h.count.Add(1) == h.want {
		close(h.done)
	}
}

func (h *latencyHandler) HandleGap() {}

// benchPair returns a publishing and a subscribed bus, two instances on
// TEST_REDIS_URL, and the subscriber's handler expecting n messages.
func benchPair(b *testing.B, n int) (*redisbus.Bus, *latencyHandler) {
	url := redistest.URL(b)
	prefix := redistest.Prefix(b)
	pub := newBus(b, redistest.Client(b, url), redisbus.Options{Prefix: prefix})
	sub := newBus(b, redistest.Client(b, url), redisbus.Options{Prefix: prefix})
	h := &latencyHandler{lat: make([]time.Duration, 0, n), done: make(chan struct{}), want: int64(n)}
	if err := sub.Start(h); err != nil {
		b.Fatal(err)
	}
	if err := pub.Start(&latencyHandler{done: make(chan struct{})}); err != nil {
		b.Fatal(err)
	}
	if err := sub.Subscribe(context.Background(), "order:1"); err != nil {
		b.Fatal(err)
	}
	return pub, h
}

// frame is a 200-byte event frame that starts with its send time.
func frame(buf []byte) []byte {
	binary.BigEndian.PutUint64(buf, uint64(time.Now().UnixNano()))
	return buf
}

func (h *latencyHandler) report(b *testing.B, elapsed time.Duration) {
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		b.Fatalf("%d of %d messages arrived", h.count.Load(), h.want)
	}
	b.StopTimer()
	h.mu.Lock()
	lat := slices.Clone(h.lat)
	h.mu.Unlock()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "msgs/s")
}

// BenchmarkCrossInstance: one publisher, one message at a time, to
// another instance through Redis: the latency of the path alone.
func BenchmarkCrossInstance(b *testing.B) {
	pub, h := benchPair(b, b.N)
	ctx := context.Background()
	buf := make([]byte, 200)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := pub.Publish(ctx, delivery.BusMessage{Channel: "order:1", Seq: 1, Frame: frame(buf)}); err != nil {
			b.Fatal(err)
		}
	}
	h.report(b, time.Since(start))
}

// BenchmarkCrossInstanceParallel: concurrent publishers (REST requests
// of one instance) to one channel of another instance: throughput, and
// latency under that load.
func BenchmarkCrossInstanceParallel(b *testing.B) {
	pub, h := benchPair(b, b.N)
	ctx := context.Background()
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 200)
		for pb.Next() {
			if err := pub.Publish(ctx, delivery.BusMessage{Channel: "order:1", Seq: 1, Frame: frame(buf)}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	h.report(b, time.Since(start))
}

// roundTrips counts the commands and pipelines a client sends: one round
// trip each.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }

func (r *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmd)
	}
}

func (r *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		r.n.Add(1)
		return next(ctx, cmds)
	}
}

// BenchmarkEventChannels: one event to its four channels (its order and
// three feeds), subscribed on another instance, published one message per
// call (as the hub did) or in one call: round trips to Redis per event,
// and the latency of a message.
func BenchmarkEventChannels(b *testing.B) {
	channels := []string{"order:1", "user:1", "user:2", "user:3"}
	for _, mode := range []string{"one-by-one", "batch"} {
		b.Run(mode, func(b *testing.B) {
			url := redistest.URL(b)
			prefix := redistest.Prefix(b)
			client := redistest.Client(b, url)
			trips := &roundTrips{}
			client.AddHook(trips)
			pub := newBus(b, client, redisbus.Options{Prefix: prefix})
			sub := newBus(b, redistest.Client(b, url), redisbus.Options{Prefix: prefix})
			h := &latencyHandler{lat: make([]time.Duration, 0, len(channels)*b.N), done: make(chan struct{}), want: int64(len(channels) * b.N)}
			if err := sub.Start(h); err != nil {
				b.Fatal(err)
			}
			if err := pub.Start(&latencyHandler{done: make(chan struct{})}); err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for _, ch := range channels {
				if err := sub.Subscribe(ctx, ch); err != nil {
					b.Fatal(err)
				}
			}
			msgs := make([]delivery.BusMessage, len(channels))
			bufs := make([][]byte, len(channels))
			for i := range bufs {
				bufs[i] = make([]byte, 200)
			}
			b.ReportAllocs()
			b.ResetTimer()
			trips.n.Store(0)
			start := time.Now()
			for range b.N {
				for i, ch := range channels {
					msgs[i] = delivery.BusMessage{Channel: ch, Seq: 1, Frame: frame(bufs[i])}
				}
				if mode == "batch" {
					if err := pub.Publish(ctx, msgs...); err != nil {
						b.Fatal(err)
					}
					continue
				}
				for _, m := range msgs {
					if err := pub.Publish(ctx, m); err != nil {
						b.Fatal(err)
					}
				}
			}
			elapsed := time.Since(start)
			b.ReportMetric(float64(trips.n.Load())/float64(b.N), "round-trips/event")
			h.report(b, elapsed)
		})
	}
}
