package hub

import (
	"errors"
	"fmt"
	"sync"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// catchUp brings a not-live order subscription up to date from the Store
// and makes it live, with no gap and no duplicate: events are given
// strictly in seq order from lastSeq+1, and the subscription turns live
// only under the channel lock, when the Store had nothing beyond every seq
// seen live meanwhile (maxSeen) and no bus gap happened since the read
// (gaps): an event the bus lost meanwhile was committed before the gap was
// reported, so a read after it finds the event. Every published event was
// committed before it was published, so a seq seen live is always in the
// Store.
//
// With wait false (a repair worker, which must not be held by one slow
// client) it returns errNoRoom instead of waiting for room in the queue;
// the subscription stays not live, and a later catchUp continues it.
// The events it queued, if any, are observed as a resume's (wait) or a
// repair's.
func (h *Hub) catchUp(s *subscription, wait bool) error {
	cn, c := s.ch, s.c
	page := h.cfg.Limits.ReplayPage
	given := 0
	defer func() {
		if given == 0 {
			return
		}
		if wait {
			h.cfg.Observers.Resume.Observe(float64(given))
		} else {
			h.cfg.Observers.Repair.Observe(float64(given))
		}
	}()
	for {
		if err := h.room(c, wait); err != nil {
			return err
		}
		cn.mu.Lock()
		from, removed := s.lastSeq, s.removed || s.ended
		cn.mu.Unlock()
		if removed {
			return nil
		}
		gaps := h.gaps.Load()
		ctx, cancel := h.callCtx()
		events, err := h.cfg.Events.EventsAfter(ctx, cn.orderID, from, page)
		cancel()
		if err != nil {
			return fmt.Errorf("replay %s after %d: %w", cn.name, from, err)
		}
		done, n, err := h.give(s, events, len(events) < page, gaps, wait)
		given += n
		if done || err != nil {
			return err
		}
	}
}

// give queues the events that continue s's sequence, as long as the
// client's queue has room, and makes s live when the Store is exhausted
// (final) and nothing newer was seen live. It reports whether s is live,
// and how many events it queued.
func (h *Hub) give(s *subscription, events []delivery.Event, final bool, gaps uint64, wait bool) (live bool, given int, err error) {
	cn, c := s.ch, s.c
	for {
		cn.mu.Lock()
		if s.removed || s.ended {
			cn.mu.Unlock()
			return true, given, nil
		}
		for len(events) > 0 && c.hasRoom() {
			ev := events[0]
			if ev.Seq > s.lastSeq+1 {
				cn.mu.Unlock()
				return false, given, fmt.Errorf("store returned seq %d after %d", ev.Seq, s.lastSeq)
			}
			events = events[1:]
			if ev.Seq <= s.lastSeq {
				continue // already given
			}
			// Counted before it is queued: a client that has the event
			// finds it in Stats.
			h.stats.replayed.Add(1)
			c.send(encodeEvent(cn.name, ev.Type, ev.Seq, ev.Data, ev.CreatedAt.UnixMilli()))
			given++
			s.lastSeq = ev.Seq
			if ev.Type == delivery.EventOrderUnassigned {
				removed, err := delivery.UnassignedCourier(ev)
				if err != nil {
					cn.mu.Unlock()
					return false, given, err
				}
				if s.endsAt(ev.Seq, removed) {
					h.endLocked(s)
					cn.mu.Unlock()
					return true, given, nil
				}
			}
		}
		if len(events) == 0 {
			// In the same critical section as the last event given, so
			// that a client that saw it knows the subscription is live.
			live := final && s.maxSeen <= s.lastSeq && h.gaps.Load() == gaps
			s.live = live
			cn.mu.Unlock()
			return live, given, nil
		}
		cn.mu.Unlock()
		if err := h.room(c, wait); err != nil {
			return false, given, err
		}
	}
}

var errNoRoom = errors.New("hub: send queue over half full")

// room waits until c's queue has room for a replay, or with wait false
// reports errNoRoom when it has none.
func (h *Hub) room(c *client, wait bool) error {
	if wait {
		return c.waitRoom(h.ctx)
	}
	if !c.hasRoom() {
		return errNoRoom
	}
	return nil
}

// repair queues s, a live subscription with a gap, for the repair
// workers. Called with the channel lock held; s is queued at most once,
// because it is not live until its repair ended, so the queue holds at
// most every subscription once.
func (h *Hub) repair(s *subscription) {
	h.stats.repairs.Add(1)
	h.requeue(s)
}

func (h *Hub) requeue(s *subscription) {
	q := &h.repairs
	q.mu.Lock()
	q.subs = append(q.subs, s)
	q.mu.Unlock()
	q.signal()
}

// repairQueue is the work of the repair workers: after a bus reconnect
// every live order subscription repairs, by a fixed number of goroutines
// rather than one each.
type repairQueue struct {
	mu    sync.Mutex
	subs  []*subscription
	ready chan struct{} // holds a token while subs may be non-empty
}

func (q *repairQueue) signal() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is there already
	}
}

// pop takes the oldest queued subscription, nil when there is none, and
// passes the token on when more are left, so that idle workers help.
func (q *repairQueue) pop() *subscription {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.subs) == 0 {
		return nil
	}
	s := q.subs[0]
	q.subs[0] = nil
	q.subs = q.subs[1:]
	if len(q.subs) > 0 {
		q.signal()
	} else {
		q.subs = nil // let a burst's backing array go
	}
	return s
}

// repairWhenRoom queues s for the workers again once its client's queue
// has room: a slow client waits on a goroutine of its own, not on a
// worker. At most one per subscription, since s is not live meanwhile.
func (h *Hub) repairWhenRoom(s *subscription) {
	h.wg.Add(1) // the calling worker is counted: Wait cannot have returned
	go func() {
		defer h.wg.Done()
		if s.c.waitRoom(h.ctx) == nil {
			h.requeue(s)
		}
	}()
}

// repairLoop is one of the MaxRepairs workers; it ends with Shutdown,
// whose connections are closing anyway.
func (h *Hub) repairLoop() {
	defer h.wg.Done()
	for {
		select {
		case <-h.stop:
			return
		case <-h.repairs.ready:
		}
		for s := h.repairs.pop(); s != nil; s = h.repairs.pop() {
			err := h.catchUp(s, false)
			if errors.Is(err, errNoRoom) {
				h.repairWhenRoom(s)
				continue
			}
			if err != nil && !errors.Is(err, errClientClosed) && h.ctx.Err() == nil {
				h.log.Error().Err(err).Str("channel", s.ch.name).Msg("gap repair failed")
				// The client has a hole it cannot see: make it reconnect
				// and resume with since.
				s.c.closeWith(wire.ReasonResume)
			}
			select {
			case <-h.stop:
				return
			default:
			}
		}
	}
}
