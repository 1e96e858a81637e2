package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Durable appends of BenchDurableAppend: spread over benchOrders orders,
// benchCallers at once in the closed loop, benchRate a second in the paced
// one.
const (
	benchOrders  = 1000
	benchCallers = 256
	benchRate    = 5000
)

// BenchDurableAppend measures durable appends, what a durable publish
// (orders.Service.AppendEvent) asks of the store: an UpdateOrder whose
// change is an event, each answered once committed. "parallel" keeps
// benchCallers calls in flight and reports appends/s; "rate=5000" starts
// one every 200 µs whatever the answers do, and reports the latency from
// each call's scheduled start (so that a store falling behind shows its
// queue). Both report p50 and p99 in milliseconds.
func BenchDurableAppend(b *testing.B, s delivery.Store) {
	ctx := context.Background()
	f := newFixture(b, s)
	orders := make([]delivery.ID, benchOrders)
	for i := range orders {
		o, _, err := s.CreateOrder(ctx, f.newOrder(f.customer.ID, f.r), delivery.IdempotencyKey{})
		if err != nil {
			b.Fatal(err)
		}
		orders[i] = o.ID
	}
	data := json.RawMessage(`{"eta_minutes":12}`)
	var n atomic.Int64
	appendOne := func() error {
		id := orders[int(n.Add(1))%len(orders)]
		_, _, err := s.UpdateOrder(ctx, id, func(*delivery.Order) (delivery.Change, error) {
			return delivery.Change{Type: "eta", Data: data}, nil
		})
		return err
	}
	b.Run("parallel", func(b *testing.B) {
		lat := make([]time.Duration, b.N)
		var next atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		start, cpu0 := time.Now(), cpuTime(b)
		for range benchCallers {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
					t0 := time.Now()
					if err := appendOne(); err != nil {
						b.Error(err)
						return
					}
					lat[i] = time.Since(t0)
				}
			})
		}
		wg.Wait()
		reportLatency(b, lat, time.Since(start), cpuTime(b)-cpu0)
	})
	b.Run(fmt.Sprintf("rate=%d", benchRate), func(b *testing.B) {
		lat := make([]time.Duration, b.N)
		interval := time.Second / benchRate
		var wg sync.WaitGroup
		b.ResetTimer()
		start, cpu0 := time.Now(), cpuTime(b)
		for i := range b.N {
			due := start.Add(time.Duration(i) * interval)
			time.Sleep(time.Until(due))
			wg.Go(func() {
				if err := appendOne(); err != nil {
					b.Error(err)
					return
				}
				lat[i] = time.Since(due)
			})
		}
		wg.Wait()
		reportLatency(b, lat, time.Since(start), cpuTime(b)-cpu0)
	})
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportLatency reports appends/s, the CPU time per append (the store's
// and the callers': on a machine shared with other work, steadier than
// the rate) and p50 and p99 of lat.
func reportLatency(b *testing.B, lat []time.Duration, elapsed, cpu time.Duration) {
	slices.Sort(lat)
	ms := func(q float64) float64 {
		return float64(lat[int(q*float64(len(lat)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "appends/s")
	b.ReportMetric(float64(cpu)/float64(time.Microsecond)/float64(len(lat)), "cpu-µs/append")
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}
