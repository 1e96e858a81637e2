package hub

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// discardConn is a socket that takes every write at once: the benchmarks
// measure the hub, not the kernel.
type discardConn struct {
	net.Conn // nil: only the methods below are used
	written  atomic.Int64
	writes   atomic.Int64
}

func (d *discardConn) Write(p []byte) (int, error) {
	d.written.Add(int64(len(p)))
	d.writes.Add(1)
	return len(p), nil
}
func (d *discardConn) SetWriteDeadline(time.Time) error { return nil }
func (d *discardConn) Close() error                     { return nil }

type noStore struct{}

func (noStore) OrderByID(context.Context, delivery.ID) (delivery.Order, error) {
	return delivery.Order{}, delivery.Errorf(delivery.ENOTFOUND, "none")
}
func (noStore) EventsAfter(context.Context, delivery.ID, int64, int) ([]delivery.Event, error) {
	return nil, nil
}

type noTokens struct{}

func (noTokens) Verify(string) (auth.Claims, error) {
	return auth.Claims{}, delivery.Errorf(delivery.EUNAUTHORIZED, "no")
}

// benchHub returns a hub with n socket-less clients subscribed to channel.
func benchHub(b *testing.B, n int, channel string) (*Hub, *discardConn) {
	cfg := testConfig(b, noStore{}, memory.New())
	// Deep queues: the publishing loop outruns the writers by design.
	cfg.Limits = Limits{SendQueueFrames: 1 << 20, SendQueueBytes: 1 << 40}
	h, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Shutdown(context.Background()) })
	dc := &discardConn{}
	ch, err := wire.ParseChannel(channel)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		c := &client{hub: h, t: &wsConn{raw: dc, w: &rawWriter{raw: dc, timeout: time.Minute}}}
		if _, err := h.subscribe(c, channel, ch, 0, nil); err != nil {
			b.Fatal(err)
		}
	}
	return h, dc
}

// BenchmarkFanout publishes one ephemeral event to a channel with many
// local subscribers and waits until every socket got it: encode once, one
// bus message, n queue appends, and the writers' batched writes.
func BenchmarkFanout(b *testing.B) {
	data := []byte(`{"id":"42","status":"accepted","restaurant_id":"3","total_cents":1850,"delivery_address":"1 Main St"}`)
	for _, n := range []int{1, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			h, dc := benchHub(b, n, wire.DispatchChannel)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := h.cfg.Publisher.Publish(ctx, delivery.Publication{Channel: wire.DispatchChannel, Event: "order.offered", Data: data}); err != nil {
					b.Fatal(err)
				}
			}
			want := uint64(b.N) * uint64(n)
			for h.stats.written.Load() < want {
				runtime.Gosched()
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
			b.ReportMetric(float64(elapsed.Nanoseconds())/float64(want), "ns/delivery")
			b.ReportMetric(float64(want)/float64(dc.writes.Load()), "frames/write")
		})
	}
}

// BenchmarkFeedFanout publishes durable events of many orders to one feed
// channel with n subscribers (a restaurant's staff): "named" frames name
// their order, so each subscription checks it has not been given
// (order, seq) before; "unnamed" ones skip that check, as every feed
// frame did before: the difference is its cost.
func BenchmarkFeedFanout(b *testing.B) {
	data := []byte(`{"id":"42","status":"accepted","restaurant_id":"3","total_cents":1850}`)
	for _, named := range []bool{false, true} {
		for _, n := range []int{1, 10} {
			b.Run(fmt.Sprintf("named=%v/subscribers=%d", named, n), func(b *testing.B) {
				h, _ := benchHub(b, n, "restaurant:3")
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					pub := delivery.Publication{Channel: "restaurant:3", Event: "order.status", Data: data, Seq: int64(i/100 + 1)}
					if named {
						pub.Order = delivery.ID(i%100 + 1) // 100 orders, their seqs in turn
					}
					if err := h.cfg.Publisher.Publish(ctx, pub); err != nil {
						b.Fatal(err)
					}
				}
				want := uint64(b.N) * uint64(n)
				for h.stats.written.Load() < want {
					runtime.Gosched()
				}
				elapsed := time.Since(start)
				b.StopTimer()
				b.ReportMetric(float64(elapsed.Nanoseconds())/float64(want), "ns/delivery")
			})
		}
	}
}

// BenchmarkEncodeEvent is the one encoding of an event per channel, in
// the slice that every socket then shares.
func BenchmarkEncodeEvent(b *testing.B) {
	data := []byte(`{"id":"42","status":"accepted","seq":18,"customer_id":"7","restaurant_id":"3","courier_id":null,"items":[{"menu_item_id":"1","name":"Pizza","quantity":1,"price_cents":1250}],"total_cents":1850,"delivery_address":"1 Main St"}`)
	b.ReportAllocs()
	for b.Loop() {
		_ = encodeEvent("order:42", "order.status", 18, data, 1732406400123)
	}
}

// BenchmarkWriteFrames is one writer batch of 16 queued frames: headers
// and payloads coalesced into one write from a pooled buffer.
func BenchmarkWriteFrames(b *testing.B) {
	dc := &discardConn{}
	t := &wsConn{raw: dc, w: &rawWriter{raw: dc, timeout: time.Minute}}
	frame := encodeEvent("order:42", "order.status", 18, []byte(`{"status":"accepted"}`), 1)
	batch := make([][]byte, 16)
	for i := range batch {
		batch[i] = frame
	}
	b.ReportAllocs()
	b.SetBytes(int64(16 * len(frame)))
	for b.Loop() {
		if err := t.writeFrames(batch, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleSocketFrame is one frame for an idle websocket over
// loopback, as a position a second is for its watchers, up to its
// arrival at the peer: written by its sender at once ("at-once"), or by a
// writer goroutine started for it ("writer", as every frame was before).
func BenchmarkIdleSocketFrame(b *testing.B) {
	for _, atOnce := range []bool{true, false} {
		name := "at-once"
		if !atOnce {
			name = "writer"
		}
		b.Run(name, func(b *testing.B) {
			e := newDirectEnv(b, 0)
			var c *client
			e.h.mu.Lock()
			for c = range e.h.clients {
			}
			e.h.mu.Unlock()
			if !atOnce {
				w := c.t.(*wsConn).w
				w.mu.Lock()
				w.rc = nil // writeNow and pingNow need it: the writer writes every frame
				w.mu.Unlock()
			}
			data := []byte(`{"courier_id":"3","lat":52.5201,"lng":13.4049,"ts":1732406400000}`)
			b.ReportAllocs()
			for b.Loop() {
				c.mu.Lock()
				c.wroteAt = 0 // the last frame a second ago
				c.mu.Unlock()
				e.publish(data)
				e.read()
			}
			st := e.h.Stats()
			b.ReportMetric(float64(st.Writers)/float64(b.N), "writers/op")
		})
	}
}

// BenchmarkOwnStack is what serving a client frame on a goroutine of its
// own costs (onOwnStack: a start, a wait, a wake-up at its end), which
// positions no longer pay (dispatch), against a plain call.
func BenchmarkOwnStack(b *testing.B) {
	var n atomic.Int64
	work := func() { n.Add(1) }
	b.Run("own-stack", func(b *testing.B) {
		for b.Loop() {
			onOwnStack(work)
		}
	})
	b.Run("inline", func(b *testing.B) {
		for b.Loop() {
			work()
		}
	})
}
