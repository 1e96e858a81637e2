package server_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// BenchmarkWSFanout publishes to the dispatch channel with n couriers
// connected over real sockets on loopback, and waits until every socket
// read every frame: hub, kernel and client reads together, on one
// machine (the clients' reading costs as much CPU as the server's work).
func BenchmarkWSFanout(b *testing.B) {
	for _, n := range []int{10, 100, 500} {
		b.Run(fmt.Sprintf("sockets=%d", n), func(b *testing.B) {
			e := newRealtimeEnv(b)
			var received atomic.Int64
			var wg sync.WaitGroup
			ctx, cancel := context.WithCancel(context.Background())
			defer func() { cancel(); wg.Wait() }()
			for i := 0; i < n; i++ {
				p := e.register(delivery.RoleCourier)
				conn, _, err := websocket.Dial(ctx, e.wsURL()+"?access_token="+p.Token, nil)
				if err != nil {
					b.Fatal(err)
				}
				if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":1,"channel":"dispatch"}`)); err != nil {
					b.Fatal(err)
				}
				if _, _, err := conn.Read(ctx); err != nil { // the ack
					b.Fatal(err)
				}
				wg.Go(func() {
					defer conn.CloseNow()
					for {
						if _, _, err := conn.Read(ctx); err != nil {
							return
						}
						received.Add(1)
					}
				})
			}
			data := []byte(`{"id":"42","status":"accepted","restaurant_id":"3","total_cents":1850,"delivery_address":"1 Main St"}`)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := e.publish(ctx, wire.DispatchChannel, "order.offered", data); err != nil {
					b.Fatal(err)
				}
				// Pace the publisher a little so that a queue (512) never
				// overflows: this measures delivery, not the slow-client rule.
				for int64(i-256)*int64(n) > received.Load() {
					time.Sleep(50 * time.Microsecond)
				}
			}
			want := int64(b.N) * int64(n)
			for received.Load() < want {
				time.Sleep(100 * time.Microsecond)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
			if st := e.Hub.Stats(); st.SlowClosed != 0 {
				b.Fatalf("slow closes: %+v", st)
			}
		})
	}
}
