package hub

import (
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// endsAt reports whether the durable event seq, which removed the courier
// removed from the order (order.unassigned; 0: none), ends s: s is that
// courier's and was authorized before the event. A courier assigned again
// later subscribes anew, authorized after it, and keeps its subscription
// when its replay passes the old unassign.
func (s *subscription) endsAt(seq int64, removed delivery.ID) bool {
	return removed != 0 && removed == s.c.actor.UserID && seq > s.authSeq
}

// endLocked ends s because its client is no longer entitled to the
// channel: after the last event given, an unsubscribed frame, and nothing
// more of the channel. Called with s.ch.mu held; the removal runs apart,
// since unsubscribe takes the shard's lock, which comes before the
// channel's. A client subscribing to the channel again is authorized anew.
func (h *Hub) endLocked(s *subscription) {
	if s.ended {
		return
	}
	s.ended, s.live = true, false
	s.c.send(wire.AppendUnsubscribed(make([]byte, 0, len(s.ch.name)+64), s.ch.name, wire.CodeForbidden))
	h.wg.Add(1) // s is listed, so its client's reader is counted: Wait cannot have returned
	go func() {
		defer h.wg.Done()
		h.unsubscribe(s)
	}()
}

// isEnded reports whether the hub ended s (endLocked).
func (s *subscription) isEnded() bool {
	s.ch.mu.Lock()
	defer s.ch.mu.Unlock()
	return s.ended
}
