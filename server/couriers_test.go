package server_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
)

// offerKeys are the fields of API.md's offer view, and all of them.
var offerKeys = []string{"created_at", "id", "items_count", "restaurant_id", "restaurant_name", "seq", "status", "total_cents"}

// expectOfferView fails unless data is the offer view of order id: those
// keys only, nothing of the customer.
func expectOfferView(t *testing.T, data []byte, id delivery.ID) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("offer %s: %v", data, err)
	}
	if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, offerKeys) || m["id"] != id.String() {
		t.Errorf("offer of %s is %s: want exactly the keys %v", id, data, offerKeys)
	}
}

// accepted places an order and accepts it: offered to couriers.
func (e *testEnv) accepted(w world) delivery.Order {
	e.t.Helper()
	o := e.place(w)
	var got delivery.Order
	e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "").decode(e.t, &got)
	return got
}

func (e *testEnv) unassign(o delivery.Order, p party, reason any) response {
	e.t.Helper()
	return e.do("POST", orderPath(o.ID)+"/unassign", p.Token, map[string]any{"reason": reason})
}

// TestClaimBeyondMaxActive: a courier holding MAX_ACTIVE_PER_COURIER
// (default 3) active orders is refused one more with 409 too_many_active,
// which changes nothing; a delivered order makes room again.
func TestClaimBeyondMaxActive(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		var held []delivery.Order
		for range delivery.DefaultMaxActivePerCourier {
			held = append(held, e.claimed(w))
		}
		extra := e.accepted(w)
		r := e.do("POST", orderPath(extra.ID)+"/claim", w.Courier.Token, nil)
		if r.Status != 409 || r.errorCode(t) != delivery.ETOOMANYACTIVE {
			t.Fatalf("claim beyond the cap: %d %s", r.Status, r.Body)
		}
		var after delivery.Order
		e.must(200, "GET", orderPath(extra.ID), w.Customer.Token, nil).decode(t, &after)
		if after.CourierID != nil || after.Seq != extra.Seq || len(e.events(extra, w.Customer)) != int(extra.Seq) {
			t.Fatalf("refused claim changed the order: %+v", after)
		}
		// Another courier is not limited by this one's orders.
		e.must(200, "POST", orderPath(extra.ID)+"/claim", w.Courier2.Token, nil)
		e.deliver(held[0], w)
		e.claimed(w)
	})
}

// TestClaimMaxActiveSetting: MaxActivePerCourier (MAX_ACTIVE_PER_COURIER)
// moves the cap.
func TestClaimMaxActiveSetting(t *testing.T) {
	e := newTestEnv(t, func(cfg *app.Config) { cfg.MaxActivePerCourier = 1 })
	w := e.newWorld()
	e.claimed(w)
	o := e.accepted(w)
	if r := e.do("POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil); r.Status != 409 || r.errorCode(t) != delivery.ETOOMANYACTIVE {
		t.Fatalf("second claim with a cap of 1: %d %s", r.Status, r.Body)
	}
}

// TestConcurrentClaimsByOneCourier: one courier claiming many offered
// orders at once gets exactly the cap of them, the rest 409
// too_many_active, on both engines.
func TestConcurrentClaimsByOneCourier(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		const n = 10
		offered := make([]delivery.Order, n)
		for i := range offered {
			offered[i] = e.accepted(w)
		}
		results := make([]response, n)
		var wg sync.WaitGroup
		for i, o := range offered {
			wg.Go(func() { results[i] = e.do("POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil) })
		}
		wg.Wait()
		won := 0
		for _, r := range results {
			switch {
			case r.Status == 200:
				won++
			case r.Status != 409 || r.errorCode(t) != delivery.ETOOMANYACTIVE:
				t.Fatalf("claim answered %d %s", r.Status, r.Body)
			}
		}
		var list struct{ Orders []delivery.Order }
		e.must(200, "GET", "/api/v1/orders?limit=100", w.Restaurant.Token, nil).decode(t, &list)
		holds := 0
		for _, o := range list.Orders {
			if o.CourierID != nil && *o.CourierID == w.Courier.User.ID {
				holds++
			}
		}
		if won != delivery.DefaultMaxActivePerCourier || holds != won {
			t.Fatalf("%d claims won, the courier holds %d orders; want %d", won, holds, delivery.DefaultMaxActivePerCourier)
		}
	})
}

// TestUnassign: the order's restaurant (or an admin) takes the courier
// off an order from accepted to ready, with a reason of 1 to 200
// characters: 200 with courier_id null, a durable order.unassigned naming
// the courier removed, and the order offered again; the courier removed
// is no party any more. Everyone else is refused, and a refusal changes
// nothing.
func TestUnassign(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w, other := e.newWorld(), e.newWorld()
		admin := e.admin()
		o := e.claimed(w) // seq 3

		unchanged := func(what string) {
			t.Helper()
			var got delivery.Order
			e.must(200, "GET", orderPath(o.ID), w.Customer.Token, nil).decode(t, &got)
			if got.Seq != 3 || got.CourierID == nil {
				t.Fatalf("%s changed the order: %+v", what, got)
			}
		}
		for name, tc := range map[string]struct {
			p      party
			reason any
			status int
		}{
			"no reason":          {w.Restaurant, "", 400},
			"blank reason":       {w.Restaurant, "   ", 400},
			"reason too long":    {w.Restaurant, strings.Repeat("é", 201), 400},
			"reason not text":    {w.Restaurant, 7, 400},
			"the customer":       {w.Customer, "no", 403},
			"the courier itself": {w.Courier, "no", 403},
			"another courier":    {w.Courier2, "no", 403},
			"other restaurant":   {other.Restaurant, "no", 403},
		} {
			if r := e.unassign(o, tc.p, tc.reason); r.Status != tc.status {
				t.Errorf("%s: %d %s, want %d", name, r.Status, r.Body, tc.status)
			} else if r.Status == 403 && strings.Contains(string(r.Body), "Main St") {
				t.Errorf("%s: refusal shows the order: %s", name, r.Body)
			}
		}
		if r := e.do("POST", orderPath(o.ID)+"/unassign", "", map[string]any{"reason": "x"}); r.Status != 401 {
			t.Errorf("anonymous: %d", r.Status)
		}
		if r := e.unassign(delivery.Order{ID: o.ID + 1000}, w.Restaurant, "x"); r.Status != 404 {
			t.Errorf("unknown order: %d %s", r.Status, r.Body)
		}
		unchanged("refused unassigns")

		reason := strings.Repeat("ü", 200)
		r := e.unassign(o, w.Restaurant, reason)
		if r.Status != 200 {
			t.Fatalf("unassign: %d %s", r.Status, r.Body)
		}
		var body map[string]any
		r.decode(t, &body)
		if v, ok := body["courier_id"]; !ok || v != nil || body["seq"] != 4.0 || body["status"] != "accepted" || r.Header.Get("ETag") != `"4"` {
			t.Fatalf("unassign answered %s (ETag %s)", r.Body, r.Header.Get("ETag"))
		}
		evs := e.events(o, w.Customer)
		last := evs[len(evs)-1]
		var p delivery.Unassigned
		if err := json.Unmarshal(last.Data, &p); err != nil || last.Type != delivery.EventOrderUnassigned || last.Seq != 4 ||
			p.UnassignedCourierID != w.Courier.User.ID || p.CourierID != nil || p.Reason != reason || p.ID != o.ID || p.Seq != 4 || p.Status != delivery.StatusAccepted {
			t.Fatalf("last event %s #%d %s (%v)", last.Type, last.Seq, last.Data, err)
		}
		// The courier removed sees the order no more; it is offered again.
		for _, sub := range []string{"/events", "/messages", "/location"} {
			if r := e.do("GET", orderPath(o.ID)+sub, w.Courier.Token, nil); r.Status != 403 {
				t.Errorf("removed courier GET %s: %d %s", sub, r.Status, r.Body)
			}
		}
		expectOfferView(t, e.must(200, "GET", orderPath(o.ID), w.Courier.Token, nil).Body, o.ID)
		if r := e.post(o, w.Courier, "still here?", "late"); r.Status != 403 {
			t.Errorf("removed courier posts: %d %s", r.Status, r.Body)
		}
		if r := e.unassign(o, w.Restaurant, "again"); r.Status != 409 || r.errorCode(t) != delivery.EINVALIDTRANSITION {
			t.Fatalf("unassign without a courier: %d %s", r.Status, r.Body)
		}
		e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier2.Token, nil)
		// An admin may too, in preparing and ready; the courier may then
		// claim the order again.
		e.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")
		if r := e.unassign(o, admin, "courier stuck in traffic"); r.Status != 200 {
			t.Fatalf("admin unassign: %d %s", r.Status, r.Body)
		}
		e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
		e.setStatus(200, o, w.Restaurant, delivery.StatusReady, "")
		e.must(200, "POST", orderPath(o.ID)+"/unassign", w.Restaurant.Token, map[string]any{"reason": "x"})
		// Once picked up (or ended), the courier stays.
		e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
		e.setStatus(200, o, w.Courier, delivery.StatusPickedUp, "")
		for _, p := range []party{w.Restaurant, admin} {
			if r := e.unassign(o, p, "too late"); r.Status != 409 || r.errorCode(t) != delivery.EINVALIDTRANSITION {
				t.Fatalf("unassign after pickup by %s: %d %s", p.User.Role, r.Status, r.Body)
			}
		}
		e.setStatus(200, o, w.Courier, delivery.StatusDelivered, "")
		if r := e.unassign(o, w.Restaurant, "too late"); r.Status != 409 {
			t.Fatalf("unassign after delivery: %d %s", r.Status, r.Body)
		}
		if r := e.unassign(e.place(w), w.Restaurant, "never assigned"); r.Status != 409 || r.errorCode(t) != delivery.EINVALIDTRANSITION {
			t.Fatalf("unassign of a placed order: %d %s", r.Status, r.Body)
		}
	})
}

// TestOfferView: a courier sees an offered order it is no party of as the
// offer view only, in GET /orders/{id} and GET /orders, and the whole
// order once it is assigned to it.
func TestOfferView(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		body := placeBody(w)
		body["notes"] = "door code 4711"
		var o delivery.Order
		e.must(201, "POST", "/api/v1/orders", w.Customer.Token, body, "Idempotency-Key", "offer").decode(t, &o)
		e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
		mine := e.claimed(w)

		r := e.must(200, "GET", orderPath(o.ID), w.Courier.Token, nil)
		expectOfferView(t, r.Body, o.ID)
		var offer delivery.OfferView
		r.decode(t, &offer)
		want := delivery.OfferView{ID: o.ID, Status: delivery.StatusAccepted, Seq: 2, RestaurantID: w.Restaurant.User.RestaurantID,
			RestaurantName: restaurantName(t, e, w), ItemsCount: 3, TotalCents: 1850, CreatedAt: o.CreatedAt}
		if offer != want || r.Header.Get("ETag") != `"2"` {
			t.Errorf("offer view %+v (ETag %s), want %+v", offer, r.Header.Get("ETag"), want)
		}
		for _, secret := range []string{"Main St", "4711", `"customer_id"`, `"unread"`, `"items"`} {
			if strings.Contains(string(r.Body), secret) {
				t.Errorf("offer view shows %s: %s", secret, r.Body)
			}
		}

		var list struct{ Orders []json.RawMessage }
		e.must(200, "GET", "/api/v1/orders", w.Courier.Token, nil).decode(t, &list)
		if len(list.Orders) != 2 {
			t.Fatalf("courier lists %d orders, want its own and the offer", len(list.Orders))
		}
		for _, raw := range list.Orders {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			switch m["id"] {
			case o.ID.String():
				expectOfferView(t, raw, o.ID)
			case mine.ID.String():
				if m["delivery_address"] != "1 Main St" || m["unread"] != 0.0 || m["customer_id"] != w.Customer.User.ID.String() {
					t.Errorf("the courier's own order is listed as %s", raw)
				}
			default:
				t.Errorf("unexpected order %s", raw)
			}
		}

		e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier2.Token, nil)
		var full delivery.Order
		e.must(200, "GET", orderPath(o.ID), w.Courier2.Token, nil).decode(t, &full)
		if full.DeliveryAddress != "1 Main St" || full.Notes != "door code 4711" || full.CustomerID != w.Customer.User.ID {
			t.Errorf("assigned courier sees %+v", full)
		}
		if r := e.do("GET", orderPath(o.ID), w.Courier.Token, nil); r.Status != 403 {
			t.Errorf("claimed by another: %d %s", r.Status, r.Body)
		}
		// The other parties see the whole order as ever.
		for _, p := range []party{w.Customer, w.Restaurant, e.admin()} {
			var got map[string]any
			e.must(200, "GET", orderPath(o.ID), p.Token, nil).decode(t, &got)
			if got["delivery_address"] != "1 Main St" || got["restaurant_name"] != restaurantName(t, e, w) {
				t.Errorf("%s sees %v", p.User.Role, got)
			}
		}
	})
}

func restaurantName(t *testing.T, e *testEnv, w world) string {
	t.Helper()
	r, err := e.Store.RestaurantByID(t.Context(), w.Restaurant.User.RestaurantID)
	if err != nil {
		t.Fatal(err)
	}
	return r.Name
}

// TestPositionsOnlyAfterAssignment: GET /orders/{id}/location shows only
// a position the courier took after its assignment to that order (not
// one sent before it, from another delivery or from home), and none older
// than 10 minutes.
func TestPositionsOnlyAfterAssignment(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		clock := &testClock{}
		e := newEnv(withClock(clock))
		w := e.newWorld()
		a := e.claimed(w)
		send := func(lat float64, ts int64) {
			t.Helper()
			e.must(202, "POST", locationPath, w.Courier.Token, map[string]any{"lat": lat, "lng": 1, "ts": ts})
		}
		lastLat := func(o delivery.Order) *float64 {
			t.Helper()
			var body struct{ Location *delivery.Location }
			e.must(200, "GET", orderPath(o.ID)+"/location", w.Customer.Token, nil).decode(t, &body)
			if body.Location == nil {
				return nil
			}
			return &body.Location.Lat
		}
		send(1, time.Now().UnixMilli()+1)
		b := e.claimed(w)
		if got := lastLat(a); got == nil || *got != 1 {
			t.Fatalf("order a: %v, want the position taken while assigned", got)
		}
		if got := lastLat(b); got != nil {
			t.Fatalf("order b shows %v, taken before its assignment", *got)
		}
		send(2, time.Now().UnixMilli()+2)
		if got := lastLat(b); got == nil || *got != 2 {
			t.Fatalf("order b: %v, want the position after its assignment", got)
		}
		// Unassigned and claimed again: the positions of the first
		// assignment are not shown for the second.
		e.must(200, "POST", orderPath(b.ID)+"/unassign", w.Restaurant.Token, map[string]any{"reason": "swap"})
		if got := lastLat(b); got != nil {
			t.Fatalf("order b without a courier shows %v", *got)
		}
		e.must(200, "POST", orderPath(b.ID)+"/claim", w.Courier.Token, nil)
		if got := lastLat(b); got != nil {
			t.Fatalf("order b, claimed again, shows %v from the first assignment", *got)
		}
		// Ten minutes on, the last position is too old for anyone.
		send(3, time.Now().UnixMilli()+3)
		clock.Advance(delivery.MaxLocationAge - time.Second)
		if got := lastLat(a); got == nil || *got != 3 {
			t.Fatalf("a second under 10 minutes old: %v, want it shown", got)
		}
		clock.Advance(2 * time.Second)
		if got := lastLat(a); got != nil {
			t.Fatalf("older than 10 minutes, shown: %v", *got)
		}
	})
}
