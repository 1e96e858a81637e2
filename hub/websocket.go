package hub

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
)

// This file is the only one that touches the websocket library
// (github.com/coder/websocket). The library does the handshake, reads
// client messages (unmasking, fragments, the read limit and its 1009,
// UTF-8 of close reasons), answers pings and runs the close handshake.
//
// Server data frames do not go through the library's writer: it flushes
// every message with its own write, and the point of the per-connection
// queue is to coalesce whatever is queued into one write. Server frames
// are unmasked and unfragmented, so their header is a few bytes
// (RFC 6455 §5.2), built in appendFrameHeader. Both writers share one
// mutex on the raw connection (rawWriter); the library writes only control
// frames, each in one flush of its bufio.Writer (sized to hold the largest),
// so frames never interleave.

const (
	// readBufSize is the bufio.Reader the library reads through: small,
	// because an idle connection keeps it (WEBSOCKET-ON-FIBER.md). It
	// holds a usual client frame whole (a subscribe or a position is under
	// 200 bytes); larger messages are read past it, into pooled buffers.
	readBufSize = 256
	// controlBufSize holds the largest control frame (2+125 bytes; a
	// server sends no mask) so that one library flush is one frame. The
	// 101 response (about 130 bytes, and its X-Request-ID) takes two
	// writes, once per connection, rather than a larger buffer every
	// idle connection would keep. 144 is a size class of the allocator.
	controlBufSize = 144
	// flushAt is where a batch is written and the buffer reused.
	flushAt = 32 << 10
	// maxPooledBuf keeps a buffer grown by one huge frame out of the pool.
	maxPooledBuf = 256 << 10
	// lingerBytes and lingerTime bound the draining of a peer that is still
	// sending when we close (an oversized frame), so that our close frame
	// is read before the kernel answers the unread data with a reset.
	lingerBytes = 256 << 10
	lingerTime  = time.Second
)

const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xa
	finBit  = 0x80
	maskBit = 0x80
)

var errCloseSent = errors.New("hub: close frame already sent")

// errWriteFailed refuses a write after one failed: that one may have
// left part of a frame on the wire, after which any byte is garbage.
var errWriteFailed = errors.New("hub: an earlier write failed")

// bufPool holds write batches and read messages; idle connections hold
// neither.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(bp *[]byte, b []byte) {
	if cap(b) > maxPooledBuf {
		return
	}
	*bp = b[:0]
	bufPool.Put(bp)
}

// wsConn is one accepted websocket.
type wsConn struct {
	ws           *websocket.Conn
	raw          net.Conn
	w            *rawWriter
	readTimeout  time.Duration
	readDeadline atomic.Int64 // the read deadline set last, Unix ns
	pingInterval int64
	pingAt       int64 // the last ping asked for, Unix ns; sweeper only

	// What awaitFrame needs: the library's bufio.Reader, the socket to
	// wait on (nil: none, the library waits), the peer's pings and pongs
	// taken.
	br      *bufio.Reader
	rc      syscall.RawConn
	control func() bool
	// mu guards br between awaitFrame and the library's close handshake,
	// which reads br on the writer's goroutine once closing is set.
	mu      sync.Mutex
	closing bool
}

// rawWriter serializes every write on the raw connection and puts a
// deadline on each.
type rawWriter struct {
	mu        sync.Mutex
	raw       net.Conn
	rc        syscall.RawConn // raw's socket, for pingNow and frameNow; nil: none
	timeout   time.Duration
	deadline  int64 // the write deadline set last, Unix ns
	closeSent bool  // a close frame went out: no data frame may follow
	failed    bool  // a write failed: none may follow (errWriteFailed)
	// rest is the end of a frame (or ping) written at once that the
	// socket did not take, in the pooled buffer restBuf when not nil:
	// every write finishes it first, the library's control frames too,
	// which would otherwise land inside the frame.
	rest    []byte
	restBuf *[]byte
}

// Write is the library's: the handshake response, then control frames.
func (w *rawWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) > 0 && p[0] == finBit|opClose {
		w.closeSent = true
	}
	return w.writeLocked(p)
}

// writeLocked writes p with at least three quarters of the timeout ahead:
// moving the deadline updates a runtime timer, so one set less than a
// quarter of the timeout ago is kept (a socket that gets a frame a second
// moves it once in three writes, not every time).
func (w *rawWriter) writeLocked(p []byte) (n int, err error) {
	if w.failed {
		return 0, errWriteFailed
	}
	defer func() {
		if err != nil {
			w.failed = true
		}
	}()
	now := time.Now()
	if w.deadline-now.UnixNano() < int64(w.timeout-w.timeout/4) {
		d := now.Add(w.timeout)
		if err := w.raw.SetWriteDeadline(d); err != nil {
			return 0, err
		}
		w.deadline = d.UnixNano()
	}
	if w.rest != nil {
		if _, err := w.raw.Write(w.rest); err != nil {
			return 0, err
		}
		if w.restBuf != nil {
			putBuf(w.restBuf, *w.restBuf)
		}
		w.rest, w.restBuf = nil, nil
	}
	if len(p) == 0 {
		return 0, nil // the writer's call for a rest alone
	}
	return w.raw.Write(p)
}

func (w *rawWriter) writeData(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(p) == 0 && w.rest == nil {
		return nil // the writer came for a rest another write finished
	}
	if w.closeSent {
		return errCloseSent
	}
	_, err := w.writeLocked(p)
	return err
}

// pingFrame is our keepalive: a ping with no payload.
var pingFrame = [2]byte{finBit | opPing, 0}

// atOnceLocked writes what of b the socket takes without waiting
// (writeNow), so that the write needs no deadline: the caller, holding mu,
// saves starting the connection's writer for it. It reports whether the
// socket took any of b, and whether a rest is left, which the next write
// finishes first (writeLocked) and the caller must have the writer do;
// bp, when not nil, is b's pooled buffer, which the rest then keeps.
func (w *rawWriter) atOnceLocked(b []byte, bp *[]byte) (taken, rest bool, err error) {
	if w.failed {
		return false, false, errWriteFailed
	}
	n, err := writeNow(w.rc, b)
	if err != nil {
		w.failed = true
		return false, false, err
	}
	if n == 0 {
		return false, false, nil
	}
	if n == len(b) {
		return true, false, nil
	}
	if bp != nil {
		*bp = b // the whole buffer, to go back to the pool
	}
	w.rest, w.restBuf = b[n:], bp
	return true, true, nil
}

// pingNow writes a ping if the socket takes it at once: no write in
// progress, room in the send buffer (always, on a quiet connection), so
// that the sweeper sends it without starting the connection's writer
// goroutine for two bytes. It reports whether it took the ping, or the
// writer must send it, and whether a rest is left for the writer.
func (w *rawWriter) pingNow() (taken, rest bool) {
	if w.rc == nil || !w.mu.TryLock() {
		return false, false
	}
	defer w.mu.Unlock()
	if w.closeSent || w.failed {
		return true, false // nothing to keep alive: our close frame is out, or the end near
	}
	if w.rest != nil {
		return false, false // the writer finishes the frame first
	}
	// A failed write is left to the writer, whose next write fails too
	// (errWriteFailed) and ends the connection.
	taken, rest, _ = w.atOnceLocked(pingFrame[:], nil)
	return taken, rest
}

func (w *rawWriter) sentClose() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closeSent
}

// upgradeWriter is the http.ResponseWriter the library's Accept needs:
// fasthttp has no net/http response to hijack, so the status line and
// headers are written straight onto the raw connection.
type upgradeWriter struct {
	raw    net.Conn
	brw    *bufio.ReadWriter
	header http.Header
	wrote  bool
}

func (u *upgradeWriter) Header() http.Header { return u.header }

func (u *upgradeWriter) WriteHeader(status int) {
	if u.wrote {
		return
	}
	u.wrote = true
	fmt.Fprintf(u.brw, "HTTP/1.1 %03d %s\r\n", status, http.StatusText(status))
	_ = u.header.Write(u.brw)
	_, _ = u.brw.WriteString("\r\n")
}

func (u *upgradeWriter) Write(p []byte) (int, error) {
	u.WriteHeader(http.StatusOK)
	return u.brw.Write(p)
}

func (u *upgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return u.raw, u.brw, u.brw.Flush()
}

// acceptWS runs the websocket handshake for r on raw, which must hold no
// unread bytes (a client sends no frame before the 101); header holds more
// headers of the answer. control is called on every ping or pong from the
// peer, from the reading goroutine; a ping is answered only when it
// returns true.
func acceptWS(raw net.Conn, r *http.Request, l Limits, control func() bool, header http.Header) (*wsConn, error) {
	rc := rawConnOf(raw)
	w := &rawWriter{raw: raw, rc: rc, timeout: l.WriteTimeout}
	brw := bufio.NewReadWriter(bufio.NewReaderSize(raw, readBufSize), bufio.NewWriterSize(w, controlBufSize))
	t := &wsConn{raw: raw, w: w, readTimeout: l.ReadTimeout, pingInterval: int64(l.PingInterval),
		br: brw.Reader, rc: rc, control: control}
	ws, err := websocket.Accept(&upgradeWriter{raw: raw, brw: brw, header: header}, r, &websocket.AcceptOptions{
		// The server checked the Origin before the upgrade (ALLOWED_ORIGINS).
		InsecureSkipVerify: true,
		OnPingReceived: func(context.Context, []byte) bool {
			t.extendRead()
			return control()
		},
		OnPongReceived: func(context.Context, []byte) {
			t.extendRead()
			control()
		},
	})
	if err != nil {
		_ = brw.Flush()
		_ = raw.Close()
		return nil, err
	}
	ws.SetReadLimit(l.MaxMessageBytes)
	t.ws = ws
	return t, nil
}

func (t *wsConn) name() string { return "ws" }

// ended tells a close of the peer (its code) from one of the library (a
// frame it refused) and from a connection that just ended.
func (t *wsConn) ended(readErr error) (int, string) {
	switch {
	case errors.Is(readErr, websocket.ErrMessageTooBig):
		return int(websocket.StatusMessageTooBig), endTooBig
	case websocket.CloseStatus(readErr) != -1:
		return int(websocket.CloseStatus(readErr)), endPeerClosed
	case t.w.sentClose(): // the library's own close, on a frame it refused
		return int(websocket.StatusProtocolError), endProtocolError
	}
	return endOfConn(readErr)
}

// keepaliveDue asks for a ping after PingInterval of silence from the
// peer, and again at most once an interval while it stays silent: its
// pong, or anything else it sends, proves it alive.
func (t *wsConn) keepaliveDue(now, lastRead int64) bool {
	if now-lastRead < t.pingInterval || now-t.pingAt < t.pingInterval {
		return false
	}
	t.pingAt = now
	return true
}

func (t *wsConn) keepaliveAfter() int64 { return t.pingInterval }

// keepaliveNow writes the ping from the sweeper when it can (pingNow).
func (t *wsConn) keepaliveNow() (taken, rest bool) { return t.w.pingNow() }

// extendRead pushes the read deadline out: a peer that sends nothing, not
// even a pong to our pings, for readTimeout is dead. As with writes
// (writeLocked), a deadline still readTimeout ahead is kept, and a new one
// is set a quarter further: the peer is given readTimeout at least, up to
// a quarter more, and a socket reading a frame a second moves its timer
// once in 15 s (of the default 60 s) instead of at every frame.
func (t *wsConn) extendRead() {
	now := time.Now()
	if t.readDeadline.Load()-now.UnixNano() >= int64(t.readTimeout) {
		return
	}
	d := now.Add(t.readTimeout + t.readTimeout/4)
	t.readDeadline.Store(d.UnixNano())
	_ = t.raw.SetReadDeadline(d)
}

// read returns the next data message and whether it was a text message,
// or no message (nil bp and msg) when it took a ping or pong (awaitFrame). The
// message is in a pooled buffer, taken only once a message arrived (a
// connection waiting for one holds none); the caller puts it back with
// putBuf(bp, msg) when done with msg.
func (t *wsConn) read() (bp *[]byte, msg []byte, text bool, err error) {
	t.extendRead()
	if t.awaitFrame() {
		return nil, nil, false, nil
	}
	// Background: a context with a deadline would cost a timer per read;
	// the deadline is on the socket instead.
	typ, r, err := t.ws.Reader(context.Background())
	if err != nil {
		return nil, nil, false, err
	}
	bp = getBuf()
	buf := (*bp)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return bp, buf, typ == websocket.MessageText, nil
		}
		if err != nil {
			putBuf(bp, buf)
			return nil, nil, false, err
		}
	}
}

// awaitFrame waits for the peer's next frame without the library, whose
// read parks the reader some 2 KiB deep, so that an idle reader's stack
// stays the runtime's smallest (2 KiB, not 4: the reader starts afresh
// after each frame, readLoop). It takes a ping or pong there too, the one
// frame an idle peer sends (pongs to our pings every PingInterval; some
// clients ping), and reports that it did; the next read extends the read
// deadline. Anything else, a control frame in pieces, a failed read or the
// socket's end, is the library's to read.
func (t *wsConn) awaitFrame() (tookControl bool) {
	if t.rc == nil {
		return false
	}
	t.mu.Lock()
	empty := !t.closing && t.br.Buffered() == 0
	t.mu.Unlock()
	if empty && waitReadable(t.rc) != nil {
		return false
	}
	took, pong := t.takeControl()
	if !took {
		return false
	}
	// As OnPingReceived and OnPongReceived: the frame counts against the
	// frame limit, and past it a ping gets no pong.
	if t.control() && pong != nil {
		// After our close frame no pong may follow, and the close
		// handshake is on its way: only another failure ends the read.
		if err := t.w.writeData(pong); err != nil && !errors.Is(err, errCloseSent) {
			t.abort() // as a failed write of the writer's: the read then ends
		}
	}
	return true
}

// takeControl takes a client's ping or pong whole from the buffer: final,
// no extension bits, masked, at most 125 bytes (RFC 6455 §5.5). For a
// ping it returns the pong that answers it, its payload unmasked.
func (t *wsConn) takeControl() (took bool, pong []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closing {
		return false, nil
	}
	if t.br.Buffered() == 0 {
		// The socket is readable: this fills without blocking.
		if _, err := t.br.Peek(1); err != nil {
			return false, nil
		}
	}
	b, _ := t.br.Peek(t.br.Buffered())
	if len(b) < 2 || (b[0] != finBit|opPong && b[0] != finBit|opPing) ||
		b[1]&maskBit == 0 || b[1]&^maskBit > 125 {
		return false, nil
	}
	size := int(b[1] &^ maskBit)
	if len(b) < 2+4+size {
		return false, nil
	}
	if b[0] == finBit|opPing {
		pong = append(make([]byte, 0, 2+size), finBit|opPong, byte(size))
		for i := range size {
			pong = append(pong, b[6+i]^b[2+i%4])
		}
	}
	_, _ = t.br.Discard(2 + 4 + size)
	return true, pong
}

// writeFrames writes frames as text messages, preceded by a ping when
// asked, in as few writes as the batch allows (one below flushAt); the
// rest of a frame written at once goes first (writeLocked), with an empty
// batch too.
func (t *wsConn) writeFrames(frames [][]byte, ping bool) error {
	bp := getBuf()
	b := (*bp)[:0]
	defer func() { putBuf(bp, b) }()
	if ping {
		b = append(b, pingFrame[:]...)
	}
	for _, f := range frames {
		b = appendFrameHeader(b, opText, len(f))
		b = append(b, f...)
		if len(b) >= flushAt {
			if err := t.w.writeData(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	return t.w.writeData(b)
}

// writeNow writes frame as a text message on the caller's goroutine if
// the socket takes it without waiting (atOnceLocked). It takes nothing
// from a connection that is not a plain socket, whose writer is busy (a
// control frame of the library, the sweeper's ping) or has a rest to
// finish, or whose socket buffer is full. The caller holds the writing
// turn (no writer runs).
func (t *wsConn) writeNow(frame []byte) (taken, rest bool, err error) {
	w := t.w
	if w.rc == nil || !w.mu.TryLock() {
		return false, false, nil
	}
	defer w.mu.Unlock()
	if w.closeSent {
		return false, false, errCloseSent
	}
	if w.rest != nil {
		return false, false, nil
	}
	bp := getBuf()
	b := appendFrameHeader((*bp)[:0], opText, len(frame))
	b = append(b, frame...)
	taken, rest, err = w.atOnceLocked(b, bp)
	if !rest {
		putBuf(bp, b)
	}
	return taken, rest, err
}

// appendFrameHeader appends the header of an unmasked final frame.
func appendFrameHeader(b []byte, op byte, n int) []byte {
	b = append(b, finBit|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// close runs the close handshake with code; it blocks until the peer
// answered or the library's timeouts (5 s to write, 5 s to wait) passed.
func (t *wsConn) close(code int, reason string) {
	t.mu.Lock()
	t.closing = true // the library reads br from here on (awaitFrame)
	t.mu.Unlock()
	_ = t.ws.Close(websocket.StatusCode(code), reason)
}

// abort closes the connection at once; whatever blocks on it returns.
func (t *wsConn) abort() { _ = t.raw.Close() }

// release ends the connection after its reader stopped. When our close
// frame is out but the peer may still be sending (it exceeded the read
// limit), the rest is drained for a moment so that the peer reads the
// close frame instead of a connection reset.
func (t *wsConn) release(readErr error) {
	if t.w.sentClose() && websocket.CloseStatus(readErr) == -1 {
		if tc, ok := t.raw.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
			_ = t.raw.SetReadDeadline(time.Now().Add(lingerTime))
			_, _ = io.Copy(io.Discard, io.LimitReader(t.raw, lingerBytes))
		}
	}
	_ = t.raw.Close()
	_ = t.ws.CloseNow()
}
