package server_test

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// TestWSIdleMemory measures what an idle, subscribed connection costs the
// server (heap and goroutine stacks, after GC). The clients are bare TCP
// connections that did the handshake by hand, so that they add almost
// nothing to the figure. It is a measurement, not a check: run it with
// ORDERCAST_MEASURE=1 go test ./server -run TestWSIdleMemory -v
func TestWSIdleMemory(t *testing.T) {
	if os.Getenv("ORDERCAST_MEASURE") == "" {
		t.Skip("a measurement: set ORDERCAST_MEASURE=1")
	}
	const n = 5000
	e := newRealtimeEnv(t)
	p := e.register(delivery.RoleCustomer)
	host := strings.TrimPrefix(e.URL, "http://")
	req := "GET /ws?access_token=" + p.Token + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	dialOne := func() net.Conn {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake: %v %v", err, resp)
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
	deadline := time.Now().Add(waitTimeout)
	for e.Hub.Stats().Connections < n+1 {
		if time.Now().After(deadline) {
			t.Fatalf("connections: %+v", e.Hub.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	after := measure()
	t.Logf("%d idle connections, each subscribed to its user feed: %.1f KiB per connection (heap + stacks, server and bare clients)",
		n, float64(after-before)/n/1024)
	if path := os.Getenv("ORDERCAST_HEAPPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		_ = pprof.WriteHeapProfile(f)
		_ = f.Close()
	}
	for _, c := range conns {
		_ = c.Close()
	}
}
