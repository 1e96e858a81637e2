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
	// feedOrders is how many orders a generation remembers: a feed
	// subscription remembers the last feedOrders to 2×feedOrders orders
	// it was given, without scanning to find the oldest.
	feedOrders = 64
)

// feedSeen is guarded by its channel's lock, as the subscription's other
// sequence state. Orders given lately are in cur; when cur is full it
// becomes prev and the orders of the prev before it are forgotten; an
// order found in prev moves back to cur.
type feedSeen struct {
	cur, prev map[delivery.ID]seqWindow
}

// seqWindow holds which of the seqs top-63..top were given (bit i: top-i).
type seqWindow struct {
	top  int64
	bits uint64
}

// first records (order, seq) and reports whether it was not given before.
func (f *feedSeen) first(order delivery.ID, seq int64) bool {
	w, ok := f.cur[order]
	if !ok {
		if w, ok = f.prev[order]; ok {
			delete(f.prev, order)
		} else {
			w = seqWindow{top: seq}
		}
		f.add(order)
	}
	given := w.record(seq)
	f.cur[order] = w
	return given
}

// add makes room in cur for one more order.
func (f *feedSeen) add(order delivery.ID) {
	switch {
	case f.cur == nil:
		f.cur = make(map[delivery.ID]seqWindow, 4)
	case len(f.cur) >= feedOrders:
		f.prev, f.cur = f.cur, make(map[delivery.ID]seqWindow, feedOrders)
	}
}

// record marks seq given and reports whether it was not before.
func (w *seqWindow) record(seq int64) bool {
	switch d := w.top - seq; {
	case d < 0: // newer than any given: slide the window up
		if -d >= feedWindow {
			w.bits = 0
		} else {
			w.bits <<= uint(-d)
		}
		w.top, w.bits = seq, w.bits|1
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
