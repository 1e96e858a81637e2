package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

func TestPublishAPI(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.place(w)
	order := wire.OrderChannel(o.ID)
	cust, staff := e.dial(w.Customer), e.dial(w.Restaurant)
	cust.subscribe(order)
	staff.subscribe(rest(w))
	pub := func(key string, body any) response { return e.do("POST", "/api/v1/publish", key, body) }

	// Durable to an order: the next seq, on the order channel only.
	r := pub(testAPIKey, map[string]any{"channel": order, "event": "promo.applied", "data": map[string]any{"pct": 10}, "durable": true})
	var got struct {
		Channel, Event string
		Seq            int64
	}
	if r.Status != http.StatusOK {
		t.Fatalf("durable publish: %d %s", r.Status, r.Body)
	}
	r.decode(t, &got)
	if got.Seq != 2 || got.Channel != order || got.Event != "promo.applied" {
		t.Errorf("answer: %+v", got)
	}
	f := cust.waitEvents(order, 1)[0]
	if f.Seq != 2 || f.Event != "promo.applied" || string(f.Data) != `{"pct":10}` {
		t.Errorf("frame: %+v", f)
	}
	// In the log: GET /orders/{id}/events replays it.
	var log struct{ Events []delivery.Event }
	e.must(http.StatusOK, "GET", orderPath(o.ID)+"/events?after=1", w.Customer.Token, nil).decode(t, &log)
	if evs := log.Events; len(evs) != 1 || evs[0].Type != "promo.applied" || evs[0].Seq != 2 {
		t.Errorf("log: %+v", log.Events)
	}
	// Ephemeral: no seq, no log entry.
	e.must(http.StatusOK, "POST", "/api/v1/publish", testAPIKey, map[string]any{"channel": order, "event": "eta", "data": 12})
	if f := cust.waitEvents(order, 2)[1]; f.Seq != 0 || f.Event != "eta" || string(f.Data) != "12" {
		t.Errorf("ephemeral frame: %+v", f)
	}
	e.must(http.StatusOK, "POST", "/api/v1/publish", testAPIKey, map[string]any{"channel": wire.DispatchChannel, "event": "surge"})
	e.barrier(cust, staff)
	if got := eventNames(cust.events(wire.UserChannel(w.Customer.User.ID))); len(got) != 0 { // connected after the order was placed
		t.Errorf("publish copied into the user feed: %v", got)
	}
	if got := eventNames(staff.events(rest(w))); len(got) != 0 { // connected after the order was placed
		t.Errorf("publish copied into the restaurant feed: %v", got)
	}

	for _, c := range []struct {
		name, key string
		body      any
		status    int
		code      string
	}{
		{"no key", "", map[string]any{"channel": order, "event": "x"}, 401, "unauthorized"},
		{"wrong key", "nope", map[string]any{"channel": order, "event": "x"}, 401, "unauthorized"},
		{"user token is no key", w.Customer.Token, map[string]any{"channel": order, "event": "x"}, 401, "unauthorized"},
		{"bad channel", testAPIKey, map[string]any{"channel": "news", "event": "x"}, 400, "invalid"},
		{"no event", testAPIKey, map[string]any{"channel": order}, 400, "invalid"},
		{"bad event name", testAPIKey, map[string]any{"channel": order, "event": "Hello World"}, 400, "invalid"},
		{"long event name", testAPIKey, map[string]any{"channel": order, "event": strings.Repeat("a", 65)}, 400, "invalid"},
		{"reserved event", testAPIKey, map[string]any{"channel": order, "event": "order.status", "durable": true}, 422, "unprocessable"},
		{"durable off an order", testAPIKey, map[string]any{"channel": wire.DispatchChannel, "event": "x", "durable": true}, 422, "unprocessable"},
		{"the ops channel is the instances'", testAPIKey, map[string]any{"channel": wire.OpsChannel, "event": "ops.stats"}, 422, "unprocessable"},
		{"durable to no order", testAPIKey, map[string]any{"channel": wire.OrderChannel(o.ID + 999), "event": "x", "durable": true}, 404, "not_found"},
		{"unknown field", testAPIKey, map[string]any{"channel": order, "event": "x", "ttl": 5}, 400, "invalid"},
		{"not JSON", testAPIKey, "{", 400, "invalid"},
	} {
		if r := pub(c.key, c.body); r.Status != c.status || r.errorCode(t) != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, r.Status, r.Body, c.status, c.code)
		}
	}
}

func TestPublishAPIOffWithoutKey(t *testing.T) {
	e := newRealtimeEnv(t, func(cfg *app.Config) { cfg.Server.HubAPIKey = "" })
	if r := e.do("POST", "/api/v1/publish", "", map[string]any{"channel": "dispatch", "event": "x"}); r.Status != http.StatusNotFound {
		t.Errorf("publish without a key configured: %d %s", r.Status, r.Body)
	}
}

// refusingBus is a bus whose backend refuses every publish, as Redis does
// while it is down.
type refusingBus struct{ delivery.Bus }

func (refusingBus) Publish(context.Context, ...delivery.BusMessage) error {
	return errors.New("bus down")
}

func TestPublishAPIWhenTheBusRefuses(t *testing.T) {
	e := newRealtimeEnv(t, func(cfg *app.Config) { cfg.Bus = refusingBus{cfg.Bus} })
	w := e.newWorld()
	o := e.place(w)
	r := e.do("POST", "/api/v1/publish", testAPIKey, map[string]any{"channel": wire.OrderChannel(o.ID), "event": "driver.note", "data": 1})
	if r.Status != 503 || r.errorCode(t) != "unavailable" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("publish with the bus down: %d %v %s", r.Status, r.Header, r.Body)
	}
}
