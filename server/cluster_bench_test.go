package server_test

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/wire"
)

// BenchmarkClusterWebsocket: an event published by instance a's hub
// reaches a websocket client connected to instance b, through real Redis:
// hub encoding, Redis, b's fan-out and socket write, the client's read.
// Needs PostgreSQL and Redis. Latency percentiles and throughput are
// reported; the figures are in docs/scaling.md.
func BenchmarkClusterWebsocket(b *testing.B) {
	c := newCluster(b, 2)
	a, bb := c.start(0, instanceOpts{}), c.start(1, instanceOpts{})
	w := a.newWorld()
	feed := wire.UserChannel(w.Customer.User.ID)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+bb.URL[len("http"):]+"/ws?access_token="+w.Customer.Token, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.CloseNow()
	// The user feed is subscribed (and confirmed by Redis) before the
	// connection reads its first frame: an answer to a frame means the
	// clock may start.
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"unsubscribe","id":"ready","channel":"order:1"}`)); err != nil {
		b.Fatal(err)
	}
	for {
		_, msg, err := conn.Read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if bytes.Contains(msg, []byte(`"id":"ready"`)) {
			break
		}
	}

	lat := make([]time.Duration, 0, b.N)
	done := make(chan error, 1)
	go func() {
		for len(lat) < b.N {
			_, msg, err := conn.Read(ctx)
			if err != nil {
				done <- err
				return
			}
			i := bytes.Index(msg, []byte(`{"t":`))
			if i < 0 {
				continue
			}
			j := bytes.IndexByte(msg[i:], '}')
			sent, _ := strconv.ParseInt(string(msg[i+5:i+j]), 10, 64)
			lat = append(lat, time.Duration(time.Now().UnixNano()-sent))
		}
		done <- nil
	}()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		data := strconv.AppendInt([]byte(`{"t":`), time.Now().UnixNano(), 10)
		if err := a.publish(ctx, feed, "bench.tick", append(data, '}')); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
}
