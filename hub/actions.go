package hub

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// action serves a chat, typing, read or location frame through Actions,
// within ActionTimeout, and acks it.
func (c *client) action(f wire.ClientFrame) error {
	h := c.hub
	if h.cfg.Actions == nil {
		return delivery.Errorf(wire.CodeNotImplemented, "%s frames are not served yet", f.Type)
	}
	ctx, cancel := h.callCtx()
	defer cancel()
	if f.Type == wire.TypeTyping {
		if err := c.typing(ctx, f.OrderID); err != nil {
			return err
		}
		c.sendAck(f.ID)
		return nil
	}
	seq, err := h.cfg.Actions.HandleFrame(ctx, c.actor, f)
	if err != nil {
		return err
	}
	if f.ID != nil && seq != 0 {
		c.send(wire.AppendAckSeq(make([]byte, 0, len(f.ID)+48), f.ID, seq))
	} else {
		c.sendAck(f.ID)
	}
	return nil
}

// typing publishes chat.typing of c's user on the order's channel, to
// everyone there but the user's own sockets, at most once per
// TypingInterval per user and order on this instance. A typing frame
// within the interval is acked and dropped: the client repeats it while
// the user types, so the next one carries the news.
func (c *client) typing(ctx context.Context, orderID delivery.ID) error {
	h := c.hub
	k := typingKey{user: c.actor.UserID, order: orderID}
	window := int64(h.cfg.Limits.TypingInterval)
	// A mark exists only after CanType said yes, and a party stays a
	// party, so a coalesced frame needs no store read.
	if h.typing.recent(k, h.now().UnixNano(), window) {
		h.stats.typingCoalesced.Add(1)
		return nil
	}
	if err := h.cfg.Actions.CanType(ctx, c.actor, orderID); err != nil {
		return err
	}
	if !h.typing.claim(k, h.now().UnixNano(), window) {
		h.stats.typingCoalesced.Add(1) // another socket of the user won the interval
		return nil
	}
	ch := wire.OrderChannel(orderID)
	data := typingData(orderID, c.actor)
	frame := encodeEvent(ch, wire.EventChatTyping, 0, data, time.Now().UnixMilli())
	h.stats.published.Add(1)
	return h.cfg.Bus.Publish(ctx, delivery.BusMessage{Channel: ch, Frame: frame, Except: c.actor.UserID})
}

// typingData is {"order_id":"42","user_id":"7","role":"customer"}.
func typingData(orderID delivery.ID, a delivery.Actor) []byte {
	b := make([]byte, 0, 96)
	b = append(b, `{"order_id":`...)
	b = append(b, jsonID(orderID)...)
	b = append(b, `,"user_id":`...)
	b = append(b, jsonID(a.UserID)...)
	b = append(b, `,"role":`...)
	b = wire.AppendString(b, string(a.Role))
	return append(b, '}')
}

type typingKey struct{ user, order delivery.ID }

// typingGate remembers when each user last published typing on each
// order: a timestamp check instead of a timer per connection. Entries
// older than the interval hold nothing back and the sweeper drops them,
// so the map holds only the users typing in the last interval or so.
type typingGate struct {
	mu   sync.Mutex
	last map[typingKey]int64 // Unix ns, by the hub's clock
}

func (g *typingGate) recent(k typingKey, now, window int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	at, ok := g.last[k]
	return ok && now-at < window
}

// claim records a publish at now unless one was recorded within window.
func (g *typingGate) claim(k typingKey, now, window int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if at, ok := g.last[k]; ok && now-at < window {
		return false
	}
	g.last[k] = now
	return true
}

func (g *typingGate) sweep(now, window int64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for k, at := range g.last {
		if now-at >= window {
			delete(g.last, k)
		}
	}
}

// sendLastLocation gives a new subscriber of an order channel the
// courier's last position, after its replay. asOf is the order's seq when
// the subscription was authorized: LastLocation found the order active at
// that seq or later, so the position is sent only if the subscriber has
// been given nothing beyond asOf (the event that ended the delivery may
// be among what came since), and only if no live position reached it
// meanwhile (that one is newer).
func (h *Hub) sendLastLocation(s *subscription, asOf int64) {
	ctx, cancel := h.callCtx()
	defer cancel()
	loc, ok, err := h.cfg.Actions.LastLocation(ctx, s.c.actor, s.ch.orderID)
	if err != nil {
		h.log.Warn().Err(err).Str("channel", s.ch.name).Msg("last location")
		return
	}
	if !ok {
		return
	}
	data, err := json.Marshal(loc)
	if err != nil {
		return // plain numbers: cannot fail
	}
	frame := encodeEvent(s.ch.name, delivery.EventCourierLocation, 0, data, time.Now().UnixMilli())
	cn := s.ch
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if !s.removed && !s.ended && !s.gotLocation && s.lastSeq <= asOf {
		s.gotLocation = true
		s.c.sendEphemeral(frame)
	}
}
