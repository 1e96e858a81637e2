package hub

import (
	"context"
	"sync"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// action serves a chat, typing, read or location frame through Orders,
// within ActionTimeout, and acks it; a chat's ack carries the message's
// seq (the same on a retry).
func (c *client) action(f wire.ClientFrame) error {
	h := c.hub
	ctx, cancel := h.callCtx()
	defer cancel()
	var seq int64
	var err error
	switch f.Type {
	case wire.TypeTyping:
		err = c.typing(ctx, f.OrderID)
	case wire.TypeChat:
		var m delivery.Message
		m, _, err = h.cfg.Orders.PostMessage(ctx, c.actor, f.OrderID, delivery.MessageInput{Text: f.Text, ClientMsgID: f.ClientMsgID})
		seq = m.Seq
	case wire.TypeRead:
		_, _, err = h.cfg.Orders.MarkRead(ctx, c.actor, f.OrderID, f.Seq)
	case wire.TypeLocation:
		_, err = h.cfg.Orders.UpdateLocation(ctx, c.actor, delivery.LocationUpdate{Lat: f.Lat, Lng: f.Lng, Heading: f.Heading, Speed: f.Speed, Ts: f.Ts})
	default:
		return delivery.Errorf(wire.CodeUnknownType, "type: %s frames are not served", f.Type)
	}
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

// typing publishes the chat.typing of c's user that Orders allows, at most
// once per TypingInterval per user and order on this instance. A typing
// frame within the interval is acked and dropped: the client repeats it
// while the user types, so the next one carries the news.
func (c *client) typing(ctx context.Context, orderID delivery.ID) error {
	h := c.hub
	k := typingKey{user: c.actor.UserID, order: orderID}
	window := int64(h.cfg.Limits.TypingInterval)
	// A mark exists only after MayType said yes, and a party stays a
	// party, so a coalesced frame needs no store read.
	if h.typing.recent(k, h.now().UnixNano(), window) {
		h.stats.typingCoalesced.Add(1)
		return nil
	}
	pub, err := h.cfg.Orders.MayType(ctx, c.actor, orderID)
	if err != nil {
		return err
	}
	if !h.typing.claim(k, h.now().UnixNano(), window) {
		h.stats.typingCoalesced.Add(1) // another socket of the user won the interval
		return nil
	}
	return h.cfg.Publisher.Publish(ctx, pub)
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

// sendLatest gives a new subscriber the latest-value events of its channel
// (the courier's last position, the order's ETA), after its replay. Each
// carries the seq at which Orders found it current (AsOf): it is sent only
// if the subscriber has been given nothing beyond that (the event that
// ended the delivery may be among what came since), and only if no live
// event of its kind reached it meanwhile (that one is newer). The live one
// it read may still be on its way through the bus: HandleMessage drops it.
func (h *Hub) sendLatest(s *subscription) {
	ctx, cancel := h.callCtx()
	defer cancel()
	pubs, err := h.cfg.Orders.Latest(ctx, s.c.actor, s.ch.name)
	if err != nil {
		s.c.log(zerolog.WarnLevel).Err(err).Str("channel", s.ch.name).Msg("latest events")
		return
	}
	cn := s.ch
	for _, p := range pubs {
		if p.Expires != 0 {
			s.c.expireBy(p.Expires) // the order ended before it was subscribed
		}
		frame := encodeEvent(cn.name, p.Event, 0, p.Data, p.Ts)
		cn.mu.Lock()
		event := []byte(p.Event)
		if !s.removed && !s.ended && !s.gotLatest.has(event) && s.lastSeq <= p.AsOf {
			s.gotLatest.set(event, latestHash(p.Data))
			s.c.sendEphemeral(frame)
			if cn.kind == wire.KindTrack {
				s.lastSeq = p.AsOf // the state it was given is as of this seq
			}
		}
		cn.mu.Unlock()
	}
}

// authorize asks Orders whether a may subscribe to ch; for an order
// channel it returns the order's current seq.
func (h *Hub) authorize(a delivery.Actor, ch wire.Channel) (int64, error) {
	ctx, cancel := h.callCtx()
	defer cancel()
	return h.cfg.Orders.MaySubscribe(ctx, a, ch.String())
}
