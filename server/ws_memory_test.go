package server_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/wire"
)

// BenchmarkWSIdleMemory measures what an idle, subscribed connection
// costs the server (heap and goroutine stacks, after GC): on its user
// feed alone, and on its feed and one order channel (the orders shared
// by ten sockets each, one customer's). The clients are bare TCP
// connections that did the handshake by hand, so that they add almost
// nothing to the figure. One measurement of 5,000 connections each:
// go test ./server -run '^$' -bench WSIdleMemory -benchtime 1x
func BenchmarkWSIdleMemory(b *testing.B) {
	const n = 5000
	for _, orders := range []int{0, n / 10} {
		name := "feed"
		if orders > 0 {
			name = "feed+order"
		}
		b.Run(name, func(b *testing.B) { benchIdle(b, n, orders) })
	}
}

func benchIdle(b *testing.B, n, orders int) {
	e := newRealtimeEnv(b)
	w := e.newWorld()
	channels := make([]string, orders)
	for i := range channels {
		channels[i] = wire.OrderChannel(e.place(w).ID)
	}
	host := strings.TrimPrefix(e.URL, "http://")
	req := "GET /ws?access_token=" + w.Customer.Token + " HTTP/1.1\r\nHost: " + host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	dialOne := func(i int) net.Conn {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := conn.Write([]byte(req)); err != nil {
			b.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
			b.Fatalf("handshake: %v %v", err, resp)
		}
		if orders > 0 {
			if _, err := conn.Write(clientFrame(`{"type":"subscribe","id":1,"channel":"` + channels[i%orders] + `"}`)); err != nil {
				b.Fatal(err)
			}
			if f := readServerFrame(b, br); !bytes.Contains(f, []byte(`"type":"ack"`)) {
				b.Fatalf("subscribe: %s", f)
			}
		}
		if br.Buffered() > 0 {
			b.Fatalf("%d bytes unread after the handshake", br.Buffered())
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
	warm := dialOne(0) // pools, first-use allocations
	defer warm.Close()
	before := measure()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		conns = append(conns, dialOne(i))
	}
	e.waitStat("every connection registered", func(s hub.Stats) bool { return s.Connections >= int64(n+1) })
	after := measure()
	// Heap and stacks of the server and the bare clients, per connection.
	b.ReportMetric(float64(after-before)/float64(n)/1024, "KiB/conn")
	for _, c := range conns {
		_ = c.Close()
	}
}

// clientFrame is a masked text frame of s (RFC 6455 §5.3; the zero mask
// leaves the payload as is), s under 126 bytes.
func clientFrame(s string) []byte {
	return append([]byte{0x81, 0x80 | byte(len(s)), 0, 0, 0, 0}, s...)
}

// readServerFrame reads one unmasked server frame of under 64 KiB.
func readServerFrame(b *testing.B, br *bufio.Reader) []byte {
	var h [4]byte
	if _, err := io.ReadFull(br, h[:2]); err != nil {
		b.Fatal(err)
	}
	size := int(h[1] & 0x7f)
	if size == 126 {
		if _, err := io.ReadFull(br, h[2:4]); err != nil {
			b.Fatal(err)
		}
		size = int(h[2])<<8 | int(h[3])
	}
	p := make([]byte, size)
	if _, err := io.ReadFull(br, p); err != nil {
		b.Fatal(err)
	}
	return p
}
