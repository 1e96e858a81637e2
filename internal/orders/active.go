package orders

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/control"
	"github.com/ordercast/ordercast/internal/delivery"
)

// CourierChannel is the bus channel on which instances announce couriers
// whose active orders changed (internal/control).
const CourierChannel = "ops.couriers"

// activeTTL bounds how long a courier's active orders are used without
// reading them again: only a backstop, since every change of them is
// announced; it covers an announcement the bus lost without a gap.
const activeTTL = 30 * time.Second

// maxPending bounds the couriers waiting to be announced; past it the
// announcement is of every courier. announceTimeout bounds one.
const (
	maxPending      = 4096
	announceTimeout = 5 * time.Second
)

// ActiveCache keeps each courier's active orders as the store last gave
// them, so that a position (one a second per courier) reads no store:
// routing it needs the orders' seqs, stays and ETAs, which only change
// with an event of the order (every instance forgets the courier then:
// Service.publish announces it), a stay recorded or an ETA stored (the
// instance that wrote them updates its copy; another one's copy fails its
// next compare and set, and forgets). A copy a little stale routes
// safely: a position is published AsOf the seq read, and the hub gives it
// to no subscriber that already has a later event; stays and ETAs are
// written with a compare and set. It is safe for concurrent use.
type ActiveCache struct {
	now func() time.Time
	log zerolog.Logger

	mu    sync.Mutex
	m     map[delivery.ID]*activeEntry
	added int // entries made since the last sweep

	// What this instance changed, announced to the others by one loop
	// (announceLoop) so that no request waits for the bus: the couriers,
	// or all of them. Guarded by annMu.
	annMu      sync.Mutex
	bus        delivery.Bus // nil: this instance only
	pending    map[delivery.ID]struct{}
	pendingAll bool
	wake       chan struct{} // cap 1: something is pending
	stop, done chan struct{} // of announceLoop
}

type activeEntry struct {
	orders []delivery.ActiveOrder
	readAt time.Time
	valid  bool
	// version moves with every change of the entry: a read begun before
	// one is not kept.
	version uint64
}

// NewActiveCache returns an empty cache; now is the clock of its expiry
// (time.Now when nil).
func NewActiveCache(now func() time.Time, log zerolog.Logger) *ActiveCache {
	if now == nil {
		now = time.Now
	}
	return &ActiveCache{
		now: now, log: log.With().Str("component", "orders").Logger(), m: make(map[delivery.ID]*activeEntry),
		pending: make(map[delivery.ID]struct{}), wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
}

// Bus returns b with CourierChannel taken out of it, its announcements
// handed to the cache, and starts announcing on b until Close. After a
// gap in b the cache forgets everything.
func (c *ActiveCache) Bus(b delivery.Bus) delivery.Bus {
	c.annMu.Lock()
	c.bus = b
	c.annMu.Unlock()
	go c.announceLoop()
	return control.Bus(b, control.Listener{Channel: CourierChannel, Message: c.received, Gap: c.forgetAll, Done: c.stop}, c.log)
}

// Close stops announcing, after what is pending; call it once, after
// the last change, if Bus was called.
func (c *ActiveCache) Close() {
	close(c.stop)
	<-c.done
}

// announceLoop publishes what is pending whenever there is some, until
// Close (then once more, for the last changes).
func (c *ActiveCache) announceLoop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			c.announcePending()
			return
		case <-c.wake:
			c.announcePending()
		}
	}
}

func (c *ActiveCache) announcePending() {
	c.annMu.Lock()
	m := couriersChanged{All: c.pendingAll}
	if !m.All {
		for id := range c.pending {
			m.Couriers = append(m.Couriers, id)
		}
	}
	clear(c.pending)
	c.pendingAll = false
	b := c.bus
	c.annMu.Unlock()
	if !m.All && len(m.Couriers) == 0 {
		return
	}
	frame, err := json.Marshal(m)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), announceTimeout)
		err = b.Publish(ctx, delivery.BusMessage{Channel: CourierChannel, Frame: frame})
		cancel()
	}
	if err != nil {
		c.log.Warn().Err(err).Msg("announce couriers whose orders changed")
	}
}

// couriersChanged is a message of CourierChannel: every courier, or
// those listed.
type couriersChanged struct {
	All      bool          `json:"all,omitempty"`
	Couriers []delivery.ID `json:"couriers,omitempty"`
}

func (c *ActiveCache) received(frame []byte) {
	var m couriersChanged
	if err := json.Unmarshal(frame, &m); err != nil {
		c.log.Warn().Err(err).Msg("malformed message on " + CourierChannel)
		return
	}
	if m.All {
		c.forgetAll()
		return
	}
	c.forget(m.Couriers...)
}

// get returns courier's active orders, from the cache or from read.
func (c *ActiveCache) get(ctx context.Context, courier delivery.ID, read func(context.Context, delivery.ID) ([]delivery.ActiveOrder, error)) ([]delivery.ActiveOrder, error) {
	now := c.now()
	c.mu.Lock()
	e := c.m[courier]
	if e == nil {
		e = &activeEntry{}
		c.m[courier] = e
		c.added++
		c.sweepLocked(now)
	}
	if e.valid && now.Sub(e.readAt) < activeTTL {
		out := slices.Clone(e.orders)
		c.mu.Unlock()
		return out, nil
	}
	version := e.version
	c.mu.Unlock()
	orders, err := read(ctx, courier)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if e.version == version && c.m[courier] == e {
		e.orders, e.readAt, e.valid = slices.Clone(orders), now, true
	}
	c.mu.Unlock()
	return orders, nil
}

// sweepLocked drops the entries past their expiry once as many were made
// as the cache holds, so that it holds the couriers sending positions,
// not every courier ever seen.
func (c *ActiveCache) sweepLocked(now time.Time) {
	if c.added < max(1024, len(c.m)/2) {
		return
	}
	c.added = 0
	for id, e := range c.m {
		if !e.valid || now.Sub(e.readAt) >= activeTTL {
			delete(c.m, id)
		}
	}
}

// changed forgets couriers here and has them announced to the other
// instances; a lost announcement leaves their copies to activeTTL or to
// their next failed compare and set.
func (c *ActiveCache) changed(couriers ...delivery.ID) {
	if len(couriers) == 0 {
		return
	}
	c.forget(couriers...)
	c.annMu.Lock()
	if c.bus == nil {
		c.annMu.Unlock()
		return
	}
	for _, id := range couriers {
		c.pending[id] = struct{}{}
	}
	if len(c.pending) > maxPending {
		c.pendingAll = true
		clear(c.pending)
	}
	c.annMu.Unlock()
	c.signal()
}

// changedAll is changed for every courier (a restaurant's place or
// preparation time, which any active order may hold, changed).
func (c *ActiveCache) changedAll() {
	c.forgetAll()
	c.annMu.Lock()
	if c.bus == nil {
		c.annMu.Unlock()
		return
	}
	c.pendingAll = true
	clear(c.pending)
	c.annMu.Unlock()
	c.signal()
}

func (c *ActiveCache) signal() {
	select {
	case c.wake <- struct{}{}:
	default: // the loop has been woken already
	}
}

// forget drops this instance's copies of couriers' active orders.
func (c *ActiveCache) forget(couriers ...delivery.ID) {
	c.mu.Lock()
	for _, id := range couriers {
		if e := c.m[id]; e != nil {
			e.orders, e.valid = nil, false
			e.version++
		}
	}
	c.mu.Unlock()
}

// forgetAll drops every copy, also those being read.
func (c *ActiveCache) forgetAll() {
	c.mu.Lock()
	c.m = make(map[delivery.ID]*activeEntry)
	c.added = 0
	c.mu.Unlock()
}

// edit applies fn to the cached copy of the courier's order, if there is
// one.
func (c *ActiveCache) edit(courier, order delivery.ID, fn func(*delivery.ActiveOrder)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.m[courier]
	if e == nil || !e.valid {
		return
	}
	for i := range e.orders {
		if e.orders[i].ID == order {
			fn(&e.orders[i])
			e.version++
			return
		}
	}
}

// stayRecorded updates the copy after this instance recorded the
// courier's stay at the order's place.
func (c *ActiveCache) stayRecorded(courier, order delivery.ID, at delivery.Arrival, stay delivery.Stay) {
	c.edit(courier, order, func(o *delivery.ActiveOrder) {
		if at == delivery.AtDropoff {
			o.DropoffStay = stay
		} else {
			o.PickupStay = stay
		}
	})
}

// etaStored updates the copy after this instance stored the order's ETA.
func (c *ActiveCache) etaStored(courier, order delivery.ID, eta delivery.ETA) {
	c.edit(courier, order, func(o *delivery.ActiveOrder) { o.ETA = &eta })
}
