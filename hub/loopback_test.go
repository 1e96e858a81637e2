package hub

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// adminClaims are the claims of the admin the loopback tests serve.
func adminClaims() auth.Claims {
	return auth.Claims{UserID: 9, Role: delivery.RoleAdmin, ExpiresAt: time.Now().Add(time.Hour)}
}

// serveLoopback serves one websocket of claims on h over loopback TCP and
// returns the client's end. wrap, when not nil, makes what the hub serves
// of the accepted socket; opts are the client's dial options (nil: the
// defaults).
func serveLoopback(t testing.TB, h *Hub, claims auth.Claims, wrap func(net.Conn) net.Conn, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		raw, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		// The client sends nothing before the 101: the reader buffers
		// only the request.
		r, err := http.ReadRequest(bufio.NewReader(raw))
		if err != nil {
			_ = raw.Close()
			served <- err
			return
		}
		conn := raw
		if wrap != nil {
			conn = wrap(raw)
		}
		served <- h.Serve(conn, r, claims, "loopback-test")
	}()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws://"+ln.Addr().String()+"/ws", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.CloseNow() })
	if err := <-served; err != nil && !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	return ws
}

// readFrame reads the client's next message, within testWait.
func readFrame(t testing.TB, ws *websocket.Conn) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}
