package hub

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// maskedFrame is a client frame of op with payload (under 126 bytes),
// masked with the zero key, which leaves the payload as is.
func maskedFrame(op byte, payload string) []byte {
	return append([]byte{finBit | op, maskBit | byte(len(payload)), 0, 0, 0, 0}, payload...)
}

// wsPair is an accepted websocket over loopback TCP and the bare client
// end, which did the handshake by hand; pongs counts the control calls.
func wsPair(t *testing.T) (ws *wsConn, client net.Conn, cbr *bufio.Reader, pongs *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	r, err := http.ReadRequest(bufio.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var l Limits
	l.setDefaults()
	pongs = new(atomic.Int32)
	ws, err = acceptWS(raw, r, l, func() bool { pongs.Add(1); return true }, http.Header{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.abort)
	cbr = bufio.NewReader(client)
	if resp, err := http.ReadResponse(cbr, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", err, resp)
	}
	if ws.rc == nil {
		t.Fatal("no socket to wait on: awaitFrame would leave every frame to the library")
	}
	return ws, client, cbr, pongs
}

// readMessage reads until a data message, returning it and how many
// reads took a pong on the way.
func readMessage(t *testing.T, ws *wsConn) (msg string, tookPongs int) {
	t.Helper()
	msg, tookPongs, err := nextMessage(ws)
	if err != nil {
		t.Fatal(err)
	}
	return msg, tookPongs
}

// nextMessage is readMessage for a goroutine other than the test's.
func nextMessage(ws *wsConn) (msg string, tookPongs int, err error) {
	for {
		bp, b, text, err := ws.read()
		if err != nil {
			return "", tookPongs, fmt.Errorf("read: %w", err)
		}
		if bp == nil {
			tookPongs++
			continue
		}
		msg = string(b)
		putBuf(bp, b)
		if !text {
			return "", tookPongs, fmt.Errorf("%q is not text", msg)
		}
		return msg, tookPongs, nil
	}
}

// TestAwaitFrameTakesPongs: a pong to our ping is taken before the
// library's read and counts as the peer's frame (control), a read of its
// own; a data message after it is the library's; a pong that arrives in
// pieces is counted too, by whichever reads it.
func TestAwaitFrameTakesPongs(t *testing.T) {
	ws, client, _, pongs := wsPair(t)
	if _, err := client.Write(append(maskedFrame(opPong, ""), maskedFrame(opText, "hi")...)); err != nil {
		t.Fatal(err)
	}
	// On loopback the bytes are in the server's socket once Write returned.
	if msg, took := readMessage(t, ws); msg != "hi" || took != 1 || pongs.Load() != 1 {
		t.Errorf("got %q after %d pongs taken (%d counted), want hi after 1 (1)", msg, took, pongs.Load())
	}

	pong := maskedFrame(opPong, "ab")
	if _, err := client.Write(pong[:3]); err != nil {
		t.Fatal(err)
	}
	got, failed := make(chan string, 1), make(chan error, 1)
	go func() {
		msg, _, err := nextMessage(ws)
		if err != nil {
			failed <- err
			return
		}
		got <- msg
	}()
	if _, err := client.Write(append(pong[3:], maskedFrame(opText, "yo")...)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-failed:
		t.Fatal(err)
	case msg := <-got:
		if msg != "yo" || pongs.Load() != 2 {
			t.Errorf("got %q with %d pongs counted, want yo with 2", msg, pongs.Load())
		}
	case <-time.After(testWait):
		t.Fatal("no message after a pong in two pieces")
	}
}

// TestAwaitFrameAnswersPings: a client's ping is taken before the
// library's read too, counted, and answered with its payload.
func TestAwaitFrameAnswersPings(t *testing.T) {
	ws, client, cbr, pongs := wsPair(t)
	ping := maskedFrame(opPing, "hey")
	ping[2], ping[6] = 0x20, 'h'^0x20 // a mask that changes the payload: 'h' unmasks to itself
	if _, err := client.Write(append(ping, maskedFrame(opText, "hi")...)); err != nil {
		t.Fatal(err)
	}
	if msg, took := readMessage(t, ws); msg != "hi" || took != 1 || pongs.Load() != 1 {
		t.Errorf("got %q after %d control frames taken (%d counted), want hi after 1 (1)", msg, took, pongs.Load())
	}
	var pong [5]byte
	_ = client.SetReadDeadline(time.Now().Add(testWait))
	if _, err := io.ReadFull(cbr, pong[:]); err != nil || string(pong[:]) != "\x8a\x03hey" {
		t.Errorf("answer % x, %v; want a pong of hey", pong, err)
	}
}

// TestAwaitFrameYieldsToClose: a reader waiting in awaitFrame leaves the
// buffered reader to the library's close handshake (the race detector
// checks it), and its read then fails.
func TestAwaitFrameYieldsToClose(t *testing.T) {
	ws, client, cbr, _ := wsPair(t)
	readErr := make(chan error, 1)
	go func() {
		for {
			bp, _, _, err := ws.read()
			if err != nil || bp != nil {
				readErr <- err
				return
			}
		}
	}()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		ws.close(int(websocket.StatusNormalClosure), "bye")
	}()
	var h [2]byte
	_ = client.SetReadDeadline(time.Now().Add(testWait))
	if _, err := cbr.Read(h[:]); err != nil || h[0] != finBit|opClose {
		t.Fatalf("close frame: % x, %v", h, err)
	}
	if _, err := cbr.Discard(int(h[1])); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write(maskedFrame(opClose, "\x03\xe8")); err != nil { // 1000
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(testWait):
		t.Fatal("close did not return")
	}
	select {
	case err := <-readErr:
		if err == nil {
			t.Error("read returned a message after the close handshake")
		}
	case <-time.After(testWait):
		t.Fatal("read did not end")
	}
}

// TestSweepAsksSessionOncePerToken: the sweeper asks SessionRevoked once
// per connection and session, not every sweep; a token of another
// session (an auth frame) is asked about again, and closes the
// connection with 4001 when that session ended.
func TestSweepAsksSessionOncePerToken(t *testing.T) {
	store := &logStore{events: map[delivery.ID][]delivery.Event{}}
	cfg := testConfig(t, store, memory.New())
	var mu sync.Mutex
	asks, revoked := map[string]int{}, map[string]bool{"s2": true}
	cfg.SessionRevoked = func(sid string) bool {
		mu.Lock()
		defer mu.Unlock()
		asks[sid]++
		return revoked[sid]
	}
	h := startHub(t, cfg)
	claims := auth.Claims{UserID: 9, Role: delivery.RoleCustomer, SessionID: "s1", ExpiresAt: time.Now().Add(time.Hour)}
	ws := serveLoopback(t, h, claims, nil, nil)
	asked := func(sid string) int {
		mu.Lock()
		defer mu.Unlock()
		return asks[sid]
	}
	for range 3 {
		h.sweep(time.Now().UnixNano())
	}
	if n := asked("s1"); n != 1 {
		t.Fatalf("s1 asked %d times in 3 sweeps or more, want once", n)
	}
	h.mu.Lock()
	for c := range h.clients {
		claims.SessionID = "s2"
		c.setClaims(claims)
	}
	h.mu.Unlock()
	h.sweep(time.Now().UnixNano())
	h.sweep(time.Now().UnixNano())
	if n := asked("s2"); n != 1 {
		t.Errorf("s2 asked %d times, want once", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err == nil {
			continue
		}
		if code := websocket.CloseStatus(err); code != wire.CloseTokenExpired {
			t.Errorf("read: %v, want close %d", err, wire.CloseTokenExpired)
		}
		break
	}
}

// TestKeepaliveNowWritesPing: the sweeper's ping goes straight onto a
// quiet socket, and is left to the writer while a write holds the socket.
func TestKeepaliveNowWritesPing(t *testing.T) {
	ws, client, cbr, _ := wsPair(t)
	ws.w.mu.Lock()
	busy, _ := ws.keepaliveNow()
	ws.w.mu.Unlock()
	if busy {
		t.Error("a ping written while another write held the socket")
	}
	ws.w.rest = []byte("the end of a frame")
	if unfinished, _ := ws.keepaliveNow(); unfinished {
		t.Error("a ping written while a frame's rest waited for the writer")
	}
	ws.w.rest = nil
	if taken, rest := ws.keepaliveNow(); !taken || rest {
		t.Fatalf("ping taken %v, rest %v on a quiet socket; want taken whole", taken, rest)
	}
	var h [2]byte
	_ = client.SetReadDeadline(time.Now().Add(testWait))
	if _, err := io.ReadFull(cbr, h[:]); err != nil || h != pingFrame {
		t.Errorf("read % x, %v; want the ping % x", h, err, pingFrame)
	}
}
