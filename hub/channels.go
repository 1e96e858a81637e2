package hub

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// numShards spreads the channel index so that subscription churn on one
// channel does not stall lookups on others.
const numShards = 64

var shardSeed = maphash.MakeSeed()

// shard is one part of the channel index.
type shard struct {
	mu sync.RWMutex // guards m: lookups take it for reading
	m  map[string]*channel
	// subMu serializes membership changes of the shard's channels (m,
	// each channel's subs and the fields below them). It is never held
	// across a bus call, which may wait seconds for Redis: a channel's
	// state orders its bus calls instead.
	subMu sync.Mutex
}

// channel is a channel with local subscribers, or on its way to or from
// having them: it is in the index from its first subscriber's arrival
// until the bus Unsubscribe after its last returned, so that the bus
// calls for one name never overlap (an Unsubscribe overtaken by a
// Subscribe would leave the channel unsubscribed in Redis while it has
// subscribers here).
type channel struct {
	name    string
	kind    wire.Kind
	orderID delivery.ID // KindOrder only
	// mu guards subs and the sequence state of every subscription; it is
	// held for a whole fan-out so that every subscriber sees one order.
	mu   sync.Mutex
	subs []*subscription

	// Guarded by the shard's subMu. ready is closed once the first
	// subscriber's bus Subscribe returned, with its error in subErr: no
	// subscriber is registered before, so that none reads the Store
	// (catchUp) before every later publish is sure to arrive. joining
	// counts subscribers between their arrival and their registration,
	// so that the channel is not left under them. leaving: its last
	// subscriber left and the bus Unsubscribe is under way; gone is closed
	// once it returned and the channel left the index, which a subscriber
	// arriving meanwhile waits for.
	ready   chan struct{}
	subErr  error
	joining int
	leaving bool
	gone    chan struct{}
}

// subscription is one client on one channel.
type subscription struct {
	ch  *channel
	c   *client
	idx int // position in ch.subs

	// Sequence state, order channels only, guarded by ch.mu. lastSeq is
	// the last durable event given to the client. While live, the next
	// event must be lastSeq+1: older ones are duplicates and dropped, a
	// newer one means one is missing (published out of order, or lost by
	// the bus), and the Store fills the gap. While not live (replaying),
	// live events are only noted in maxSeen, and the replay reads the
	// Store until it has passed maxSeen. On a track channel, which carries
	// one order's events with no replay, lastSeq is only the highest seq
	// given (or read with the latest state on subscribe): a latest-value
	// frame checked before it (AsOf) is stale.
	lastSeq int64
	maxSeen int64
	live    bool
	removed bool
	// seen: the durable events a feed subscription was given, to drop a
	// relayed second copy (guarded by ch.mu; nil until the first).
	seen feedSeen
	// gotLatest: the latest-value events (a position, an ETA) given, so
	// that sendLatest, after the replay, gives none of a kind that came
	// live (its own would be older), and that the live one it raced with
	// is not given twice (guarded by ch.mu).
	gotLatest latestSeen
	// ended: the client is no longer entitled to the channel (endLocked);
	// nothing more is given, and the removal is under way (guarded by
	// ch.mu). authSeq: the order's seq when the subscription was
	// authorized, set before its first catchUp.
	ended   bool
	authSeq int64
}

// latestSeen holds, for each latest-value event (a position, an ETA) a
// subscription was given, a hash of the data it was given last: few kinds
// a channel, so a slice, grown once a kind.
type latestSeen []latestGiven

type latestGiven struct {
	event string
	data  uint64 // latestHash of the data
}

// latestSeed hashes latest-value data: a repeat is told by its hash.
var latestSeed = maphash.MakeSeed()

func latestHash(data []byte) uint64 { return maphash.Bytes(latestSeed, data) }

func (l latestSeen) find(event []byte) int {
	for i, g := range l {
		if g.event == string(event) {
			return i
		}
	}
	return -1
}

func (l latestSeen) has(event []byte) bool { return l.find(event) >= 0 }

// repeats reports whether data is what the subscription was last given of
// event.
func (l latestSeen) repeats(event []byte, data uint64) bool {
	i := l.find(event)
	return i >= 0 && l[i].data == data
}

func (l *latestSeen) set(event []byte, data uint64) {
	if i := l.find(event); i >= 0 {
		(*l)[i].data = data
		return
	}
	*l = append(*l, latestGiven{string(event), data})
}

func (h *Hub) shard(name string) *shard {
	return &h.shards[maphash.String(shardSeed, name)%numShards]
}

// subscribe adds c to channel name, subscribing the bus on the channel's
// first local subscriber; it returns once the bus subscription is in
// effect, the caller's own or a first subscriber's it waited for. The ack
// for id, if any, is queued in the same critical section as the
// registration, so that it precedes every event of the channel. Order
// channels start not live, at lastSeq: the caller runs catchUp.
func (h *Hub) subscribe(c *client, name string, ch wire.Channel, lastSeq int64, id []byte) (*subscription, error) {
	sh := h.shard(name)
	cn := h.join(sh, name, ch)
	<-cn.ready // bounded: the first subscriber's bus call has a deadline
	sh.subMu.Lock()
	defer sh.subMu.Unlock()
	cn.joining--
	if cn.subErr != nil {
		return nil, cn.subErr
	}
	s := &subscription{ch: cn, c: c, lastSeq: lastSeq, live: ch.Kind != wire.KindOrder}
	cn.mu.Lock()
	s.idx = len(cn.subs)
	cn.subs = append(cn.subs, s)
	c.sendAck(id)
	cn.mu.Unlock()
	h.stats.subscriptions[ch.Kind].Add(1)
	return s, nil
}

// join returns channel name with the caller counted as joining it. The
// first subscriber creates the channel and subscribes the bus, outside
// the shard's lock, while later ones wait for it in subscribe; one that
// arrives while the channel is being left waits until the bus
// Unsubscribe returned, and starts anew.
func (h *Hub) join(sh *shard, name string, ch wire.Channel) *channel {
	for {
		sh.subMu.Lock()
		cn := sh.m[name]
		if cn != nil && cn.leaving {
			gone := cn.gone
			sh.subMu.Unlock()
			<-gone // bounded: the bus call has a deadline
			continue
		}
		first := cn == nil
		if first {
			cn = &channel{name: name, kind: ch.Kind, orderID: ch.ID, ready: make(chan struct{})}
			sh.mu.Lock()
			sh.m[name] = cn
			sh.mu.Unlock()
		}
		cn.joining++
		sh.subMu.Unlock()
		if first {
			var err error
			if !localOnly(ch.Kind) {
				ctx, cancel := h.callCtx()
				err = h.cfg.Bus.Subscribe(ctx, name)
				cancel()
			}
			sh.subMu.Lock()
			if cn.subErr = err; err != nil {
				// Those waiting fail with it; the next one tries anew.
				sh.mu.Lock()
				delete(sh.m, name)
				sh.mu.Unlock()
			}
			close(cn.ready)
			sh.subMu.Unlock()
		}
		return cn
	}
}

// unsubscribe removes s, and the channel after its last subscriber: the
// bus Unsubscribe runs outside the shard's lock, the channel staying in
// the index as leaving until it returned.
func (h *Hub) unsubscribe(s *subscription) {
	cn := s.ch
	sh := h.shard(cn.name)
	sh.subMu.Lock()
	cn.mu.Lock()
	if s.removed {
		cn.mu.Unlock()
		sh.subMu.Unlock()
		return
	}
	s.removed = true
	last := len(cn.subs) - 1
	cn.subs[s.idx] = cn.subs[last]
	cn.subs[s.idx].idx = s.idx
	cn.subs[last] = nil
	cn.subs = cn.subs[:last]
	cn.mu.Unlock()
	h.stats.subscriptions[cn.kind].Add(-1)
	if last > 0 || cn.joining > 0 {
		sh.subMu.Unlock()
		return
	}
	cn.leaving, cn.gone = true, make(chan struct{})
	sh.subMu.Unlock()
	if !localOnly(cn.kind) {
		ctx, cancel := h.callCtx()
		err := h.cfg.Bus.Unsubscribe(ctx, cn.name)
		cancel()
		if err != nil {
			h.log.Warn().Err(err).Str("channel", cn.name).Msg("bus unsubscribe")
		}
	}
	sh.subMu.Lock()
	sh.mu.Lock()
	delete(sh.m, cn.name)
	sh.mu.Unlock()
	close(cn.gone)
	sh.subMu.Unlock()
}

// localOnly reports whether channels of kind k have their events from
// this instance alone (PushLocal), so that the bus is not subscribed for
// them: each instance tells its own operators its fleet view.
func localOnly(k wire.Kind) bool { return k == wire.KindOps }

// LocalSubscribers returns how many connections of this instance
// subscribe to the channel name now.
func (h *Hub) LocalSubscribers(name string) int {
	cn := h.lookup(name)
	if cn == nil {
		return 0
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return len(cn.subs)
}

// PushLocal gives the ephemeral event (no seq) to this instance's
// subscribers of channel name, without the bus: the ops channel, whose
// figures each instance sends its own operators. It never blocks.
func (h *Hub) PushLocal(name, event string, data []byte) {
	cn := h.lookup(name)
	if cn == nil {
		return
	}
	frame := encodeEvent(name, event, 0, data, time.Now().UnixMilli())
	cn.mu.Lock()
	defer cn.mu.Unlock()
	for _, s := range cn.subs {
		if !s.ended {
			h.stats.delivered.Add(1)
			s.c.sendEphemeral(frame)
		}
	}
}

func (h *Hub) lookup(name string) *channel {
	sh := h.shard(name)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.m[name]
}

// maxDirectFanout is the largest fan-out whose frames the fan-out itself
// writes to idle sockets (client.writeNowLocked): an order channel's
// parties, a user's sockets. A larger one queues them for the sockets'
// writers, which write on every core at once instead of one after another
// under the channel's lock.
const maxDirectFanout = 16

// inbound is the hub as the bus's handler.
type inbound Hub

// HandleMessage queues msg's frame for every local subscriber of its
// channel. It never blocks on a socket (client.send only queues).
func (in *inbound) HandleMessage(msg delivery.BusMessage) {
	h := (*Hub)(in)
	cn := h.lookup(msg.Channel)
	if cn == nil {
		return
	}
	cn.mu.Lock()
	defer cn.mu.Unlock()
	h.stats.delivered.Add(uint64(len(cn.subs)))
	now := len(cn.subs) <= maxDirectFanout
	if cn.kind != wire.KindOrder || msg.Seq == 0 {
		var order delivery.ID // of a feed's durable event
		if msg.Seq != 0 {
			order = wire.EventOrder(msg.Frame)
		}
		var latest []byte // the event of a latest-value one (AsOf set)
		var latestData uint64
		if msg.AsOf != 0 {
			_, latest, _ = wire.EventNames(msg.Frame)
			if data, ok := wire.EventData(msg.Frame); ok {
				latestData = latestHash(data)
			}
		}
		for _, s := range cn.subs {
			switch {
			case s.ended:
			case order != 0 && !s.seen.first(order, msg.Seq):
				h.stats.feedDuplicates.Add(1) // a relayed copy
			case msg.Courier != 0 && s.c.actor.Role == delivery.RoleCourier && s.c.actor.UserID != msg.Courier:
				// Another courier's position: this one may hold the
				// channel only until the unassign that removed it arrives.
			case msg.Except != 0 && s.c.actor.UserID == msg.Except:
				// Not echoed to its sender (typing).
			case msg.AsOf != 0 && s.lastSeq > msg.AsOf:
				// Checked before an event this subscriber already has,
				// which may have ended the delivery (a position).
				h.stats.locationsStale.Add(1)
			case latest != nil && s.gotLatest.repeats(latest, latestData):
				// sendLatest gave this very one: it read the position
				// store after the publish, before the bus delivered it.
			default:
				if latest != nil {
					s.gotLatest.set(latest, latestData)
				}
				if msg.Expires != 0 {
					s.c.expireBy(msg.Expires)
				}
				if cn.kind == wire.KindTrack {
					s.lastSeq = max(s.lastSeq, msg.Seq)
				}
				s.c.enqueue(msg.Frame, msg.Seq == 0, now) // a feed's durable events have their seq
			}
		}
		return
	}
	for _, s := range cn.subs {
		switch {
		case !s.live:
			s.maxSeen = max(s.maxSeen, msg.Seq)
		case msg.Seq <= s.lastSeq:
			// Already given (by the replay, or a redelivery).
		case msg.Seq == s.lastSeq+1:
			s.lastSeq = msg.Seq
			s.c.enqueue(msg.Frame, false, now)
			if s.endsAt(msg.Seq, msg.Revoke) {
				h.endLocked(s)
			}
		default:
			s.live, s.maxSeen = false, msg.Seq
			h.repair(s)
		}
	}
}

// HandleGap re-reads the Store for every order subscription, after the
// bus may have lost messages.
func (in *inbound) HandleGap() {
	h := (*Hub)(in)
	// Subscriptions still catching up read the Store again before they go
	// live (catchUp); live ones are repaired below.
	h.gaps.Add(1)
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, cn := range sh.m {
			if cn.kind != wire.KindOrder {
				continue
			}
			cn.mu.Lock()
			for _, s := range cn.subs {
				if s.live {
					s.live = false
					h.repair(s)
				}
			}
			cn.mu.Unlock()
		}
		sh.mu.RUnlock()
	}
}
