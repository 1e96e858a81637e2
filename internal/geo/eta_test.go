package geo_test

import (
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/geo"
)

func TestSpeed(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	at := func(m float64, ts int64, speed *float64) delivery.Location {
		p := north(delivery.Place{Lat: 52.52, Lng: 13.405}, m)
		return delivery.Location{Lat: p.Lat, Lng: p.Lng, Ts: base + ts, Speed: speed}
	}
	for _, tc := range []struct {
		name string
		loc  delivery.Location
		prev *delivery.Location
		want float64
	}{
		{"the device's speed", at(0, 1000, f(6.5)), nil, 6.5},
		{"the device's speed over the positions'", at(100, 10_000, f(3)), ptrLoc(at(0, 0, nil)), 3},
		{"no speed yet: 15 km/h", at(0, 0, nil), nil, geo.DefaultSpeed},
		{"from successive positions", at(100, 20_000, nil), ptrLoc(at(0, 0, nil)), 5},
		{"standing still: 15 km/h", at(0, 20_000, f(0)), ptrLoc(at(0, 0, nil)), geo.DefaultSpeed},
		{"a GPS jump: 15 km/h", at(5000, 2000, nil), ptrLoc(at(0, 0, nil)), geo.DefaultSpeed},
		{"positions too far apart: 15 km/h", at(1000, 3*60_000, nil), ptrLoc(at(0, 0, nil)), geo.DefaultSpeed},
		{"positions too close in time: 15 km/h", at(3, 500, nil), ptrLoc(at(0, 0, nil)), geo.DefaultSpeed},
	} {
		if got := geo.Speed(tc.loc, tc.prev); got < tc.want-1e-9 || got > tc.want+1e-9 {
			t.Errorf("%s: %g m/s, want %g", tc.name, got, tc.want)
		}
	}
	if kmh := geo.DefaultSpeed * 3.6; kmh < 15-1e-9 || kmh > 15+1e-9 {
		t.Errorf("DefaultSpeed is %g km/h, want 15", kmh)
	}
}

func ptrLoc(l delivery.Location) *delivery.Location { return &l }

func TestEstimate(t *testing.T) {
	now := time.UnixMilli(base)
	ms := func(d time.Duration) int64 { return base + d.Milliseconds() }
	restaurant := delivery.Place{Lat: 52.52, Lng: 13.405}
	dropoff := north(restaurant, 3000)    // 3 km on: 720 s at 15 km/h, 300 s at 10 m/s
	courier := north(restaurant, -1500)   // 1.5 km before the restaurant
	nearby := north(restaurant, -100)     // 100 m before it
	accepted := now.Add(-5 * time.Minute) // food due 10 min from now with 15 min prep
	late := now.Add(-20 * time.Minute)    // food overdue
	pickupAt := func(d time.Duration) *int64 { v := ms(d); return &v }
	for _, tc := range []struct {
		name string
		trip geo.Trip
		want *delivery.ETA // nil: none
	}{
		{"prep only: no places", geo.Trip{Status: delivery.StatusAccepted, AcceptedAt: accepted, PrepMinutes: 15},
			&delivery.ETA{PickupAt: pickupAt(10 * time.Minute), DeliverAt: ms(10 * time.Minute), Basis: delivery.BasisPrep}},
		{"prep, then the drop-off leg at 15 km/h", geo.Trip{Status: delivery.StatusPreparing, AcceptedAt: accepted, PrepMinutes: 15,
			Pickup: &restaurant, Dropoff: &dropoff},
			&delivery.ETA{PickupAt: pickupAt(10 * time.Minute), DeliverAt: ms(10*time.Minute + 720*time.Second), Basis: delivery.BasisPrep}},
		{"no drop-off place: no drop-off leg", geo.Trip{Status: delivery.StatusPreparing, AcceptedAt: accepted, PrepMinutes: 15, Pickup: &restaurant},
			&delivery.ETA{PickupAt: pickupAt(10 * time.Minute), DeliverAt: ms(10 * time.Minute), Basis: delivery.BasisPrep}},
		{"food overdue: pickup now", geo.Trip{Status: delivery.StatusPreparing, AcceptedAt: late, PrepMinutes: 15},
			&delivery.ETA{PickupAt: pickupAt(0), DeliverAt: ms(0), Basis: delivery.BasisPrep}},
		{"ready: pickup now", geo.Trip{Status: delivery.StatusReady, AcceptedAt: accepted, PrepMinutes: 15},
			&delivery.ETA{PickupAt: pickupAt(0), DeliverAt: ms(0), Basis: delivery.BasisPrep}},
		{"accept not recorded: prep from now", geo.Trip{Status: delivery.StatusAccepted, PrepMinutes: 20},
			&delivery.ETA{PickupAt: pickupAt(20 * time.Minute), DeliverAt: ms(20 * time.Minute), Basis: delivery.BasisPrep}},
		{"a courier but no restaurant place: prep", geo.Trip{Status: delivery.StatusAccepted, AcceptedAt: accepted, PrepMinutes: 15, Courier: &courier, Speed: 10},
			&delivery.ETA{PickupAt: pickupAt(10 * time.Minute), DeliverAt: ms(10 * time.Minute), Basis: delivery.BasisPrep}},
		{"en route to pickup, slower than the kitchen", geo.Trip{Status: delivery.StatusReady, PrepMinutes: 15,
			Pickup: &restaurant, Dropoff: &dropoff, Courier: &courier, Speed: 2},
			&delivery.ETA{PickupAt: pickupAt(750 * time.Second), DeliverAt: ms(750*time.Second + 1500*time.Second), Basis: delivery.BasisToPickup}},
		{"en route to pickup, faster than the kitchen", geo.Trip{Status: delivery.StatusPreparing, AcceptedAt: accepted, PrepMinutes: 15,
			Pickup: &restaurant, Dropoff: &dropoff, Courier: &nearby, Speed: 10},
			&delivery.ETA{PickupAt: pickupAt(10 * time.Minute), DeliverAt: ms(10*time.Minute + 300*time.Second), Basis: delivery.BasisToPickup}},
		{"en route to pickup, no speed yet: 15 km/h", geo.Trip{Status: delivery.StatusReady, Pickup: &restaurant, Dropoff: &dropoff, Courier: &courier},
			&delivery.ETA{PickupAt: pickupAt(360 * time.Second), DeliverAt: ms(360*time.Second + 720*time.Second), Basis: delivery.BasisToPickup}},
		{"en route to drop-off", geo.Trip{Status: delivery.StatusPickedUp, Pickup: &restaurant, Dropoff: &dropoff, Courier: &restaurant, Speed: 10},
			&delivery.ETA{DeliverAt: ms(300 * time.Second), Basis: delivery.BasisToDropoff}},
		{"en route to drop-off, no position: from the restaurant", geo.Trip{Status: delivery.StatusPickedUp, Pickup: &restaurant, Dropoff: &dropoff, Speed: 10},
			&delivery.ETA{DeliverAt: ms(300 * time.Second), Basis: delivery.BasisToDropoff}},
		{"en route to drop-off, no drop-off place", geo.Trip{Status: delivery.StatusPickedUp, Pickup: &restaurant, Courier: &courier},
			&delivery.ETA{DeliverAt: ms(0), Basis: delivery.BasisToDropoff}},
		{"placed: none", geo.Trip{Status: delivery.StatusPlaced, PrepMinutes: 15}, nil},
		{"delivered: none", geo.Trip{Status: delivery.StatusDelivered, Courier: &courier}, nil},
		{"cancelled: none", geo.Trip{Status: delivery.StatusCancelled}, nil},
	} {
		tc.trip.OrderID = 42
		got, ok := geo.Estimate(tc.trip, now)
		if tc.want == nil {
			if ok {
				t.Errorf("%s: %+v, want none", tc.name, got)
			}
			continue
		}
		tc.want.OrderID, tc.want.At = 42, base
		if !ok || !sameETA(got, *tc.want) {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, show(got), show(*tc.want))
		}
	}
}

func sameETA(a, b delivery.ETA) bool {
	return a.OrderID == b.OrderID && a.DeliverAt == b.DeliverAt && a.Basis == b.Basis && a.At == b.At &&
		(a.PickupAt == nil) == (b.PickupAt == nil) && (a.PickupAt == nil || *a.PickupAt == *b.PickupAt)
}

func show(e delivery.ETA) string {
	p := "none"
	if e.PickupAt != nil {
		p = time.Duration((*e.PickupAt - base) * 1e6).String()
	}
	return "pickup " + p + ", deliver " + time.Duration((e.DeliverAt-base)*1e6).String() + ", basis " + e.Basis
}

// Coalescing: the first estimate goes out; later ones only 10 s or more
// after the last, and only when a time moved by a minute or more or the
// basis changed.
func TestDue(t *testing.T) {
	p := func(v int64) *int64 { return &v }
	last := &delivery.ETA{PickupAt: p(600_000), DeliverAt: 1_200_000, Basis: delivery.BasisToPickup, At: 100_000}
	for _, tc := range []struct {
		name string
		last *delivery.ETA
		next delivery.ETA
		want bool
	}{
		{"the first", nil, delivery.ETA{DeliverAt: 5, Basis: delivery.BasisPrep, At: 1}, true},
		{"moved under a minute", last, delivery.ETA{PickupAt: p(659_999), DeliverAt: 1_259_999, Basis: delivery.BasisToPickup, At: 200_000}, false},
		{"deliver_at moved a minute", last, delivery.ETA{PickupAt: p(600_000), DeliverAt: 1_260_000, Basis: delivery.BasisToPickup, At: 110_000}, true},
		{"deliver_at moved a minute earlier", last, delivery.ETA{PickupAt: p(600_000), DeliverAt: 1_140_000, Basis: delivery.BasisToPickup, At: 110_000}, true},
		{"pickup_at moved a minute", last, delivery.ETA{PickupAt: p(540_000), DeliverAt: 1_200_000, Basis: delivery.BasisToPickup, At: 110_000}, true},
		{"moved, but under 10 s after the last", last, delivery.ETA{PickupAt: p(900_000), DeliverAt: 1_500_000, Basis: delivery.BasisToPickup, At: 109_999}, false},
		{"the basis changed", last, delivery.ETA{DeliverAt: 1_200_000, Basis: delivery.BasisToDropoff, At: 110_000}, true},
		{"the basis changed under 10 s after the last", last, delivery.ETA{DeliverAt: 1_200_000, Basis: delivery.BasisToDropoff, At: 105_000}, false},
		{"pickup_at gone", last, delivery.ETA{DeliverAt: 1_200_000, Basis: delivery.BasisToPickup, At: 110_000}, true},
	} {
		if got := geo.Due(tc.last, tc.next); got != tc.want {
			t.Errorf("%s: Due = %v, want %v", tc.name, got, tc.want)
		}
	}
}
