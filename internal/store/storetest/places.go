package storetest

import (
	"sync"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

func float(v float64) *float64 { return &v }

func intp(v int) *int { return &v }

// testRestaurantPlace: a restaurant is created with its place and
// preparation estimate (15 by default), every read returns them, and
// UpdateRestaurant changes only the fields its patch holds; the orders of
// the restaurant carry its place as it is when they are read.
func testRestaurantPlace(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s) // Pizza and Sushi, no place
	plain := mustRestaurant(t, s, f.r)
	if plain.Place != nil || plain.PrepMinutes != delivery.DefaultPrepMinutes {
		t.Fatalf("restaurant created without place: %+v, want no place and %d minutes", plain, delivery.DefaultPrepMinutes)
	}
	kiosk := &delivery.Place{Lat: 52.5163, Lng: 13.3777}
	u, err := s.CreateUser(ctx, delivery.User{Email: "kiosk@example.com", Name: "K", Role: delivery.RoleRestaurant, PasswordHash: "h"},
		delivery.Restaurant{Name: "Kiosk", Place: kiosk, PrepMinutes: 7})
	must(t, err)
	got := mustRestaurant(t, s, u.RestaurantID)
	if got.Name != "Kiosk" || got.Place == nil || *got.Place != *kiosk || got.PrepMinutes != 7 {
		t.Fatalf("RestaurantByID = %+v, want Kiosk at %+v, 7 minutes", got, kiosk)
	}
	list, err := s.ListRestaurants(ctx)
	must(t, err)
	deepEqual(t, "ListRestaurants", list, []delivery.Restaurant{plain, mustRestaurant(t, s, f.r2), got})

	o := f.createOrder(t, f.customer.ID, f.r)
	if o.RestaurantPlace != nil {
		t.Fatalf("order of a restaurant without place: RestaurantPlace %+v", o.RestaurantPlace)
	}
	moved := &delivery.Place{Lat: -33.8568, Lng: 151.2153}
	for _, step := range []struct {
		patch delivery.RestaurantPatch
		want  delivery.Restaurant
	}{
		{delivery.RestaurantPatch{Place: moved}, delivery.Restaurant{Name: "Pizza", Place: moved, PrepMinutes: 15}},
		{delivery.RestaurantPatch{PrepMinutes: intp(30)}, delivery.Restaurant{Name: "Pizza", Place: moved, PrepMinutes: 30}},
		{delivery.RestaurantPatch{Name: ptrString("Pizza Nova")}, delivery.Restaurant{Name: "Pizza Nova", Place: moved, PrepMinutes: 30}},
		{delivery.RestaurantPatch{Name: ptrString("Pizza"), Place: kiosk, PrepMinutes: intp(240)}, delivery.Restaurant{Name: "Pizza", Place: kiosk, PrepMinutes: 240}},
	} {
		r, err := s.UpdateRestaurant(ctx, f.r, step.patch)
		must(t, err)
		step.want.ID, step.want.CreatedAt = f.r, plain.CreatedAt
		deepEqual(t, "UpdateRestaurant", r, step.want)
		deepEqual(t, "RestaurantByID after UpdateRestaurant", mustRestaurant(t, s, f.r), step.want)
		read, err := s.OrderByID(ctx, o.ID)
		must(t, err)
		if read.RestaurantName != step.want.Name || read.RestaurantPlace == nil || *read.RestaurantPlace != *step.want.Place {
			t.Fatalf("order read after the patch: %q at %+v, want %q at %+v", read.RestaurantName, read.RestaurantPlace, step.want.Name, step.want.Place)
		}
	}
	placed := f.createOrder(t, f.customer.ID, f.r)
	listed, err := s.ListOrders(ctx, delivery.OrderFilter{CustomerID: f.customer.ID})
	must(t, err)
	for _, l := range append(listed, placed) {
		if l.RestaurantPlace == nil || *l.RestaurantPlace != *kiosk {
			t.Fatalf("order %s: RestaurantPlace %+v, want %+v", l.ID, l.RestaurantPlace, kiosk)
		}
	}
	_, err = s.UpdateRestaurant(ctx, f.r2+1000, delivery.RestaurantPatch{PrepMinutes: intp(5)})
	wantCode(t, err, delivery.ENOTFOUND)
}

func ptrString(v string) *string { return &v }

// testOrderDropoff: the drop-off place round-trips, is absent when not
// given, and no mutate changes it.
func testOrderDropoff(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	in := f.newOrder(f.customer.ID, f.r)
	in.DeliveryLat, in.DeliveryLng = float(48.8584), float(2.2945)
	o, _, err := s.CreateOrder(ctx, in, delivery.IdempotencyKey{})
	must(t, err)
	want := &delivery.Place{Lat: 48.8584, Lng: 2.2945}
	if d := o.Dropoff(); d == nil || *d != *want {
		t.Fatalf("CreateOrder: drop-off %+v, want %+v", d, want)
	}
	got, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	deepEqual(t, "OrderByID", got, o)
	changed, _, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		cur.DeliveryLat, cur.DeliveryLng = float(1), nil
		return delivery.Change{Type: delivery.EventOrderStatus}, nil
	})
	must(t, err)
	got, err = s.OrderByID(ctx, o.ID)
	must(t, err)
	for _, read := range []delivery.Order{changed, got} {
		if d := read.Dropoff(); d == nil || *d != *want {
			t.Fatalf("after a mutate that tried: drop-off %+v, want %+v", d, want)
		}
	}
	bare := f.createOrder(t, f.customer.ID, f.r)
	if bare.DeliveryLat != nil || bare.DeliveryLng != nil || bare.Dropoff() != nil {
		t.Fatalf("order without drop-off: %v, %v", bare.DeliveryLat, bare.DeliveryLng)
	}
}

// testAcceptedAt: the store records when the order was accepted, keeps it
// on later changes, and mutate cannot forge it.
func testAcceptedAt(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	forged := o.CreatedAt.Add(-3600e9)
	placed, _, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		cur.AcceptedAt = &forged
		return delivery.Change{Type: delivery.EventOrderStatus}, nil
	})
	must(t, err)
	if placed.AcceptedAt != nil {
		t.Fatalf("AcceptedAt = %v on a placed order", placed.AcceptedAt)
	}
	accepted := f.set(t, o.ID, delivery.StatusAccepted, nil)
	if accepted.AcceptedAt == nil || !accepted.AcceptedAt.Equal(accepted.UpdatedAt) {
		t.Fatalf("AcceptedAt = %v, want the accept's time %v", accepted.AcceptedAt, accepted.UpdatedAt)
	}
	wantUTCMicro(t, "AcceptedAt", *accepted.AcceptedAt)
	later := f.set(t, o.ID, delivery.StatusPreparing, ptr(f.courier.ID))
	stored, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	active, err := s.ActiveOrdersOfCourier(ctx, f.courier.ID)
	must(t, err)
	if !later.AcceptedAt.Equal(*accepted.AcceptedAt) || !stored.AcceptedAt.Equal(*accepted.AcceptedAt) ||
		len(active) != 1 || !active[0].AcceptedAt.Equal(*accepted.AcceptedAt) {
		t.Fatalf("AcceptedAt moved: %v, stored %v, active %+v; want %v", later.AcceptedAt, stored.AcceptedAt, active, accepted.AcceptedAt)
	}
}

// testRecordStay: a stay is written only over the stay read (compare and
// set), for the assigned courier, while the status heads for its place and
// it has not arrived; it moves no seq. An arrival through UpdateOrder ends
// the stay's writes; a change of courier clears the run but not the
// arrival. Positions see it in ActiveOrdersOfCourier.
func testRecordStay(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.set(t, f.createOrder(t, f.customer.ID, f.r).ID, delivery.StatusAccepted, ptr(f.courier.ID))
	record := func(courier delivery.ID, at delivery.Arrival, was, next delivery.Stay) bool {
		t.Helper()
		ok, err := s.RecordStay(ctx, o.ID, courier, at, was, next)
		must(t, err)
		return ok
	}
	first := delivery.Stay{From: 1000, Last: 1000}
	if !record(f.courier.ID, delivery.AtPickup, delivery.Stay{}, first) {
		t.Fatal("first stay not written")
	}
	if record(f.courier.ID, delivery.AtPickup, delivery.Stay{}, delivery.Stay{From: 2000, Last: 2000}) {
		t.Fatal("a stay written over a stale one")
	}
	if record(f.courier2.ID, delivery.AtPickup, first, delivery.Stay{From: 1000, Last: 3000}) {
		t.Fatal("another courier's stay written")
	}
	if record(f.courier.ID, delivery.AtDropoff, delivery.Stay{}, delivery.Stay{From: 1000, Last: 1000}) {
		t.Fatal("a drop-off stay written before pickup")
	}
	extended := delivery.Stay{From: 1000, Last: 3000}
	if !record(f.courier.ID, delivery.AtPickup, first, extended) {
		t.Fatal("stay not extended")
	}
	got, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	if got.PickupStay != extended || got.DropoffStay != (delivery.Stay{}) || got.Seq != o.Seq || !got.UpdatedAt.Equal(o.UpdatedAt) {
		t.Fatalf("stored %+v / %+v, seq %d, updated %v; want %+v, seq %d unchanged", got.PickupStay, got.DropoffStay, got.Seq, got.UpdatedAt, extended, o.Seq)
	}
	active, err := s.ActiveOrdersOfCourier(ctx, f.courier.ID)
	must(t, err)
	if len(active) != 1 || active[0].PickupStay != extended {
		t.Fatalf("active orders %+v: want the stay %+v", active, extended)
	}

	arrived := delivery.Stay{From: 1000, Last: 6000, Arrived: true}
	after, ev, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		cur.PickupStay = arrived
		return delivery.Change{Type: delivery.EventCourierArrived, Data: delivery.Arrived{OrderID: o.ID, CourierID: f.courier.ID, At: delivery.AtPickup, Ts: 6000}}, nil
	})
	must(t, err)
	if after.PickupStay != arrived || ev.Seq != o.Seq+1 || ev.Type != delivery.EventCourierArrived {
		t.Fatalf("arrival: stay %+v, event %+v", after.PickupStay, ev)
	}
	if record(f.courier.ID, delivery.AtPickup, arrived, delivery.Stay{From: 7000, Last: 7000}) ||
		record(f.courier.ID, delivery.AtPickup, delivery.Stay{From: 1000, Last: 6000}, delivery.Stay{From: 7000, Last: 7000}) {
		t.Fatal("a stay written after the arrival")
	}

	// Another courier takes over: the run is gone, the arrival stays.
	other := f.set(t, o.ID, delivery.StatusReady, ptr(f.courier2.ID))
	if other.PickupStay != (delivery.Stay{Arrived: true}) {
		t.Fatalf("after a change of courier: %+v, want only the arrival", other.PickupStay)
	}
	withRun := f.set(t, o.ID, delivery.StatusPickedUp, ptr(f.courier2.ID))
	if !record(f.courier2.ID, delivery.AtDropoff, delivery.Stay{}, first) {
		t.Fatal("drop-off stay not written once picked up")
	}
	if record(f.courier2.ID, delivery.AtPickup, delivery.Stay{Arrived: true}, first) {
		t.Fatal("a pickup stay written once picked up")
	}
	back := f.set(t, o.ID, delivery.StatusPickedUp, ptr(f.courier.ID))
	if withRun.PickupStay != (delivery.Stay{Arrived: true}) || back.DropoffStay != (delivery.Stay{}) {
		t.Fatalf("pickup %+v through a status change, drop-off %+v after a change of courier; want the arrival, none",
			withRun.PickupStay, back.DropoffStay)
	}
	ok, err := s.RecordStay(ctx, o.ID+1000, f.courier.ID, delivery.AtPickup, delivery.Stay{}, first)
	if err != nil || ok {
		t.Fatalf("RecordStay of no order = %v, %v; want false, nil", ok, err)
	}
}

// testStoreETA: an estimate is written over the one read (by its At), while
// the order keeps the status it was made for; it round-trips with and
// without a pickup time, moves no seq, comes along with every read, and is
// gone once the order ended.
func testStoreETA(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.set(t, f.createOrder(t, f.customer.ID, f.r).ID, delivery.StatusAccepted, ptr(f.courier.ID))
	if o.ETA != nil {
		t.Fatalf("ETA %+v before any was stored", o.ETA)
	}
	pickup := int64(1_900_000_060_000)
	first := delivery.ETA{OrderID: o.ID, PickupAt: &pickup, DeliverAt: 1_900_000_600_000, Basis: delivery.BasisPrep, At: 1_900_000_000_000}
	store := func(status delivery.Status, wasAt int64, e delivery.ETA) bool {
		t.Helper()
		ok, err := s.StoreETA(ctx, o.ID, status, wasAt, e)
		must(t, err)
		return ok
	}
	if store(delivery.StatusPreparing, 0, first) {
		t.Fatal("ETA written for another status")
	}
	if !store(delivery.StatusAccepted, 0, first) {
		t.Fatal("first ETA not written")
	}
	second := delivery.ETA{OrderID: o.ID, DeliverAt: 1_900_000_700_000, Basis: delivery.BasisToPickup, At: first.At + 10_000}
	if store(delivery.StatusAccepted, 0, second) {
		t.Fatal("ETA written over a stale one")
	}
	got, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	deepEqual(t, "ETA", got.ETA, &first)
	if got.Seq != o.Seq || !got.UpdatedAt.Equal(o.UpdatedAt) {
		t.Fatalf("seq %d, updated %v after StoreETA; want %d, %v", got.Seq, got.UpdatedAt, o.Seq, o.UpdatedAt)
	}
	if !store(delivery.StatusAccepted, first.At, second) {
		t.Fatal("second ETA not written")
	}
	active, err := s.ActiveOrdersOfCourier(ctx, f.courier.ID)
	must(t, err)
	if len(active) != 1 {
		t.Fatalf("active orders %+v", active)
	}
	deepEqual(t, "active order's ETA", active[0].ETA, &second)
	// Kept through changes; gone at the end.
	moved := f.set(t, o.ID, delivery.StatusPickedUp, ptr(f.courier.ID))
	deepEqual(t, "ETA after a change", moved.ETA, &second)
	listed, err := s.ListOrders(ctx, delivery.OrderFilter{CustomerID: f.customer.ID})
	must(t, err)
	deepEqual(t, "listed ETA", listed[0].ETA, &second)
	done := f.set(t, o.ID, delivery.StatusDelivered, ptr(f.courier.ID))
	got, err = s.OrderByID(ctx, o.ID)
	must(t, err)
	if done.ETA != nil || got.ETA != nil {
		t.Fatalf("ETA %+v / %+v on a delivered order, want none", done.ETA, got.ETA)
	}
	if store(delivery.StatusDelivered, 0, first) {
		t.Fatal("ETA written for a delivered order")
	}
}

// testStayAndETAConcurrent: of many writers holding the same stay or
// estimate, exactly one writes.
func testStayAndETAConcurrent(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.set(t, f.createOrder(t, f.customer.ID, f.r).ID, delivery.StatusAccepted, ptr(f.courier.ID))
	const n = 16
	var stays, etas [n]bool
	var errs [2 * n]error
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			stays[i], errs[i] = s.RecordStay(ctx, o.ID, f.courier.ID, delivery.AtPickup, delivery.Stay{},
				delivery.Stay{From: int64(1000 + i), Last: int64(1000 + i)})
		})
		wg.Go(func() {
			etas[i], errs[n+i] = s.StoreETA(ctx, o.ID, delivery.StatusAccepted, 0,
				delivery.ETA{OrderID: o.ID, DeliverAt: int64(5000 + i), Basis: delivery.BasisPrep, At: int64(100 + i)})
		})
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err)
	}
	got, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	for what, won := range map[string][n]bool{"stays": stays, "estimates": etas} {
		winners := 0
		for i, ok := range won {
			if !ok {
				continue
			}
			winners++
			if what == "stays" && got.PickupStay.From != int64(1000+i) || what == "estimates" && got.ETA.At != int64(100+i) {
				t.Fatalf("%s: writer %d won, stored %+v / %+v", what, i, got.PickupStay, got.ETA)
			}
		}
		if winners != 1 {
			t.Fatalf("%s: %d writers won, want 1", what, winners)
		}
	}
}
