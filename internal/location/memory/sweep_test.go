package memory

import (
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/location/locationtest"
)

// TestForgetsCouriersWhoStopped: the positions of couriers who stopped
// sending leave the map without anyone reading them, so that it holds
// only the couriers of the last MaxLocationAge.
func TestForgetsCouriersWhoStopped(t *testing.T) {
	c := locationtest.NewClock()
	s := NewWithClock(c.Now)
	for id := delivery.ID(1); id <= 100; id++ {
		if _, _, err := s.Put(t.Context(), delivery.Location{CourierID: id, Ts: c.Ms(0)}); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(delivery.MaxLocationAge + time.Millisecond)
	if _, _, err := s.Put(t.Context(), delivery.Location{CourierID: 101, Ts: c.Ms(0)}); err != nil {
		t.Fatal(err)
	}
	if n := len(s.last); n != 1 {
		t.Fatalf("%d couriers kept, want the one that sent within MaxLocationAge", n)
	}
}
