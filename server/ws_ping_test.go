package server_test

import (
	"context"
	"testing"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/wire"
)

// TestWSPingsCountTowardFrameLimit: pings take from the same budget as
// data frames; a client that floods pings gets the burst answered, then
// no more pongs and a close with 4008, while another connection of the
// same user stays up.
func TestWSPingsCountTowardFrameLimit(t *testing.T) {
	// A refill of one frame in 100 s: the burst is all there is.
	e := newRealtimeEnv(t, withLimits(hub.Limits{RatePerSecond: 0.01, RateBurst: 5}))
	w := e.newWorld()
	flood, other := e.dial(w.Customer), e.dial(w.Customer)
	answered := 0
	for range 50 {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := flood.conn.Ping(ctx)
		cancel()
		if err != nil {
			break // closed under us: expected once the burst is spent
		}
		answered++
	}
	if answered != 5 {
		t.Errorf("%d pings answered, want the burst of 5", answered)
	}
	if code := flood.closeCode(); code != wire.CloseRateLimited {
		t.Errorf("close code %d, want 4008", code)
	}
	if st := e.Hub.Stats(); st.RateLimited != 1 {
		t.Errorf("rate limited: %d, want 1", st.RateLimited)
	}
	other.subscribe(wire.UserChannel(w.Customer.User.ID))
}
