package hub

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
)

// directEnv is a hub serving one admin over a real loopback socket, which
// the hub may write to at once (unlike the wrapped conns of other tests).
type directEnv struct {
	t  testing.TB
	h  *Hub
	ws *websocket.Conn
}

// newDirectEnv serves the admin; readBuf, when not 0, is the client's
// socket receive buffer and the server's send buffer, so that the
// kernel holds little of what the client does not read.
func newDirectEnv(t testing.TB, readBuf int) *directEnv {
	t.Helper()
	h := startHub(t, testConfig(t, &logStore{events: map[delivery.ID][]delivery.Event{}}, memory.New()))
	setBuffer := func(raw net.Conn) net.Conn {
		if readBuf != 0 {
			_ = raw.(*net.TCPConn).SetWriteBuffer(readBuf)
		}
		return raw
	}
	var dialer net.Dialer
	client := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dialer.DialContext(ctx, network, addr)
		if err == nil && readBuf != 0 {
			_ = conn.(*net.TCPConn).SetReadBuffer(readBuf)
		}
		return conn, err
	}}}
	ws := serveLoopback(t, h, adminClaims(), setBuffer, &websocket.DialOptions{HTTPClient: client})
	ws.SetReadLimit(4 << 20)
	return &directEnv{t: t, h: h, ws: ws}
}

// publish hands an ephemeral event on the admin's feed to the bus, which
// fans it out before returning, and returns its frame.
func (e *directEnv) publish(data []byte) []byte {
	e.t.Helper()
	frame := encodeEvent("user:9", "test.event", 0, data, 1)
	if err := e.h.cfg.Bus.Publish(context.Background(), delivery.BusMessage{Channel: "user:9", Frame: frame}); err != nil {
		e.t.Fatal(err)
	}
	return frame
}

func (e *directEnv) read() []byte {
	e.t.Helper()
	return readFrame(e.t, e.ws)
}

// A frame for an idle socket is written by the fan-out that made it,
// before the publish returns: no writer goroutine starts.
func TestFrameWrittenAtOnce(t *testing.T) {
	e := newDirectEnv(t, 0)
	frame := e.publish([]byte(`{"n":1}`))
	st := e.h.Stats()
	if st.WrittenAtOnce != 1 || st.Writers != 0 {
		t.Fatalf("written at once %d, writers %d; want 1 and 0", st.WrittenAtOnce, st.Writers)
	}
	if got := e.read(); !bytes.Equal(got, frame) {
		t.Fatalf("read %s, want %s", got, frame)
	}
}

// What the socket does not take of a frame written at once, the writer
// writes, before the frames queued behind it: the peer reads both whole
// and in order.
func TestFrameRestWrittenByWriter(t *testing.T) {
	e := newDirectEnv(t, 4<<10)
	big := e.publish(bytes.Repeat([]byte("x"), 128<<10)) // far more than the buffers hold
	if st := e.h.Stats(); st.WrittenAtOnce != 1 || st.Writers != 1 {
		t.Fatalf("written at once %d, writers %d; want 1 and 1 (for the rest)", st.WrittenAtOnce, st.Writers)
	}
	small := e.publish([]byte(`{"n":2}`)) // queued: the writer is busy with the rest
	if got := e.read(); !bytes.Equal(got, big) {
		t.Fatalf("first frame: %d bytes, want the %d of the big one", len(got), len(big))
	}
	if got := e.read(); !bytes.Equal(got, small) {
		t.Fatalf("second frame %s, want %s", got, small)
	}
}

// A frame larger than the send queue takes is not written at once either:
// it is refused as before (an ephemeral one dropped).
func TestFrameOverQueueNotWrittenAtOnce(t *testing.T) {
	e := newDirectEnv(t, 0)
	e.publish(bytes.Repeat([]byte("x"), e.h.cfg.Limits.SendQueueBytes))
	next := e.publish([]byte(`{"n":2}`))
	if got := e.read(); !bytes.Equal(got, next) {
		t.Fatalf("read %d bytes, want the frame after the dropped one", len(got))
	}
	if st := e.h.Stats(); st.ShedPublishes != 1 {
		t.Fatalf("shed %d publishes, want 1", st.ShedPublishes)
	}
}

// recordConn keeps what is written to it.
type recordConn struct {
	net.Conn
	wrote bytes.Buffer
}

func (c *recordConn) Write(p []byte) (int, error)      { return c.wrote.Write(p) }
func (c *recordConn) SetWriteDeadline(time.Time) error { return nil }

// The rest of a frame the socket took only part of goes out before any
// other write: a control frame of the library (here a pong) written
// before the writer came to it must not land inside the frame.
func TestRestFinishedBeforeControlFrame(t *testing.T) {
	conn := &recordConn{}
	w := &rawWriter{raw: conn, timeout: time.Second}
	bp := getBuf()
	*bp = append((*bp)[:0], "the end of a frame"...)
	w.rest, w.restBuf = (*bp)[4:], bp
	pong := []byte{finBit | 0xA, 0}
	if _, err := w.Write(pong); err != nil {
		t.Fatal(err)
	}
	if got, want := conn.wrote.String(), "end of a frame"+string(pong); got != want {
		t.Fatalf("wrote %q, want %q", got, want)
	}
	if w.rest != nil {
		t.Fatal("the rest is still held after it was written")
	}
}

// failingConn fails its first write after taking part of it, then takes
// every write.
type failingConn struct {
	recordConn
	failed bool
}

func (c *failingConn) Write(p []byte) (int, error) {
	if !c.failed {
		c.failed = true
		c.wrote.Write(p[:len(p)/2])
		return len(p) / 2, os.ErrDeadlineExceeded
	}
	return c.recordConn.Write(p)
}

// After a write failed, part of a frame may be on the wire: nothing may
// follow it, neither the library's pong nor the writer's next frame.
func TestNoWriteAfterFailedWrite(t *testing.T) {
	conn := &failingConn{}
	w := &rawWriter{raw: conn, timeout: time.Second}
	if err := w.writeData([]byte("a frame cut in two")); err == nil {
		t.Fatal("the failing write reported no error")
	}
	cut := conn.wrote.Len()
	if _, err := w.Write([]byte{finBit | 0xA, 0}); !errors.Is(err, errWriteFailed) {
		t.Errorf("pong after a failed write: %v, want errWriteFailed", err)
	}
	if err := w.writeData([]byte("next")); !errors.Is(err, errWriteFailed) {
		t.Errorf("frame after a failed write: %v, want errWriteFailed", err)
	}
	if conn.wrote.Len() != cut {
		t.Fatalf("%d bytes written after the failed write", conn.wrote.Len()-cut)
	}
}
