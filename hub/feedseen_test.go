package hub

import (
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

// TestFeedSeen: each (order, seq) is given once, in any order across
// orders and within the window; the least recently given order is
// forgotten first, and a copy older than the window passes.
func TestFeedSeen(t *testing.T) {
	var f feedSeen
	give := func(order delivery.ID, seq int64, want bool) {
		t.Helper()
		if got := f.first(order, seq); got != want {
			t.Errorf("(%d, %d): first = %v, want %v", order, seq, got, want)
		}
	}
	give(1, 5, true)
	give(1, 7, true) // 6 is on its way from another instance
	give(1, 6, true)
	give(1, 5, false)
	give(1, 7, false)
	give(2, 5, true) // another order's seq 5
	give(1, 7+feedWindow, true)
	give(1, 7, true) // out of the window now: cannot tell
	give(1, 8+feedWindow, true)
	give(1, 8+feedWindow, false)
	// Orders 1 and 2 and 62 more fill a generation; the next starts a new
	// one, and the orders of the one before it are forgotten in turn.
	for id := delivery.ID(10); id < 10+feedOrders-2; id++ {
		give(id, 1, true)
	}
	give(1, 8+feedWindow, false)                              // remembered: in the full generation
	give(100, 1, true)                                        // a new generation
	give(1, 8+feedWindow, false)                              // moved into the new one
	for id := delivery.ID(101); id < 101+feedOrders-2; id++ { // the new one full
		give(id, 1, true)
	}
	give(2, 5, false)            // from the previous generation, into a third
	give(10, 1, true)            // the first generation is forgotten
	give(1, 8+feedWindow, false) // given lately: kept
}
