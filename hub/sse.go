package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// This file is the server-sent event transport (API.md, "Server-sent
// events: GET /sse"). A stream runs the same client core as a websocket:
// its one reader goroutine blocks on the connection until the peer goes
// away, and its writer turns each queued frame, encoded once for every
// connection as websocket JSON, into an event of the stream. The stream's
// subscriptions are made at its start, through the core's join, as a
// websocket's subscribe frames are.

// ParseSSE reads what a client asks of a stream (wire.ParseStream),
// within the connection's subscription limit.
func (h *Hub) ParseSSE(channels, lastEventID string) (wire.Stream, error) {
	return wire.ParseStream(channels, lastEventID, h.cfg.Limits.MaxSubscriptions)
}

// ServeSSE starts the stream st on conn for a user whose token the caller
// verified: it subscribes the user's own feed and st's channels, a refused
// one reported as an error event, then writes the response head and
// replays each resumed order channel before it goes live. header holds
// more response headers (CORS). requestID is the request id of GET /sse,
// which the stream's log lines carry and its answer echoes. conn must
// hold no unread bytes; ServeSSE returns once the stream runs (or failed),
// and conn is then the hub's to close. Its errors hold no peer address.
func (h *Hub) ServeSSE(conn net.Conn, claims auth.Claims, st wire.Stream, header http.Header, requestID string) error {
	c, err := h.newClient(conn, claims, requestID)
	if err != nil {
		return err
	}
	t := newSSEConn(conn, h.cfg.Limits)
	c.t = t
	var pending []*subscription
	for _, ch := range st.Channels {
		var since *int64
		if seq, ok := st.Resume[ch.String()]; ok {
			since = &seq
		}
		s, err := c.join(ch, since, nil)
		if err != nil {
			if !refusal(err) {
				// Reported as a refusal, the channel would leave the
				// client's cursor, and its next stream would start it
				// live, past what it missed: make it come back instead.
				c.log(zerolog.ErrorLevel).Err(err).Str("channel", ch.String()).Msg("sse subscribe failed")
				c.closeWith(wire.ReasonResume)
				break
			}
			c.send(wire.AppendUnsubscribed(nil, ch.String(), wire.FrameCode(delivery.ErrorCode(err))))
			continue
		}
		switch {
		case s != nil && ch.Kind == wire.KindOrder:
			t.track(s.ch.name, s.position())
			pending = append(pending, s)
		case s != nil && ch.Kind == wire.KindTrack:
			pending = append(pending, s) // goLive gives it the current state
		}
	}
	if err := t.writeHead(echoRequestID(header, requestID)); err != nil {
		c.leave()
		t.release(nil)
		return withoutAddrs(err)
	}
	return h.start(c, func() {
		for _, s := range pending {
			c.goLive(s)
		}
	})
}

// position is the last seq given to s.
func (s *subscription) position() int64 {
	s.ch.mu.Lock()
	defer s.ch.mu.Unlock()
	return s.lastSeq
}

// sseConn is one event stream. Only the writer goroutine writes, and the
// cursor is the writer's: ServeSSE sets it up before any writer runs.
type sseConn struct {
	raw          net.Conn
	writeTimeout time.Duration
	keepalive    int64
	lastWrite    atomic.Int64 // Unix ns: a comment goes out after keepalive of silence

	// cursor is every subscribed order channel's last seq given, in the
	// order the client named them: the id of each durable event.
	cursor []cursorPos
}

type cursorPos struct {
	name string
	seq  int64
}

func newSSEConn(raw net.Conn, l Limits) *sseConn {
	// fasthttp may have left a read deadline of the request; the peer of
	// a stream never writes, so silence from it says nothing.
	_ = raw.SetDeadline(time.Time{})
	setUserTimeout(raw, l.ReadTimeout)
	return &sseConn{raw: raw, writeTimeout: l.WriteTimeout, keepalive: int64(l.StreamKeepalive)}
}

func (t *sseConn) name() string { return "sse" }

// track adds an order channel to the cursor, at seq.
func (t *sseConn) track(name string, seq int64) {
	t.cursor = append(t.cursor, cursorPos{name, seq})
}

const sseHead = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/event-stream\r\n" +
	"Cache-Control: no-cache\r\n" +
	"X-Accel-Buffering: no\r\n" + // nginx: pass each event on at once
	"Connection: close\r\n"

func (t *sseConn) writeHead(header http.Header) error {
	var b bytes.Buffer
	b.WriteString(sseHead)
	_ = header.Write(&b)
	b.WriteString("\r\n")
	return t.write(b.Bytes())
}

func (t *sseConn) write(p []byte) error {
	if err := t.raw.SetWriteDeadline(time.Now().Add(t.writeTimeout)); err != nil {
		return err
	}
	_, err := t.raw.Write(p)
	t.lastWrite.Store(time.Now().UnixNano())
	return err
}

// read blocks until the peer is gone: it sends nothing after its request,
// and whatever it might send is not ours to read.
func (t *sseConn) read() (*[]byte, []byte, bool, error) {
	var b [1]byte
	if _, err := t.raw.Read(b[:]); err != nil {
		return nil, nil, false, err
	}
	// The peer of a stream sends nothing after its request: whatever it
	// is, it is not a client of this protocol.
	return nil, nil, false, errSSEPeerSent
}

var errSSEPeerSent = errors.New("hub: the peer of an event stream sent data")

// refusal reports whether err refuses a stream's channel for good (the
// client may not have it, it does not exist, the resume is ahead of the
// order); anything else may pass, and the stream is closed to be resumed.
func refusal(err error) bool {
	switch delivery.ErrorCode(err) {
	case delivery.EFORBIDDEN, delivery.ENOTFOUND, delivery.EINVALID, wire.CodeTooManySubscriptions:
		return true
	}
	return false
}

// keepaliveDue asks for a comment after StreamKeepalive of silence on the
// stream, which keeps proxies from closing an idle one; the peer never
// answers, so what it sent says nothing.
func (t *sseConn) keepaliveDue(now, _ int64) bool {
	return now-t.lastWrite.Load() >= t.keepalive
}

// keepaliveAfter is the stream's keepalive: its last write is after its
// peer's request, its one frame.
func (t *sseConn) keepaliveAfter() int64 { return t.keepalive }

// keepaliveNow leaves a stream's comment to its writer: a stream is
// written to every StreamKeepalive, not just when its peer is quiet.
func (t *sseConn) keepaliveNow() (taken, rest bool) { return false, false }

// writeFrames writes frames as events, preceded by a comment when asked,
// in as few writes as the batch allows.
func (t *sseConn) writeFrames(frames [][]byte, keepalive bool) error {
	bp := getBuf()
	b := (*bp)[:0]
	defer func() { putBuf(bp, b) }()
	if keepalive {
		b = append(b, ":\n"...)
	}
	for _, f := range frames {
		b = t.appendEvent(b, f)
		if len(b) >= flushAt {
			if err := t.write(b); err != nil {
				return err
			}
			b = b[:0]
		}
	}
	if len(b) == 0 {
		return nil
	}
	return t.write(b)
}

// writeNow takes nothing: a stream's frames go through its writer, which
// encodes them (few connections are streams).
func (t *sseConn) writeNow([]byte) (taken, rest bool, err error) { return false, false, nil }

// appendEvent appends frame as an event: an event frame under its event
// name, with the cursor as its id when durable; an unsubscribed frame
// (the hub ended or refused a subscription) as the error event
// {"channel":…,"code":…}, its channel leaving the cursor.
func (t *sseConn) appendEvent(b, frame []byte) []byte {
	if ch, ev, ok := wire.EventNames(frame); ok {
		b = append(b, "event: "...)
		b = append(b, ev...)
		b = append(b, '\n')
		if seq := wire.EventSeq(frame); seq > 0 {
			t.advance(ch, seq)
			b = t.appendID(b)
		}
		return appendData(b, frame)
	}
	var f struct{ Type, Channel, Code string }
	if err := json.Unmarshal(frame, &f); err != nil || f.Type != wire.TypeUnsubscribed {
		// An ack or error answers a client frame; a stream has none.
		return b
	}
	t.drop(f.Channel)
	b = append(b, "event: error\ndata: {\"channel\":"...)
	b = wire.AppendString(b, f.Channel)
	b = append(b, `,"code":`...)
	b = wire.AppendString(b, f.Code)
	return append(b, "}\n\n"...)
}

// advance moves the cursor of an order channel to seq; a feed's durable
// events leave it as it is.
func (t *sseConn) advance(channel []byte, seq int64) {
	for i := range t.cursor {
		if t.cursor[i].name == string(channel) {
			t.cursor[i].seq = seq
			return
		}
	}
}

func (t *sseConn) drop(channel string) {
	for i := range t.cursor {
		if t.cursor[i].name == channel {
			t.cursor = append(t.cursor[:i], t.cursor[i+1:]...)
			return
		}
	}
}

func (t *sseConn) appendID(b []byte) []byte {
	if len(t.cursor) == 0 {
		return b // an empty id would reset the client's last one
	}
	b = append(b, "id: "...)
	for i, p := range t.cursor {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, p.name...)
		b = append(b, '=')
		b = strconv.AppendInt(b, p.seq, 10)
	}
	return append(b, '\n')
}

// appendData appends frame as the data of an event. JSON holds line
// breaks only as whitespace between tokens (a publish's data is kept as
// it came); each starts a data line of its own, which the client joins
// with a line feed.
func appendData(b, frame []byte) []byte {
	for {
		b = append(b, "data: "...)
		i := bytes.IndexAny(frame, "\r\n")
		if i < 0 {
			b = append(b, frame...)
			return append(b, "\n\n"...)
		}
		b = append(b, frame[:i]...)
		b = append(b, '\n')
		if frame[i] == '\r' && i+1 < len(frame) && frame[i+1] == '\n' {
			i++
		}
		frame = frame[i+1:]
	}
}

// close ends the stream with the close event and the connection; the
// reader's read then fails.
func (t *sseConn) close(code int, reason string) {
	b := fmt.Appendf(nil, "event: close\ndata: {\"code\":%d,\"reason\":", code)
	b = wire.AppendString(b, reason)
	b = append(b, "}\n\n"...)
	_ = t.write(b)
	_ = t.raw.Close()
}

func (t *sseConn) abort() { _ = t.raw.Close() }

func (t *sseConn) release(error) { _ = t.raw.Close() }

// ended: the peer of a stream closes nothing, it goes away (or, wrongly,
// writes).
func (t *sseConn) ended(readErr error) (int, string) {
	if errors.Is(readErr, errSSEPeerSent) {
		return closeAbnormal, endPeerSent
	}
	return endOfConn(readErr)
}
