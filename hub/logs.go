package hub

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// Every line the hub writes about a connection names it by conn_id, by
// the request id of its handshake (the server's request line carries the
// same) and by its user, so that an operator can follow one socket or
// stream from its handshake to its end. Nothing a client sent is logged
// beyond these ids: no token, no frame, no close text.

// closeAbnormal is the code logged for an end without a close frame or
// event (RFC 6455 reserves 1006 for reporting exactly that; it is never
// sent).
const closeAbnormal = 1006

// The reasons logged for ends the hub did not ask for (it names its own
// closes by wire.CloseReason.Name).
const (
	endPeerClosed    = "peer_closed"    // the client closed the socket, with the code logged
	endPeerGone      = "peer_gone"      // the connection ended without a close
	endReadTimeout   = "read_timeout"   // the peer was silent past ReadTimeout
	endTooBig        = "too_big"        // a frame over the read limit, closed with 1009
	endProtocolError = "protocol_error" // a frame the websocket library refused, closed with 1002
	endPeerSent      = "peer_sent_data" // the peer of an event stream wrote to it
	endWriteFailed   = "write_failed"   // a write failed: the connection was cut
)

// reasonWriteFailed is the end of a connection whose write failed: no
// close went out.
var reasonWriteFailed = wire.CloseReason{Code: closeAbnormal, Name: endWriteFailed}

// log starts a line about the connection at level; a viewer's names no
// user (it has none).
func (c *client) log(level zerolog.Level) *zerolog.Event {
	ev := c.hub.log.WithLevel(level).
		Str("conn_id", c.connID()).
		Str("request_id", c.requestID)
	if c.actor.Role == delivery.RoleViewer {
		return ev
	}
	return ev.Str("user_id", c.actor.UserID.String())
}

// connID is the connection's id as logged: 16 hex digits, random, so that
// ids of several instances do not collide.
func (c *client) connID() string { return fmt.Sprintf("%016x", c.id) }

// logClosed writes the one line of a connection's end: how it ended
// (code and reason), how long it lived and how many data frames it read
// and wrote (pings, keepalives and the close itself not counted).
func (c *client) logClosed(code int, reason string) {
	c.mu.Lock()
	framesOut := c.framesOut
	c.mu.Unlock()
	c.log(zerolog.InfoLevel).
		Str("role", string(c.actor.Role)).
		Str("transport", c.t.name()).
		Int("close_code", code).
		Str("reason", reason).
		Dur("duration_ms", time.Duration(time.Now().UnixNano()-c.opened)).
		Uint64("frames_in", c.framesIn).
		Uint64("frames_out", framesOut).
		Msg("connection closed")
}

// endOfConn names an end of the network, not of the protocol.
func endOfConn(readErr error) (int, string) {
	var ne net.Error
	if errors.As(readErr, &ne) && ne.Timeout() {
		return closeAbnormal, endReadTimeout
	}
	return closeAbnormal, endPeerGone
}

// withoutAddrs returns err with the addresses of its network error left
// out of its text, for errors the caller logs: the peer's address is
// personal data. errors.Is and As still see the whole chain.
func withoutAddrs(err error) error {
	var op *net.OpError
	if !errors.As(err, &op) || (op.Source == nil && op.Addr == nil) {
		return err
	}
	bare := *op
	bare.Source, bare.Addr = nil, nil
	return &addrlessError{msg: strings.Replace(err.Error(), op.Error(), bare.Error(), 1), err: err}
}

type addrlessError struct {
	msg string
	err error
}

func (e *addrlessError) Error() string { return e.msg }
func (e *addrlessError) Unwrap() error { return e.err }
