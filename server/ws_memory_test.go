package server_test

import (
	"bufio"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/delivery"
)

// BenchmarkWSIdleMemory measures what an idle, subscribed connection
// costs the server (heap and goroutine stacks, after GC). The clients are
// bare TCP connections that did the handshake by hand, so that they add
// almost nothing to the figure. One measurement of 5,000 connections:
// go test ./server -run '^$' -bench WSIdleMemory -benchtime 1x
func BenchmarkWSIdleMemory(b *testing.B) {
	const n = 5000
	e := newRealtimeEnv(b)
	p := e.register(delivery.RoleCustomer)
	host := strings.TrimPrefix(e.URL, "http://")
	req := "GET /ws?access_token=" + p.Token + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	dialOne := func() net.Conn {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Write([]byte(req)); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			b.Fatalf("handshake: %v %v", err, resp)
		}
		return conn
	}
	measure := func() uint64 {
		var m runtime.MemStats
		for i := 0; i < 3; i++ {
			runtime.GC()
		}
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	warm := dialOne() // pools, first-use allocations
	defer warm.Close()
	before := measure()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		conns = append(conns, dialOne())
	}
	e.waitStat("every connection registered", func(s hub.Stats) bool { return s.Connections >= n+1 })
	after := measure()
	// Heap and stacks of the server and the bare clients, per connection.
	b.ReportMetric(float64(after-before)/n/1024, "KiB/conn")
	for _, c := range conns {
		_ = c.Close()
	}
}
