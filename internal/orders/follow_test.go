package orders_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/wire"
)

// metresPerDegreeLat is one degree of latitude on the sphere of
// geo.Distance: a point moved north by m metres is exactly m away.
const metresPerDegreeLat = 2 * math.Pi * 6_371_008.8 / 360

func north(p delivery.Place, m float64) delivery.Place {
	return delivery.Place{Lat: p.Lat + m/metresPerDegreeLat, Lng: p.Lng}
}

// restaurantPlace and dropoffPlace are where the tests' restaurant and
// drop-off are: 3 km apart, 12 minutes at 15 km/h.
var (
	restaurantPlace = delivery.Place{Lat: 52.52, Lng: 13.405}
	dropoffPlace    = north(restaurantPlace, 3000)
)

// writes counts the store writes that following a delivery may make,
// and the reads of couriers' active orders that positions make.
type writes struct {
	delivery.Store
	stays, etas, updates atomic.Int64
	activeReads          atomic.Int64
}

func (w *writes) ActiveOrdersOfCourier(ctx context.Context, courier delivery.ID) ([]delivery.ActiveOrder, error) {
	w.activeReads.Add(1)
	return w.Store.ActiveOrdersOfCourier(ctx, courier)
}

func (w *writes) RecordStay(ctx context.Context, orderID, courierID delivery.ID, at delivery.Arrival, was, next delivery.Stay) (bool, error) {
	w.stays.Add(1)
	return w.Store.RecordStay(ctx, orderID, courierID, at, was, next)
}

func (w *writes) StoreETA(ctx context.Context, orderID delivery.ID, status delivery.Status, wasAt int64, eta delivery.ETA) (bool, error) {
	w.etas.Add(1)
	return w.Store.StoreETA(ctx, orderID, status, wasAt, eta)
}

func (w *writes) UpdateOrder(ctx context.Context, id delivery.ID, mutate func(*delivery.Order) (delivery.Change, error)) (delivery.Order, delivery.Event, error) {
	w.updates.Add(1)
	return w.Store.UpdateOrder(ctx, id, mutate)
}

func (w *writes) total() int64 { return w.stays.Load() + w.etas.Load() + w.updates.Load() }

// newCountedEnv is an env whose service writes through a counting store;
// edit, if given, changes its Config further.
func newCountedEnv(t *testing.T, edit ...func(*orders.Config)) (*env, *writes) {
	w := &writes{}
	e := newEnvWith(t, func(cfg *orders.Config, _ *clock) {
		w.Store = cfg.Store
		cfg.Store = w
		for _, fn := range edit {
			fn(cfg)
		}
	})
	return e, w
}

// locateAt sends courier's position at p, taken at the clock's time, with
// speed (m/s; 0: none), failing the test if it is refused.
func (e *env) locateAt(courier delivery.Actor, p delivery.Place, speed float64) {
	e.t.Helper()
	u := delivery.LocationUpdate{Lat: &p.Lat, Lng: &p.Lng, Ts: e.clock.Now().UnixMilli()}
	if speed > 0 {
		u.Speed = &speed
	}
	if _, err := e.svc.UpdateLocation(e.t.Context(), courier, u); err != nil {
		e.t.Fatalf("position %+v: %v", p, err)
	}
}

// setPlace gives w.r its place and preparation estimate.
func (e *env) setPlace(p delivery.Place, prep int) {
	e.t.Helper()
	_, err := e.svc.UpdateRestaurant(e.t.Context(), e.w.staff, e.w.r, orders.RestaurantPatchInput{Lat: &p.Lat, Lng: &p.Lng, PrepMinutes: &prep})
	must(e.t, err)
}

// placeTo places an order of w.customer at w.r with the drop-off at p.
func (e *env) placeTo(p delivery.Place) delivery.Order {
	e.t.Helper()
	req := orders.PlaceRequest{RestaurantID: e.w.r, Items: []orders.ItemInput{{MenuItemID: e.w.pizza.ID, Quantity: 1}},
		DeliveryAddress: "Main Street 1", DeliveryLat: &p.Lat, DeliveryLng: &p.Lng}
	o, _, err := e.svc.Place(e.t.Context(), e.w.customer, req, fmt.Sprintf("key-%d", e.seq.Add(1)))
	must(e.t, err)
	return o
}

// arrivals returns the courier.arrived events committed since the last
// take, failing the test on any other event.
func (e *env) arrivals() []committed {
	e.t.Helper()
	var out []committed
	for _, c := range e.outbox.take() {
		if c.ev.Type != delivery.EventCourierArrived {
			e.t.Fatalf("committed %s/%d, want only arrivals", c.ev.Type, c.ev.Seq)
		}
		out = append(out, c)
	}
	return out
}

// wantArrival fails unless exactly one courier.arrived at place at was
// committed since the last take, with seq, for the position at ts, routed
// to the order and its parties' feeds.
func (e *env) wantArrival(o delivery.Order, at delivery.Arrival, seq int64, ts time.Time) {
	e.t.Helper()
	got := e.arrivals()
	if len(got) != 1 {
		e.t.Fatalf("%d arrivals committed, want one at %s", len(got), at)
	}
	c := got[0]
	want := fmt.Sprintf(`{"order_id":"%s","courier_id":"%s","at":"%s","ts":%d}`, o.ID, e.w.courier.UserID, at, ts.UnixMilli())
	if c.ev.OrderID != o.ID || c.ev.Seq != seq || string(c.ev.Data) != want {
		e.t.Fatalf("arrival %s/%d %s, want seq %d %s", c.ev.Type, c.ev.Seq, c.ev.Data, seq, want)
	}
	chans := channels(c.pubs)
	wantChans := []string{wire.OrderChannel(o.ID), wire.UserChannel(e.w.customer.UserID), wire.UserChannel(e.w.courier.UserID), wire.RestaurantChannel(e.w.r),
		wire.TrackChannel(o.ID)}
	if fmt.Sprint(chans) != fmt.Sprint(wantChans) {
		e.t.Fatalf("arrival routed to %v, want %v", chans, wantChans)
	}
}

// TestArrival follows a courier to the restaurant and on to the drop-off:
// one courier.arrived at each, once, decided by the status (the
// restaurant until the pickup, the drop-off after), only from positions
// taken since the assignment; a position far from both places costs no
// store write.
func TestArrival(t *testing.T) {
	e, w := newCountedEnv(t)
	e.setPlace(restaurantPlace, 15)
	o := e.placeTo(dropoffPlace)
	// Positions from before the assignment are not this delivery's.
	e.clock.Set(o.CreatedAt.Add(-time.Minute))
	e.locateAt(e.w.courier, restaurantPlace, 0)
	// The clock runs a minute ahead of the store's stamps from the accept
	// on, so that positions come after the assignment and the accept's
	// ETA is a known moment: the next is not due for 10 s.
	e.clock.Set(time.Now().Add(time.Minute))
	e.setStatus(e.w.staff, o.ID, delivery.StatusAccepted)
	o = e.claim(e.w.courier, o.ID)
	e.outbox.take()
	e.clock.Add(time.Second)
	step := func(d time.Duration) { e.clock.Add(d) }

	before, reads := w.total(), w.activeReads.Load()
	for _, m := range []float64{-2000, -1500, -1000, -500, -51} {
		e.locateAt(e.w.courier, north(restaurantPlace, m), 0)
		step(time.Second)
	}
	if n := w.total() - before; n != 0 {
		t.Fatalf("%d store writes for positions far from both places, want none", n)
	}
	if got := e.arrivals(); len(got) != 0 {
		t.Fatalf("arrivals on the way: %+v", got)
	}

	// At the restaurant: 4.999 s is not yet a stay, 5 s is.
	e.locateAt(e.w.courier, north(restaurantPlace, -40), 0)
	first := e.clock.Now()
	e.clock.Set(first.Add(2 * time.Second))
	e.locateAt(e.w.courier, north(restaurantPlace, -10), 0)
	e.clock.Set(first.Add(4999 * time.Millisecond))
	e.locateAt(e.w.courier, restaurantPlace, 0)
	if got := e.arrivals(); len(got) != 0 {
		t.Fatalf("arrived after 4.999 s: %+v", got)
	}
	e.clock.Set(first.Add(5 * time.Second))
	e.locateAt(e.w.courier, north(restaurantPlace, 20), 0)
	e.wantArrival(o, delivery.AtPickup, o.Seq+1, e.clock.Now())
	// The stays were kept in the courier's cached orders as they were
	// written: one read for the approach.
	if n := w.activeReads.Load() - reads; n != 1 {
		t.Fatalf("the courier's orders were read %d times up to the arrival, want 1", n)
	}

	// Once per place: staying, leaving and coming back write nothing.
	before = w.stays.Load() + w.updates.Load()
	for _, m := range []float64{0, 10, 300, 5} {
		step(3 * time.Second)
		e.locateAt(e.w.courier, north(restaurantPlace, m), 0)
	}
	// Nor is the drop-off anything to the courier before the pickup.
	for range 3 {
		step(3 * time.Second)
		e.locateAt(e.w.courier, dropoffPlace, 0)
	}
	if got := e.arrivals(); len(got) != 0 {
		t.Fatalf("arrivals after the first: %+v", got)
	}
	if n := w.stays.Load() + w.updates.Load() - before; n != 0 { // ETAs may be due meanwhile
		t.Fatalf("%d stay writes after the arrival, want none", n)
	}

	e.setStatus(e.w.staff, o.ID, delivery.StatusPreparing)
	e.setStatus(e.w.staff, o.ID, delivery.StatusReady)
	o = e.setStatus(e.w.courier, o.ID, delivery.StatusPickedUp)
	e.outbox.take()
	// Picked up: the restaurant is nothing any more, the drop-off is.
	for range 3 {
		step(3 * time.Second)
		e.locateAt(e.w.courier, restaurantPlace, 0)
	}
	if got := e.arrivals(); len(got) != 0 {
		t.Fatalf("arrivals at the restaurant once picked up: %+v", got)
	}
	step(time.Second)
	e.locateAt(e.w.courier, north(dropoffPlace, 30), 0)
	step(3 * time.Second)
	e.locateAt(e.w.courier, north(dropoffPlace, 55), 0) // out: the stay starts again
	step(time.Second)
	e.locateAt(e.w.courier, north(dropoffPlace, 45), 0)
	arrivedFrom := e.clock.Now()
	step(4 * time.Second)
	e.locateAt(e.w.courier, north(dropoffPlace, 5), 0)
	if got := e.arrivals(); len(got) != 0 {
		t.Fatalf("arrived at the drop-off within 5 s of coming back: %+v", got)
	}
	e.clock.Set(arrivedFrom.Add(5 * time.Second))
	e.locateAt(e.w.courier, dropoffPlace, 0)
	e.wantArrival(o, delivery.AtDropoff, o.Seq+1, e.clock.Now())

	// An older position is refused before it reaches any of this.
	_, err := e.svc.UpdateLocation(t.Context(), e.w.courier, delivery.LocationUpdate{Lat: &restaurantPlace.Lat, Lng: &restaurantPlace.Lng,
		Ts: arrivedFrom.UnixMilli()})
	wantField(t, err, delivery.EINVALID, "ts")
	stored, err := e.store.OrderByID(t.Context(), o.ID)
	must(t, err)
	if !stored.PickupStay.Arrived || !stored.DropoffStay.Arrived || stored.Seq != o.Seq+1 {
		t.Fatalf("stored stays %+v / %+v at seq %d, want both arrived at seq %d", stored.PickupStay, stored.DropoffStay, stored.Seq, o.Seq+1)
	}
}

// etas returns the order.eta payloads published to the order's channel
// since the last take, checking that each went to the parties' feeds too.
func (e *env) etas(o delivery.Order, courier bool) []delivery.ETA {
	e.t.Helper()
	var out []delivery.ETA
	feeds := 0
	for _, p := range e.pub.take() {
		if p.Event != delivery.EventOrderETA {
			continue
		}
		switch p.Channel {
		case wire.OrderChannel(o.ID):
			var eta delivery.ETA
			must(e.t, json.Unmarshal(p.Data, &eta))
			out = append(out, eta)
		case wire.UserChannel(e.w.customer.UserID), wire.RestaurantChannel(e.w.r), wire.UserChannel(e.w.courier.UserID):
			feeds++
		case wire.TrackChannel(o.ID):
			// The viewers' copy, checked with the routing (TestRouteETA).
		default:
			e.t.Fatalf("an ETA on %s", p.Channel)
		}
	}
	wantFeeds := 2
	if courier {
		wantFeeds = 3
	}
	if feeds != wantFeeds*len(out) {
		e.t.Fatalf("%d ETAs to the feeds for %d to the order, want %d each", feeds, len(out), wantFeeds)
	}
	return out
}

func (e *env) oneETA(o delivery.Order, courier bool) delivery.ETA {
	e.t.Helper()
	got := e.etas(o, courier)
	if len(got) != 1 {
		e.t.Fatalf("%d ETAs published, want one: %+v", len(got), got)
	}
	return got[0]
}

// TestETA follows one order's estimate: from the kitchen's time when
// accepted; from the courier's way to the restaurant (its speed, or
// 15 km/h without one) once it moves; from its way to the drop-off once
// picked up. An estimate that moved under a minute is not sent, nor one
// within 10 s of the last; GET and Latest give the last sent; none once
// delivered.
func TestETA(t *testing.T) {
	e := newEnv(t)
	e.setPlace(restaurantPlace, 20)
	o := e.placeTo(dropoffPlace)
	if o.ETA != nil {
		t.Fatalf("placed with an ETA: %+v", o.ETA)
	}
	accepted := e.setStatus(e.w.staff, o.ID, delivery.StatusAccepted)
	ready := accepted.AcceptedAt.Add(20 * time.Minute).UnixMilli()
	eta := e.oneETA(o, false)
	if eta.Basis != delivery.BasisPrep || eta.PickupAt == nil || *eta.PickupAt != ready || eta.DeliverAt != ready+720_000 {
		t.Fatalf("ETA on accept %+v, want the food at %d and 12 min on at 15 km/h", eta, ready)
	}
	got, err := e.svc.Get(t.Context(), e.w.customer, o.ID)
	must(t, err)
	if got.ETA == nil || got.ETA.DeliverAt != eta.DeliverAt || accepted.ETA == nil || accepted.ETA.DeliverAt != eta.DeliverAt {
		t.Fatalf("the order's ETA %+v (answered %+v), want %+v", got.ETA, accepted.ETA, eta)
	}

	// Claimed: nothing moved, nothing sent.
	o = e.claim(e.w.courier, o.ID)
	if sent := e.etas(o, true); len(sent) != 0 {
		t.Fatalf("ETAs on the claim: %+v", sent)
	}
	e.clock.Set(o.AssignedAt.Add(11 * time.Second))
	// 1.5 km before the restaurant at 10 m/s: there before the food.
	e.locateAt(e.w.courier, north(restaurantPlace, -1500), 10)
	eta = e.oneETA(o, true)
	if eta.Basis != delivery.BasisToPickup || *eta.PickupAt != ready || eta.DeliverAt != ready+300_000 {
		t.Fatalf("ETA en route %+v, want the food's time and 5 min on at 10 m/s", eta)
	}
	// 30 km away: the courier is later than the food, but 5 s after the
	// last estimate is too soon.
	e.clock.Add(5 * time.Second)
	far := north(restaurantPlace, -30_000)
	e.locateAt(e.w.courier, far, 10)
	if sent := e.etas(o, true); len(sent) != 0 {
		t.Fatalf("ETA within 10 s of the last: %+v", sent)
	}
	e.clock.Add(5 * time.Second)
	e.locateAt(e.w.courier, north(far, 10), 0) // no speed: from the positions, 10 m in 5 s
	eta = e.oneETA(o, true)
	if want := e.clock.Now().UnixMilli() + 14_995_000; *eta.PickupAt != want || eta.DeliverAt != want+1_500_000 {
		t.Fatalf("ETA from 30 km at 2 m/s: %+v, want pickup at %d", eta, want)
	}
	// 10 s on, a little slower: the pickup moved 15 s, not sent.
	e.clock.Add(10 * time.Second)
	e.locateAt(e.w.courier, north(far, 30), 1.998)
	if sent := e.etas(o, true); len(sent) != 0 {
		t.Fatalf("ETA moved under a minute sent: %+v", sent)
	}
	// 10 s on, 5 m on and no speed: 0.5 m/s is no measure, 15 km/h is.
	e.clock.Add(10 * time.Second)
	e.locateAt(e.w.courier, north(far, 35), 0)
	eta = e.oneETA(o, true)
	if want := e.clock.Now().UnixMilli() + 7_191_600; *eta.PickupAt != want || eta.DeliverAt != want+720_000 {
		t.Fatalf("ETA without a usable speed: %+v, want pickup at %d (15 km/h)", eta, want)
	}

	// Picked up (at the restaurant, say): the way to the drop-off, from
	// the courier's last position.
	e.clock.Add(10 * time.Second)
	e.locateAt(e.w.courier, restaurantPlace, 5)
	e.pub.take()
	e.setStatus(e.w.staff, o.ID, delivery.StatusPreparing)
	e.setStatus(e.w.staff, o.ID, delivery.StatusReady)
	e.clock.Add(10 * time.Second)
	o = e.setStatus(e.w.courier, o.ID, delivery.StatusPickedUp)
	eta = e.oneETA(o, true)
	if eta.Basis != delivery.BasisToDropoff || eta.PickupAt != nil || eta.DeliverAt != e.clock.Now().UnixMilli()+600_000 {
		t.Fatalf("ETA once picked up %+v, want 3 km at 5 m/s from now", eta)
	}
	latest := latestOf(t, e, e.w.customer, wire.OrderChannel(o.ID))
	if p, ok := latest[delivery.EventOrderETA]; !ok || p.AsOf != o.Seq || mustETA(t, p.Data).DeliverAt != eta.DeliverAt {
		t.Fatalf("Latest %+v, want the last ETA %+v as of seq %d", latest, eta, o.Seq)
	}

	e.clock.Add(10 * time.Second)
	e.setStatus(e.w.courier, o.ID, delivery.StatusDelivered)
	if sent := e.etas(o, true); len(sent) != 0 {
		t.Fatalf("ETA on delivery: %+v", sent)
	}
	got, err = e.svc.Get(t.Context(), e.w.customer, o.ID)
	must(t, err)
	if got.ETA != nil {
		t.Fatalf("delivered with an ETA %+v", got.ETA)
	}
	if latest := latestOf(t, e, e.w.customer, wire.OrderChannel(o.ID)); len(latest) != 0 {
		t.Fatalf("Latest after delivery: %+v", latest)
	}
}

func mustETA(t *testing.T, data []byte) delivery.ETA {
	t.Helper()
	var eta delivery.ETA
	must(t, json.Unmarshal(data, &eta))
	return eta
}

// TestETAWithoutPlaces: a restaurant and an order with no place are
// estimated from the kitchen's time alone, with no leg.
func TestETAWithoutPlaces(t *testing.T) {
	e := newEnv(t)
	o := e.setStatus(e.w.staff, e.place().ID, delivery.StatusAccepted)
	eta := e.oneETA(o, false)
	want := o.AcceptedAt.Add(delivery.DefaultPrepMinutes * time.Minute).UnixMilli()
	if eta.Basis != delivery.BasisPrep || *eta.PickupAt != want || eta.DeliverAt != want {
		t.Fatalf("ETA %+v, want pickup and delivery at %d", eta, want)
	}
}

func TestUpdateRestaurant(t *testing.T) {
	e := newEnv(t)
	p := func(v float64) *float64 { return &v }
	n := func(v int) *int { return &v }
	s := func(v string) *string { return &v }
	for _, a := range []delivery.Actor{e.w.customer, e.w.courier, e.w.staff2, e.w.admin} {
		_, err := e.svc.UpdateRestaurant(t.Context(), a, e.w.r, orders.RestaurantPatchInput{PrepMinutes: n(10)})
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	for _, tc := range []struct {
		in    orders.RestaurantPatchInput
		field string
	}{
		{orders.RestaurantPatchInput{Lat: p(52.5)}, "lng"},
		{orders.RestaurantPatchInput{Lng: p(13.4)}, "lat"},
		{orders.RestaurantPatchInput{Lat: p(90.1), Lng: p(0)}, "lat"},
		{orders.RestaurantPatchInput{Lat: p(0), Lng: p(-181)}, "lng"},
		{orders.RestaurantPatchInput{PrepMinutes: n(0)}, "prep_minutes"},
		{orders.RestaurantPatchInput{PrepMinutes: n(delivery.MaxPrepMinutes + 1)}, "prep_minutes"},
		{orders.RestaurantPatchInput{Name: s("  ")}, "name"},
		{orders.RestaurantPatchInput{Name: s("Pizza\u202eazziP")}, "name"},
	} {
		_, err := e.svc.UpdateRestaurant(t.Context(), e.w.staff, e.w.r, tc.in)
		wantField(t, err, delivery.EINVALID, tc.field)
	}
	_, err := e.svc.UpdateRestaurant(t.Context(), e.w.staff, e.w.r, orders.RestaurantPatchInput{})
	wantCode(t, err, delivery.EINVALID) // nothing to change
	before, err := e.store.RestaurantByID(t.Context(), e.w.r)
	must(t, err)
	r, err := e.svc.UpdateRestaurant(t.Context(), e.w.staff, e.w.r, orders.RestaurantPatchInput{Name: s(" Luigi's "), Lat: p(45.4642), Lng: p(9.19)})
	must(t, err)
	want := delivery.Restaurant{ID: e.w.r, Name: "Luigi's", Place: &delivery.Place{Lat: 45.4642, Lng: 9.19}, PrepMinutes: delivery.DefaultPrepMinutes, CreatedAt: before.CreatedAt}
	if r.ID != want.ID || r.Name != want.Name || *r.Place != *want.Place || r.PrepMinutes != want.PrepMinutes || !r.CreatedAt.Equal(want.CreatedAt) {
		t.Fatalf("UpdateRestaurant = %+v, want %+v", r, want)
	}
	list, err := e.svc.ListRestaurants(t.Context())
	must(t, err)
	if list[0].ID != e.w.r || list[0].Place == nil || *list[0].Place != *want.Place {
		t.Fatalf("listed %+v, want the place", list[0])
	}
	// Couriers are offered its orders with the place: where to go.
	e.setStatus(e.w.staff, e.place().ID, delivery.StatusAccepted)
	offered := false
	for _, c := range e.outbox.take() {
		for _, pub := range c.pubs {
			if pub.Channel == wire.DispatchChannel && pub.Event == wire.EventOrderOffered {
				offered = true
				var view map[string]any
				must(t, json.Unmarshal(pub.Data, &view))
				if view["lat"] != 45.4642 || view["lng"] != 9.19 {
					t.Fatalf("offer view %s: want the restaurant's lat and lng", pub.Data)
				}
			}
		}
	}
	if !offered {
		t.Fatal("the accepted order was not offered")
	}
}
