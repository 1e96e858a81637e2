package hub

import "github.com/ordercast/ordercast/internal/delivery"

// A feed (user:{id}, restaurant:{id}) carries the durable events of many
// orders, with no replay and no seq order of its own, so it cannot drop a
// second copy by its position as an order channel does. A second copy
// does come: an event an instance published but had not yet marked when
// it died is published again by another instance's relay a few seconds
// later. feedSeen remembers, per feed subscription, the recent seqs of
// the recent orders it was given, which is all a relayed copy can hit.
const (
	// feedWindow is how many seqs back from an order's newest given one a
	// copy is still recognized; a copy of an older event passes (an order
	// rarely has more events than this in all).
	feedWindow = 64
	// feedOrders is how many orders a feed subscription remembers; the
	// least recently given is forgotten first.
	feedOrders = 64
)

// feedSeen is guarded by its channel's lock, as the subscription's other
// sequence state.
type feedSeen struct {
	orders map[delivery.ID]*seqWindow
	clock  uint64 // counts deliveries: recency without reading a clock
}

// seqWindow holds which of the seqs top-63..top were given (bit i: top-i).
type seqWindow struct {
	top  int64
	bits uint64
	used uint64
}

// first records (order, seq) and reports whether it was not given before.
func (f *feedSeen) first(order delivery.ID, seq int64) bool {
	f.clock++
	w := f.orders[order]
	if w == nil {
		if f.orders == nil {
			f.orders = make(map[delivery.ID]*seqWindow, 4)
		} else if len(f.orders) >= feedOrders {
			f.forgetOldest()
		}
		f.orders[order] = &seqWindow{top: seq, bits: 1, used: f.clock}
		return true
	}
	w.used = f.clock
	switch d := w.top - seq; {
	case d < 0: // newer than any given: slide the window up
		if -d >= feedWindow {
			w.bits = 1
		} else {
			w.bits = w.bits<<uint(-d) | 1
		}
		w.top = seq
		return true
	case d >= feedWindow:
		return true // older than the window: cannot tell, so given
	default:
		bit := uint64(1) << uint(d)
		if w.bits&bit != 0 {
			return false
		}
		w.bits |= bit
		return true
	}
}

func (f *feedSeen) forgetOldest() {
	var oldest delivery.ID
	least := ^uint64(0)
	for id, w := range f.orders {
		if w.used < least {
			oldest, least = id, w.used
		}
	}
	delete(f.orders, oldest)
}
