package orders_test

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// position is a valid update taken at ts.
func position(ts time.Time) delivery.LocationUpdate {
	lat, lng := 52.52, 13.405
	return delivery.LocationUpdate{Lat: &lat, Lng: &lng, Ts: ts.UnixMilli()}
}

// locate sends courier's position taken at ts, failing the test if it
// is refused.
func (e *env) locate(courier delivery.Actor, ts time.Time) delivery.Location {
	e.t.Helper()
	loc, err := e.svc.UpdateLocation(e.t.Context(), courier, position(ts))
	if err != nil {
		e.t.Fatalf("position at %v: %v", ts, err)
	}
	return loc
}

func TestUpdateLocationValidation(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	for _, a := range []delivery.Actor{e.w.customer, e.w.staff, e.w.admin} {
		_, err := e.svc.UpdateLocation(t.Context(), a, position(now))
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	noLat := position(now)
	noLat.Lat = nil
	_, err := e.svc.UpdateLocation(t.Context(), e.w.courier, noLat)
	wantField(t, err, delivery.EINVALID, "lat")
	_, err = e.svc.UpdateLocation(t.Context(), e.w.courier, position(now.Add(delivery.MaxLocationSkew+time.Second)))
	wantField(t, err, delivery.EINVALID, "ts")

	loc := e.locate(e.w.courier, now)
	if loc.CourierID != e.w.courier.UserID || loc.Ts != now.UnixMilli() {
		t.Fatalf("UpdateLocation = %+v", loc)
	}
	_, err = e.svc.UpdateLocation(t.Context(), e.w.courier, position(now.Add(-time.Millisecond)))
	wantField(t, err, delivery.EINVALID, "ts")
	e.locate(e.w.courier, now) // a resend is no error
	e.locate(e.w.courier2, now.Add(-time.Second))
}

// A position goes to the order channels of the courier's active orders,
// each with that order's seq as AsOf, and nowhere else.
func TestUpdateLocationPublishes(t *testing.T) {
	e := newEnv(t)
	done := e.deliver(e.assigned().ID)
	a, b := e.assigned(), e.assigned()
	e.claim(e.w.courier2, e.accepted().ID)
	e.accepted() // offered, nobody's
	a = e.setStatus(e.w.staff, a.ID, delivery.StatusPreparing)
	e.pub.take()

	e.clock.Set(b.AssignedAt.Add(time.Second))
	loc := e.locate(e.w.courier, e.clock.Now())
	data, err := json.Marshal(loc)
	must(t, err)
	// a moved on after its claim: each order gets its own seq.
	asOf := map[string]int64{wire.OrderChannel(a.ID): a.Seq, wire.OrderChannel(b.ID): b.Seq,
		wire.TrackChannel(a.ID): a.Seq, wire.TrackChannel(b.ID): b.Seq}
	pubs := e.pub.take()
	if len(pubs) != len(asOf) {
		t.Fatalf("published to %q, want %v (not to delivered %s)", channels(pubs), asOf, done.ID)
	}
	for _, p := range pubs {
		want, ok := asOf[p.Channel]
		delete(asOf, p.Channel)
		if !ok || p.Event != delivery.EventCourierLocation || string(p.Data) != string(data) || p.Ts != e.clock.Now().UnixMilli() ||
			p.AsOf != want || p.Courier != e.w.courier.UserID || !p.Latest || p.Seq != 0 || p.Except != 0 || p.Revoke != 0 {
			t.Fatalf("publication %+v (%s): want courier.location %s as of seq %d, latest, of courier %s", p, p.Data, data, want, e.w.courier.UserID)
		}
	}
}

func TestUpdateLocationWithoutActiveOrders(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	e.deliver(o.ID)
	e.accepted() // offered
	e.clock.Set(o.AssignedAt.Add(time.Second))
	e.pub.take()
	e.locate(e.w.courier, e.clock.Now())
	e.locate(e.w.courier2, e.clock.Now())
	e.pub.wantNone(t)
}

// A position taken before the courier was assigned (on the way from
// home, or during an earlier assignment) is not the order's to show.
func TestUpdateLocationBeforeAssignment(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	e.clock.Set(o.AssignedAt.Add(time.Second))
	e.pub.take()
	// UnixMilli rounds down: this ts is at or before AssignedAt.
	before := time.UnixMilli(o.AssignedAt.UnixMilli())
	e.locate(e.w.courier, before)
	e.pub.wantNone(t)
	if _, ok, err := e.svc.LastLocation(t.Context(), e.w.customer, o.ID); err != nil || ok {
		t.Fatalf("LastLocation of a position before the assignment: ok=%v, err=%v", ok, err)
	}

	e.locate(e.w.courier, before.Add(time.Millisecond))
	if got := channels(e.pub.take()); !slices.Equal(got, []string{wire.OrderChannel(o.ID), wire.TrackChannel(o.ID)}) {
		t.Fatalf("published to %q, want the order's and its track channel", got)
	}
}

func TestLastLocation(t *testing.T) {
	e := newEnv(t)
	placed := e.place()
	o := e.assigned()
	e.clock.Set(o.AssignedAt.Add(time.Second))
	loc := e.locate(e.w.courier, e.clock.Now())

	for _, a := range []delivery.Actor{e.w.customer, e.w.staff, e.w.courier, e.w.admin} {
		got, ok, err := e.svc.LastLocation(t.Context(), a, o.ID)
		if err != nil || !ok || got != loc {
			t.Fatalf("LastLocation as %s = %+v ok=%v err=%v, want %+v", a.Role, got, ok, err, loc)
		}
	}
	for _, a := range []delivery.Actor{e.w.customer2, e.w.staff2, e.w.courier2} {
		_, _, err := e.svc.LastLocation(t.Context(), a, o.ID)
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	_, _, err := e.svc.LastLocation(t.Context(), e.w.customer, 1<<40)
	wantCode(t, err, delivery.ENOTFOUND)
	if _, ok, err := e.svc.LastLocation(t.Context(), e.w.customer, placed.ID); err != nil || ok {
		t.Fatalf("order without a courier: ok=%v, err=%v", ok, err)
	}

	e.clock.Add(delivery.MaxLocationAge + time.Millisecond)
	if _, ok, err := e.svc.LastLocation(t.Context(), e.w.customer, o.ID); err != nil || ok {
		t.Fatalf("position older than %s: ok=%v, err=%v", delivery.MaxLocationAge, ok, err)
	}
	e.locate(e.w.courier, e.clock.Now())
	e.deliver(o.ID)
	if _, ok, err := e.svc.LastLocation(t.Context(), e.w.customer, o.ID); err != nil || ok {
		t.Fatalf("delivered order: ok=%v, err=%v", ok, err)
	}
}

// latestOf returns the publications of Latest by event.
func latestOf(t *testing.T, e *env, a delivery.Actor, channel string) map[string]delivery.Publication {
	t.Helper()
	pubs, err := e.svc.Latest(t.Context(), a, channel)
	must(t, err)
	byEvent := map[string]delivery.Publication{}
	for _, p := range pubs {
		if _, twice := byEvent[p.Event]; twice {
			t.Fatalf("Latest(%s) = %+v: %s twice", channel, pubs, p.Event)
		}
		byEvent[p.Event] = p
	}
	return byEvent
}

func TestLatest(t *testing.T) {
	e := newEnv(t)
	o := e.assigned()
	ch := wire.OrderChannel(o.ID)
	// Before any position: the ETA the accept made, as of the order's seq.
	stored, err := e.store.OrderByID(t.Context(), o.ID)
	must(t, err)
	if stored.ETA == nil {
		t.Fatal("no ETA stored for an accepted order")
	}
	etaData, err := json.Marshal(stored.ETA)
	must(t, err)
	latest := latestOf(t, e, e.w.customer, ch)
	if eta, ok := latest[delivery.EventOrderETA]; len(latest) != 1 || !ok || eta.Channel != ch || string(eta.Data) != string(etaData) ||
		eta.AsOf != o.Seq || eta.Seq != 0 || eta.Latest || eta.Courier != 0 {
		t.Fatalf("Latest before any position = %+v, want the ETA %s as of seq %d", latest, etaData, o.Seq)
	}
	e.clock.Set(o.AssignedAt.Add(time.Second))
	loc := e.locate(e.w.courier, e.clock.Now())
	// AsOf is the order's seq when Latest read it, not when the position came.
	o = e.setStatus(e.w.staff, o.ID, delivery.StatusPreparing)

	latest = latestOf(t, e, e.w.staff, ch)
	data, err := json.Marshal(loc)
	must(t, err)
	p, ok := latest[delivery.EventCourierLocation]
	if len(latest) != 2 || !ok {
		t.Fatalf("Latest = %+v, want a position and the ETA", latest)
	}
	if p.Channel != ch || string(p.Data) != string(data) || p.AsOf != o.Seq || p.Courier != e.w.courier.UserID || !p.Latest || p.Seq != 0 {
		t.Fatalf("Latest = %+v (%s), want the position as of seq %d", p, p.Data, o.Seq)
	}
	if eta := latest[delivery.EventOrderETA]; eta.AsOf != o.Seq {
		t.Fatalf("Latest ETA %+v, want it as of seq %d", eta, o.Seq)
	}

	for _, other := range []string{wire.UserChannel(e.w.customer.UserID), wire.RestaurantChannel(e.w.r), wire.DispatchChannel} {
		if pubs, err := e.svc.Latest(t.Context(), e.w.admin, other); err != nil || len(pubs) != 0 {
			t.Fatalf("Latest(%s) = %+v, %v: want nothing", other, pubs, err)
		}
	}
	_, err = e.svc.Latest(t.Context(), e.w.customer2, ch)
	wantCode(t, err, delivery.EFORBIDDEN)
	_, err = e.svc.Latest(t.Context(), e.w.customer, "order:x")
	wantCode(t, err, delivery.EINVALID)

	e.deliver(o.ID)
	if pubs, err := e.svc.Latest(t.Context(), e.w.customer, ch); err != nil || len(pubs) != 0 {
		t.Fatalf("Latest after delivery = %+v, %v", pubs, err)
	}
}
