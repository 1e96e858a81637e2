package hub

import (
	"errors"
	"slices"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// readLoop reads the client's frames and handles them, then reads the
// one after a frame on a goroutine of its own, until the connection ends
// and it cleans up: the connection's one long-lived goroutine, in relays.
// The work of a client frame (service and store calls, JSON) grows a
// stack to 8 KiB or more, and the library's read to 4 KiB, which a reader
// waiting for the next frame would keep, for good: the runtime halves a
// stack only while less than a quarter of it is in use, which a parked
// reader never is. A fresh goroutine waits on the runtime's smallest stack
// (2 KiB; wsConn.awaitFrame keeps it there), for a goroutine start per
// client frame (frames are rate-limited) and per ping or pong (a pong a
// PingInterval). Positions are the exception: a courier's socket sends one
// a second, whose relay (a start, and a wake-up of an idle thread to run
// it) cost more than the rest of its work, so the same goroutine reads the
// next frame, and the stack they grew goes at the next ping or pong.
func (c *client) readLoop() {
	for {
		bp, msg, text, err := c.t.read()
		if err != nil {
			c.cleanup(err)
			c.hub.wg.Done()
			return
		}
		if bp == nil { // a ping or pong awaitFrame took
			break
		}
		c.framesIn++
		c.touch()
		c.hub.stats.received.Add(1)
		position := false
		if c.admit() {
			position = c.handle(msg, text)
		}
		putBuf(bp, msg)
		if !position {
			break
		}
	}
	go c.readLoop() // the reader's count of wg goes with it
}

// onOwnStack runs fn on a goroutine of its own and waits for it, so that
// the caller's stack does not grow with fn's (readLoop says why that
// matters to a goroutine that then waits long).
func onOwnStack(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// cleanup leaves every channel, releases the connection and logs its
// end.
func (c *client) cleanup(readErr error) {
	c.mu.Lock()
	code, reason := c.endLocked(readErr)
	c.done = true
	clear(c.queue)
	c.queue, c.spare, c.queued = nil, nil, 0
	c.wakeLocked()
	c.mu.Unlock()
	for _, s := range c.subs {
		c.hub.unsubscribe(s)
	}
	c.subs = nil
	c.hub.remove(c, code)
	c.t.release(readErr)
	c.logClosed(code, reason)
}

// handle answers one client frame, and reports whether it was a position
// (readLoop). Every error is an error frame; the connection stays up.
func (c *client) handle(msg []byte, text bool) (position bool) {
	if !text {
		c.sendError(nil, delivery.Errorf(wire.CodeBadFrame, "frames must be text messages holding JSON"))
		return false
	}
	f, err := wire.Decode(msg)
	if err != nil {
		c.sendError(f.ID, err)
		return false
	}
	position = f.Type == wire.TypeLocation
	if err := c.viewerMay(f.Type); err != nil {
		c.sendError(f.ID, err)
		return
	}
	switch f.Type {
	case wire.TypeSubscribe:
		err = c.subscribe(f) // acks itself, before any event of the channel
	case wire.TypeUnsubscribe:
		if err = c.unsubscribe(f); err == nil {
			c.sendAck(f.ID)
		}
	case wire.TypeAuth:
		if err = c.reauth(f); err == nil {
			c.sendAck(f.ID)
		}
	default:
		err = c.action(f) // acks itself: a chat ack carries the seq
	}
	if err != nil {
		c.sendError(f.ID, err)
		var ca *closeAfter
		if errors.As(err, &ca) {
			c.closeWith(ca.reason)
		}
	}
	return position
}

// viewerMay refuses a viewer (a tracking link's holder) every frame but
// subscribe and unsubscribe: it has no user to chat, type, read, send
// positions or change its token as. Which channels it may subscribe to
// is Orders' to decide (its own track channel only).
func (c *client) viewerMay(t string) error {
	if c.actor.Role != delivery.RoleViewer || t == wire.TypeSubscribe || t == wire.TypeUnsubscribe {
		return nil
	}
	return delivery.Errorf(wire.CodeForbidden, "a tracking link may only subscribe to its order's track channel")
}

// closeAfter is an error answered with an error frame, after which the
// connection is closed with code.
type closeAfter struct {
	err    error
	reason wire.CloseReason
}

func (e *closeAfter) Error() string { return e.err.Error() }
func (e *closeAfter) Unwrap() error { return e.err }

// subscribe authorizes and registers a subscription, acks it, and for an
// order channel replays what the client missed (since) before going live.
func (c *client) subscribe(f wire.ClientFrame) error {
	ch, err := wire.ParseChannel(f.Channel)
	if err != nil {
		return err
	}
	s, err := c.join(ch, f.Since, f.ID)
	if s != nil {
		c.goLive(s)
	}
	return err
}

// join authorizes ch for the client and registers the subscription, the
// ack for id (if any) queued before any event of it. An order channel
// starts at since (without: at the order's current seq) and is not live
// until goLive. A channel the client holds already is acked again and
// returns nil. Reader goroutine only (or before it starts): every
// transport subscribes through here.
func (c *client) join(ch wire.Channel, since *int64, id []byte) (*subscription, error) {
	if since != nil && ch.Kind != wire.KindOrder {
		return nil, delivery.Errorf(wire.CodeInvalid, "since: only order channels are numbered; resynchronize feeds with GET /orders")
	}
	name := ch.String()
	if s := c.sub(name); s != nil {
		if !s.isEnded() {
			c.sendAck(id) // subscribing twice is harmless
			return nil, nil
		}
		c.dropSub(s) // ended by the hub: authorize anew
	}
	if len(c.subs) >= c.hub.cfg.Limits.MaxSubscriptions {
		c.forgetEnded()
	}
	if len(c.subs) >= c.hub.cfg.Limits.MaxSubscriptions {
		return nil, delivery.Errorf(wire.CodeTooManySubscriptions, "at most %d subscriptions per connection", c.hub.cfg.Limits.MaxSubscriptions)
	}
	seq, err := c.hub.authorize(c.actor, ch)
	if err != nil {
		return nil, err
	}
	from := seq // without since: live from the order's current seq
	if since != nil {
		if *since > seq {
			return nil, delivery.Errorf(wire.CodeInvalid, "since: order %s is at seq %d", ch.ID, seq)
		}
		from = *since
	}
	s, err := c.hub.subscribe(c, name, ch, from, id)
	if err != nil {
		return nil, err
	}
	s.authSeq = seq // before catchUp, the only reader of it
	c.subs = append(c.subs, s)
	return s, nil
}

// goLive replays what an order subscription missed and makes it live,
// then sends the courier's last known position; other channels are live
// from their registration, a track channel's subscriber given the
// tracking view's current state first. Replay runs inline: the next frame of this
// client waits, which bounds the store work one client can start at once.
func (c *client) goLive(s *subscription) {
	if s.ch.kind == wire.KindTrack {
		c.hub.sendLatest(s) // the tracking view's current state
	}
	if s.ch.kind != wire.KindOrder {
		return
	}
	name := s.ch.name
	if err := c.hub.catchUp(s, true); err != nil {
		c.dropSub(s)
		c.hub.unsubscribe(s)
		if errors.Is(err, errClientClosed) {
			return
		}
		// The subscribe is acked already, so an error frame would answer
		// nothing the client waits for and leave it believing it is
		// subscribed. As after a failed gap repair: reconnect, resume.
		c.log(zerolog.ErrorLevel).Err(err).Str("channel", name).Msg("replay failed")
		c.closeWith(wire.ReasonResume)
		return
	}
	c.hub.sendLatest(s)
}

// forgetEnded drops the subscriptions the hub ended from c.subs, so that
// they do not count against the limit.
func (c *client) forgetEnded() {
	c.subs = slices.DeleteFunc(c.subs, (*subscription).isEnded)
}

// sub returns the subscription to the channel name, or nil.
func (c *client) sub(name string) *subscription {
	for _, s := range c.subs {
		if s.ch.name == name {
			return s
		}
	}
	return nil
}

// dropSub removes s from c.subs.
func (c *client) dropSub(s *subscription) {
	c.subs = slices.DeleteFunc(c.subs, func(x *subscription) bool { return x == s })
}

func (c *client) unsubscribe(f wire.ClientFrame) error {
	ch, err := wire.ParseChannel(f.Channel)
	if err != nil {
		return err
	}
	if s := c.sub(ch.String()); s != nil {
		c.dropSub(s)
		c.hub.unsubscribe(s)
	}
	return nil
}

// reauth takes a fresh token for the same user, which moves the time at
// which the connection is closed with 4001. A token of someone else
// closes the connection with 4003: a connection has one identity.
func (c *client) reauth(f wire.ClientFrame) error {
	claims, err := c.hub.cfg.Tokens.Verify(f.Token)
	if err != nil {
		return delivery.Errorf(wire.CodeUnauthorized, "%s", delivery.ErrorMessage(err))
	}
	if claims.Actor() != c.actor {
		return &closeAfter{delivery.Errorf(wire.CodeForbidden, "token of another user"), wire.ReasonOtherUser}
	}
	c.setClaims(claims)
	return nil
}
