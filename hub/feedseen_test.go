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
	for id := delivery.ID(10); id < 10+feedOrders-2; id++ { // orders 1 and 2 make it full
		give(id, 1, true)
	}
	if len(f.orders) != feedOrders {
		t.Fatalf("%d orders remembered, want %d", len(f.orders), feedOrders)
	}
	give(1, 8+feedWindow, false) // recently given: kept
	give(9, 1, true)             // forgets order 2, the least recently given
	if _, ok := f.orders[2]; ok {
		t.Error("order 2 still remembered")
	}
}
