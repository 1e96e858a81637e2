package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
)

func TestLifecycleHappyPathAppendsEvents(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	o := e.place(w)
	e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
	e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
	e.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")
	e.setStatus(200, o, w.Restaurant, delivery.StatusReady, "")
	e.setStatus(200, o, w.Courier, delivery.StatusPickedUp, "")
	var final delivery.Order
	e.setStatus(200, o, w.Courier, delivery.StatusDelivered, "").decode(t, &final)
	if final.Status != delivery.StatusDelivered || final.Seq != 7 || final.CourierID == nil || *final.CourierID != w.Courier.User.ID {
		t.Fatalf("final = %+v", final)
	}

	var replay struct{ Events []delivery.Event }
	e.must(200, "GET", orderPath(o.ID)+"/events", w.Customer.Token, nil).decode(t, &replay)
	want := []string{"order.created", "order.status:accepted", "order.assigned", "order.status:preparing", "order.status:ready", "order.status:picked_up", "order.status:delivered"}
	if len(replay.Events) != len(want) {
		t.Fatalf("%d events, want %d", len(replay.Events), len(want))
	}
	for i, ev := range replay.Events {
		var snap delivery.Order
		if err := json.Unmarshal(ev.Data, &snap); err != nil {
			t.Fatal(err)
		}
		got := ev.Type
		if ev.Type == delivery.EventOrderStatus {
			got += ":" + string(snap.Status)
		}
		if ev.Seq != int64(i+1) || got != want[i] || snap.Seq != ev.Seq || ev.OrderID != o.ID {
			t.Fatalf("event %d = seq %d %s (snapshot seq %d), want seq %d %s", i, ev.Seq, got, snap.Seq, i+1, want[i])
		}
	}
	e.must(200, "GET", orderPath(o.ID)+"/events?after=5&limit=1", w.Courier.Token, nil).decode(t, &replay)
	if len(replay.Events) != 1 || replay.Events[0].Seq != 6 {
		t.Fatalf("after=5&limit=1: %+v", replay.Events)
	}
	for _, q := range []string{"?after=-1", "?after=x", "?limit=0x", "?limit=5000"} {
		if r := e.do("GET", orderPath(o.ID)+"/events"+q, w.Customer.Token, nil); r.Status != 400 {
			t.Errorf("events%s: %d", q, r.Status)
		}
	}
}

// TestEveryInvalidTransition drives an order into each status, then tries
// every target status as each party and as outsiders through HTTP: each
// attempt the lifecycle table forbids is answered 403 or 409 and changes
// nothing.
func TestEveryInvalidTransition(t *testing.T) {
	// One courier holds an order in every status at once.
	e := newTestEnv(t, func(cfg *app.Config) { cfg.MaxActivePerCourier = delivery.MaxActiveOrders })
	w := e.newWorld()
	outsiders := e.newWorld()
	paths := map[delivery.Status][]func(o delivery.Order){
		delivery.StatusPlaced:    nil,
		delivery.StatusRejected:  {e.step(w.Restaurant, delivery.StatusRejected)},
		delivery.StatusCancelled: {e.step(w.Customer, delivery.StatusCancelled)},
		delivery.StatusAccepted:  {e.step(w.Restaurant, delivery.StatusAccepted), e.claim(w.Courier)},
		delivery.StatusPreparing: {e.step(w.Restaurant, delivery.StatusAccepted), e.claim(w.Courier), e.step(w.Restaurant, delivery.StatusPreparing)},
		delivery.StatusReady: {e.step(w.Restaurant, delivery.StatusAccepted), e.claim(w.Courier), e.step(w.Restaurant, delivery.StatusPreparing),
			e.step(w.Restaurant, delivery.StatusReady)},
		delivery.StatusPickedUp: {e.step(w.Restaurant, delivery.StatusAccepted), e.claim(w.Courier), e.step(w.Restaurant, delivery.StatusPreparing),
			e.step(w.Restaurant, delivery.StatusReady), e.step(w.Courier, delivery.StatusPickedUp)},
		delivery.StatusDelivered: {e.step(w.Restaurant, delivery.StatusAccepted), e.claim(w.Courier), e.step(w.Restaurant, delivery.StatusPreparing),
			e.step(w.Restaurant, delivery.StatusReady), e.step(w.Courier, delivery.StatusPickedUp), e.step(w.Courier, delivery.StatusDelivered)},
	}
	actors := map[string]party{
		"customer": w.Customer, "restaurant": w.Restaurant, "courier": w.Courier,
		"other customer": outsiders.Customer, "other restaurant": outsiders.Restaurant, "other courier": w.Courier2,
	}
	attempts := 0
	for from, steps := range paths {
		o := e.place(w)
		for _, step := range steps {
			step(o)
		}
		var before delivery.Order
		e.must(200, "GET", orderPath(o.ID), w.Customer.Token, nil).decode(t, &before)
		if before.Status != from {
			t.Fatalf("drove order to %s, want %s", before.Status, from)
		}
		for name, p := range actors {
			for _, to := range delivery.Statuses {
				err := delivery.CheckTransition(before, p.User.Actor(), to, "because")
				if err == nil {
					continue // an allowed move: the happy path covers it
				}
				want := map[string]int{delivery.EFORBIDDEN: 403, delivery.EINVALIDTRANSITION: 409}[delivery.ErrorCode(err)]
				if want == 0 {
					t.Fatalf("unexpected oracle error %v", err)
				}
				r := e.do("POST", orderPath(o.ID)+"/status", p.Token, map[string]any{"status": to, "reason": "because"})
				attempts++
				if r.Status != want || r.errorCode(t) != delivery.ErrorCode(err) {
					t.Errorf("%s %s->%s: got %d %s, want %d", name, from, to, r.Status, r.Body, want)
				}
			}
		}
		var after delivery.Order
		e.must(200, "GET", orderPath(o.ID), w.Customer.Token, nil).decode(t, &after)
		if after.Seq != before.Seq || after.Status != before.Status {
			t.Fatalf("refused attempts changed the order: %+v -> %+v", before, after)
		}
	}
	if attempts < 300 {
		t.Fatalf("only %d attempts: the table was not exercised", attempts)
	}
}

func (e *testEnv) step(p party, to delivery.Status) func(delivery.Order) {
	return func(o delivery.Order) { e.setStatus(200, o, p, to, "because") }
}

func (e *testEnv) claim(p party) func(delivery.Order) {
	return func(o delivery.Order) { e.must(200, "POST", orderPath(o.ID)+"/claim", p.Token, nil) }
}

func TestRestaurantCancelRequiresReason(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	o := e.place(w)
	e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
	r := e.setStatus(400, o, w.Restaurant, delivery.StatusCancelled, "")
	if r.errorCode(t) != "invalid" {
		t.Fatalf("%s", r.Body)
	}
	var got delivery.Order
	e.setStatus(200, o, w.Restaurant, delivery.StatusCancelled, "oven broke").decode(t, &got)
	if got.Status != delivery.StatusCancelled || got.Reason != "oven broke" {
		t.Fatalf("order = %+v", got)
	}
}

func TestIfMatch(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	o := e.place(w)
	body := map[string]any{"status": "accepted"}
	r := e.do("POST", orderPath(o.ID)+"/status", w.Restaurant.Token, body, "If-Match", `"7"`)
	if r.Status != 412 || r.errorCode(t) != "precondition_failed" {
		t.Fatalf("stale If-Match: %d %s", r.Status, r.Body)
	}
	if r := e.do("POST", orderPath(o.ID)+"/status", w.Restaurant.Token, body, "If-Match", "x"); r.Status != 400 {
		t.Fatalf("malformed If-Match: %d", r.Status)
	}
	if r := e.do("POST", orderPath(o.ID)+"/status", w.Restaurant.Token, body, "If-Match", `W/"7"`); r.Status != 412 {
		t.Fatalf("stale weak If-Match: %d", r.Status)
	}
	get := e.must(200, "GET", orderPath(o.ID), w.Restaurant.Token, nil)
	r = e.must(200, "POST", orderPath(o.ID)+"/status", w.Restaurant.Token, body, "If-Match", get.Header.Get("ETag"))
	if r.Header.Get("ETag") != strconv.Quote("2") {
		t.Fatalf("ETag after change = %q", r.Header.Get("ETag"))
	}
	// "*" asks only that the order exists.
	e.must(200, "POST", orderPath(o.ID)+"/status", w.Restaurant.Token, map[string]any{"status": "preparing"}, "If-Match", "*")
}

func TestConcurrentClaimsOneWins(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newTestEnvOn(t, open(t))
			w := e.newWorld()
			const couriers = 8
			var racers []party
			for range couriers {
				racers = append(racers, e.register(delivery.RoleCourier))
			}
			for round := range 3 {
				o := e.place(w)
				e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
				results := make([]response, couriers)
				var wg sync.WaitGroup
				for i, c := range racers {
					wg.Go(func() { results[i] = e.do("POST", orderPath(o.ID)+"/claim", c.Token, nil) })
				}
				wg.Wait()
				winners := 0
				var winner delivery.ID
				for i, r := range results {
					switch r.Status {
					case 200:
						winners++
						winner = racers[i].User.ID
					case 409:
						if code := r.errorCode(t); code != "already_assigned" {
							t.Fatalf("loser code %s", code)
						}
					default:
						t.Fatalf("claim answered %d %s", r.Status, r.Body)
					}
				}
				if winners != 1 {
					t.Fatalf("round %d: %d winners", round, winners)
				}
				var got delivery.Order
				e.must(200, "GET", orderPath(o.ID), w.Customer.Token, nil).decode(t, &got)
				if got.CourierID == nil || *got.CourierID != winner || got.Seq != 3 {
					t.Fatalf("order after race = %+v, want courier %s at seq 3", got, winner)
				}
			}
		})
	}
}

func TestClaimRules(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	o := e.place(w)
	claim := func(p party) response { return e.do("POST", orderPath(o.ID)+"/claim", p.Token, nil) }
	if r := claim(w.Courier); r.Status != 409 || r.errorCode(t) != "invalid_transition" {
		t.Fatalf("claim of a placed order: %d %s", r.Status, r.Body)
	}
	for _, p := range []party{w.Customer, w.Restaurant} {
		if r := claim(p); r.Status != 403 {
			t.Fatalf("claim by %s: %d", p.User.Role, r.Status)
		}
	}
	if r := e.do("POST", orderPath(99999)+"/claim", w.Courier.Token, nil); r.Status != 404 {
		t.Fatalf("claim of unknown order: %d", r.Status)
	}
	e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
	e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
	if r := claim(w.Courier); r.Status != 409 {
		t.Fatalf("second claim by the same courier: %d", r.Status)
	}
}

func TestProbesAndErrors(t *testing.T) {
	e := newTestEnv(t)
	e.must(200, "GET", "/healthz", "", nil)
	var ready struct {
		Ready  bool
		Checks map[string]string
	}
	e.must(200, "GET", "/readyz", "", nil).decode(t, &ready)
	if !ready.Ready || ready.Checks["store"] != "up" {
		t.Fatalf("readyz = %+v", ready)
	}
	if r := e.do("GET", "/api/v1/nope", "", nil); r.Status != 404 || r.errorCode(t) != "not_found" {
		t.Fatalf("unknown route: %d %s", r.Status, r.Body)
	}
	// A body over the limit is refused by its length, unread: the client
	// sends the head alone, since the server closes after its answer and
	// a body it did not read would reset the connection under the answer.
	if r := e.headOnly("POST", "/api/v1/auth/login", 70<<10); r.Status != 413 || r.errorCode(t) != "too_large" {
		t.Fatalf("huge body: %d %.200s", r.Status, r.Body)
	}
	if r := e.do(http.MethodPut, "/api/v1/orders", "", nil); r.Status >= 500 {
		t.Fatalf("wrong method: %d", r.Status)
	}
}

func TestReadyzReportsDownDependency(t *testing.T) {
	e := newTestEnv(t, func(c *app.Config) {
		c.Server.ReadyChecks = map[string]func(context.Context) error{"redis": func(context.Context) error { return errors.New("connection refused") }}
	})
	var ready struct {
		Ready  bool
		Checks map[string]string
	}
	e.must(503, "GET", "/readyz", "", nil).decode(t, &ready)
	if ready.Ready || ready.Checks["redis"] != "down" || ready.Checks["store"] != "up" {
		t.Fatalf("readyz = %+v", ready)
	}
}
