package server_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// north returns p moved m metres north, exactly m away on the sphere of
// the arrival detector.
func north(p delivery.Place, m float64) delivery.Place {
	return delivery.Place{Lat: p.Lat + m/(2*math.Pi*6_371_008.8/360), Lng: p.Lng}
}

// placedOrder gives w's restaurant its place and preparation time (prep
// minutes), and places an order of it to dropoff.
func (e *rtEnv) placedOrder(w world, restaurant, dropoff delivery.Place, prep int) delivery.Order {
	e.t.Helper()
	e.must(http.StatusOK, "PATCH", restaurantPath(w.Restaurant.User.RestaurantID), w.Restaurant.Token,
		map[string]any{"lat": restaurant.Lat, "lng": restaurant.Lng, "prep_minutes": prep})
	body := placeBody(w)
	body["delivery_lat"], body["delivery_lng"] = dropoff.Lat, dropoff.Lng
	var o delivery.Order
	e.must(http.StatusCreated, "POST", "/api/v1/orders", w.Customer.Token, body, "Idempotency-Key", fmt.Sprintf("key-%d", e.seq.Add(1))).decode(e.t, &o)
	return o
}

func etaOf(t *testing.T, f frame) delivery.ETA {
	t.Helper()
	var eta delivery.ETA
	if err := json.Unmarshal(f.Data, &eta); err != nil {
		t.Fatalf("order.eta data %s: %v", f.Data, err)
	}
	return eta
}

// TestWSArrivalAndETA: on order:{id}, the parties get order.eta when the
// order is accepted and when the courier's way moves it, a subscriber gets
// the latest after its replay, and the courier's stay at the restaurant
// gives one durable courier.arrived, in the log with the next seq and on
// the parties' feeds. The clock stands still but where the test moves it,
// so every estimate is known.
func TestWSArrivalAndETA(t *testing.T) {
	clock := newStepClock()
	e := newRealtimeEnv(t, withHubClock(clock))
	w := e.newWorld()
	restaurant := delivery.Place{Lat: 52.52, Lng: 13.405}
	o := e.placedOrder(w, restaurant, north(restaurant, 3000), 20)
	ch := wire.OrderChannel(o.ID)
	rest := wire.RestaurantChannel(w.Restaurant.User.RestaurantID)
	cust, staff := e.dial(w.Customer), e.dial(w.Restaurant)
	cust.subscribeSettled(ch, 0)
	staff.subscribeSettled(rest)

	var accepted delivery.Order
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "").decode(t, &accepted)
	ready := accepted.AcceptedAt.Add(20 * time.Minute).UnixMilli()
	first := etaOf(t, cust.waitNamed(ch, delivery.EventOrderETA, 1)[0])
	if first.OrderID != o.ID || first.Basis != delivery.BasisPrep || *first.PickupAt != ready || first.DeliverAt != ready+720_000 {
		t.Fatalf("ETA on accept %+v, want the food at %d and 3 km at 15 km/h", first, ready)
	}
	if f := staff.waitNamed(rest, delivery.EventOrderETA, 1)[0]; f.Seq != 0 || etaOf(t, f).DeliverAt != first.DeliverAt {
		t.Fatalf("restaurant feed's ETA %+v", f)
	}

	e.must(http.StatusOK, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
	courier := e.dial(w.Courier)
	courier.subscribeSettled(ch, 0)
	got := courier.events(ch)
	if names := eventNames(got); fmt.Sprint(names) != "[order.created#1 order.status#2 order.assigned#3 order.eta#0]" {
		t.Fatalf("courier's subscription: %v, want the replay then the ETA", names)
	}
	if eta := etaOf(t, got[3]); eta.DeliverAt != first.DeliverAt || eta.Basis != delivery.BasisPrep {
		t.Fatalf("ETA on subscribe %+v, want %+v", eta, first)
	}

	// A minute on (after the assignment, and ETAs due again), the courier
	// comes to the restaurant and stays: 0, 2 and 5 s.
	clock.Advance(time.Minute)
	at := clock.Now().UnixMilli()
	for _, p := range []struct {
		m  float64
		dt int64
	}{{-30, 0}, {-10, 2000}, {5, 5000}} {
		clock.Advance(time.Duration(at+p.dt-clock.Now().UnixMilli()) * time.Millisecond)
		pos := north(restaurant, p.m)
		courier.ok(map[string]any{"type": "location", "lat": pos.Lat, "lng": pos.Lng, "speed": 4, "ts": at + p.dt})
	}
	arrived := cust.waitNamed(ch, delivery.EventCourierArrived, 1)[0]
	want := fmt.Sprintf(`{"order_id":"%s","courier_id":"%s","at":"pickup","ts":%d}`, o.ID, w.Courier.User.ID, at+5000)
	if arrived.Seq != 4 || string(arrived.Data) != want {
		t.Fatalf("courier.arrived seq %d %s, want seq 4 %s", arrived.Seq, arrived.Data, want)
	}
	for _, feed := range []struct {
		c  *wsClient
		ch string
	}{{cust, wire.UserChannel(w.Customer.User.ID)}, {staff, rest}, {courier, wire.UserChannel(w.Courier.User.ID)}} {
		if f := feed.c.waitNamed(feed.ch, delivery.EventCourierArrived, 1)[0]; f.Seq != 4 || string(f.Data) != want {
			t.Errorf("%s on %s: %s#%d %s", feed.c.name, feed.ch, f.Event, f.Seq, f.Data)
		}
	}
	// The first position, a minute after the accept's estimate, moved it
	// onto the courier's way (basis to_pickup); the food is still later.
	etas := cust.waitNamed(ch, delivery.EventOrderETA, 2)
	if eta := etaOf(t, etas[1]); eta.Basis != delivery.BasisToPickup || *eta.PickupAt != ready || eta.DeliverAt != ready+750_000 {
		t.Fatalf("ETA on the way %+v, want the food's time and 3 km at 4 m/s", eta)
	}
	e.barrier(cust, staff, courier)
	if n := len(cust.named(ch, delivery.EventCourierArrived)); n != 1 {
		t.Fatalf("%d arrivals on %s, want one", n, ch)
	}
	if n := len(cust.named(ch, delivery.EventOrderETA)); n != 2 {
		t.Fatalf("%d ETAs on %s, want the accept's and the first position's", n, ch)
	}

	// A new subscriber: the replay (the arrival in it), then the last
	// position and the last estimate.
	late := e.dial(w.Restaurant)
	late.subscribeSettled(ch, 0)
	names := eventNames(late.events(ch))
	if fmt.Sprint(names) != "[order.created#1 order.status#2 order.assigned#3 courier.arrived#4 courier.location#0 order.eta#0]" {
		t.Fatalf("late subscriber: %v", names)
	}
	var log struct {
		Events []delivery.Event `json:"events"`
	}
	e.must(http.StatusOK, "GET", orderPath(o.ID)+"/events", w.Customer.Token, nil).decode(t, &log)
	if n := len(log.Events); n != 4 || log.Events[3].Type != delivery.EventCourierArrived || string(log.Events[3].Data) != want {
		t.Fatalf("event log %+v, want the arrival as seq 4", log.Events)
	}

	// The order as REST shows it carries the arrival of its courier, for
	// a page loaded after the event; once that courier is taken off the
	// order, the arrival is no longer its courier's and is left out.
	arrivedIn := func(who string, path string, token string) string {
		var one struct {
			Arrived map[string]int64 `json:"arrived"`
		}
		var list struct {
			Orders []struct {
				Arrived map[string]int64 `json:"arrived"`
			} `json:"orders"`
		}
		e.must(http.StatusOK, "GET", path, token, nil).decode(t, &one)
		e.must(http.StatusOK, "GET", "/api/v1/orders", token, nil).decode(t, &list)
		if len(list.Orders) != 1 || fmt.Sprint(list.Orders[0].Arrived) != fmt.Sprint(one.Arrived) {
			t.Errorf("%s: GET /orders shows arrived %+v, GET %s %v", who, list.Orders, path, one.Arrived)
		}
		return fmt.Sprint(one.Arrived)
	}
	if got, want := arrivedIn("customer", orderPath(o.ID), w.Customer.Token), fmt.Sprintf("map[pickup:%d]", at+5000); got != want {
		t.Errorf("order's arrived %s, want %s", got, want)
	}
	e.must(http.StatusOK, "POST", orderPath(o.ID)+"/unassign", w.Restaurant.Token, map[string]any{"reason": "flat tyre"})
	if got := arrivedIn("restaurant", orderPath(o.ID), w.Restaurant.Token); got != "map[]" {
		t.Errorf("order's arrived after the unassign %s, want none", got)
	}
}
