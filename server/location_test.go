package server_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
)

const locationPath = "/api/v1/couriers/me/location"

// TestLocationValidation: every field's rule, each refusal naming the
// field; only couriers send positions.
func TestLocationValidation(t *testing.T) {
	clock := &testClock{}
	e := newTestEnv(t, withClock(clock))
	w := e.newWorld()
	now := clock.Now().UnixMilli()
	ts := func(d time.Duration) string { return fmt.Sprint(now + d.Milliseconds()) }

	var loc delivery.Location
	e.must(202, "POST", locationPath, w.Courier.Token,
		`{"lat":52.52,"lng":13.405,"heading":90,"speed":8.5,"ts":`+ts(-time.Minute)+`}`).decode(t, &loc)
	if loc.CourierID != w.Courier.User.ID || loc.Lat != 52.52 || loc.Lng != 13.405 || *loc.Heading != 90 || *loc.Speed != 8.5 {
		t.Fatalf("accepted %+v", loc)
	}
	for i, ok := range []string{
		`{"lat":-90,"lng":-180,"ts":` + ts(-time.Minute) + `}`, // the same ts again is no error
		`{"lat":90,"lng":180,"heading":0,"speed":0,"ts":` + ts(0) + `}`,
		`{"lat":0,"lng":0,"heading":360,"ts":` + ts(59*time.Second) + `}`,
	} {
		if r := e.do("POST", locationPath, w.Courier.Token, ok); r.Status != 202 {
			t.Fatalf("valid %d: %d %s", i, r.Status, r.Body)
		}
	}
	fresh := ts(59 * time.Second)
	for _, tc := range []struct {
		name, body, field string
	}{
		{"no lat", `{"lng":1,"ts":` + fresh + `}`, "lat"},
		{"lat above", `{"lat":90.0001,"lng":1,"ts":` + fresh + `}`, "lat"},
		{"lat below", `{"lat":-91,"lng":1,"ts":` + fresh + `}`, "lat"},
		{"lat string", `{"lat":"52","lng":1,"ts":` + fresh + `}`, "lat"},
		{"lat null", `{"lat":null,"lng":1,"ts":` + fresh + `}`, "lat"},
		{"lat overflow", `{"lat":1e400,"lng":1,"ts":` + fresh + `}`, ""},
		{"lat NaN", `{"lat":NaN,"lng":1,"ts":` + fresh + `}`, ""},
		{"no lng", `{"lat":1,"ts":` + fresh + `}`, "lng"},
		{"lng above", `{"lat":1,"lng":180.5,"ts":` + fresh + `}`, "lng"},
		{"lng below", `{"lat":1,"lng":-181,"ts":` + fresh + `}`, "lng"},
		{"heading negative", `{"lat":1,"lng":1,"heading":-1,"ts":` + fresh + `}`, "heading"},
		{"heading above", `{"lat":1,"lng":1,"heading":360.1,"ts":` + fresh + `}`, "heading"},
		{"speed negative", `{"lat":1,"lng":1,"speed":-0.1,"ts":` + fresh + `}`, "speed"},
		{"no ts", `{"lat":1,"lng":1}`, "ts"},
		{"ts zero", `{"lat":1,"lng":1,"ts":0}`, "ts"},
		{"ts negative", `{"lat":1,"lng":1,"ts":-5}`, "ts"},
		{"ts fraction", `{"lat":1,"lng":1,"ts":1.5}`, "ts"},
		{"ts in seconds, older than the last", `{"lat":1,"lng":1,"ts":` + fmt.Sprint(now/1000) + `}`, "ts"},
		{"ts over a minute ahead", `{"lat":1,"lng":1,"ts":` + ts(61*time.Second) + `}`, "ts"},
		{"ts older than the last", `{"lat":1,"lng":1,"ts":` + ts(58*time.Second) + `}`, "ts"},
		{"unknown field", `{"lat":1,"lng":1,"ts":` + fresh + `,"accuracy":3}`, "accuracy"},
		{"not an object", `[1,2]`, ""},
	} {
		r := e.do("POST", locationPath, w.Courier.Token, tc.body)
		if r.Status != 400 || r.errorCode(t) != "invalid" || !strings.Contains(string(r.Body), tc.field+":") && tc.field != "" {
			t.Errorf("%s: %d %s, want 400 naming %q", tc.name, r.Status, r.Body, tc.field)
		}
	}
	// The clock moved on: a minute ahead of the new now is fine again.
	clock.Advance(time.Minute)
	e.must(202, "POST", locationPath, w.Courier.Token, `{"lat":1,"lng":1,"ts":`+ts(119*time.Second)+`}`)

	good := `{"lat":1,"lng":1,"ts":` + ts(2*time.Minute) + `}`
	for name, p := range map[string]party{"customer": w.Customer, "restaurant": w.Restaurant, "admin": e.admin()} {
		if r := e.do("POST", locationPath, p.Token, good); r.Status != 403 || r.errorCode(t) != "forbidden" {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := e.do("POST", locationPath, "", good); r.Status != 401 {
		t.Errorf("anonymous: %d", r.Status)
	}
}

// TestLocationGoesToActiveOrdersOnly: a position is handed to the
// publisher with the courier's active orders and nothing else; with none
// it goes nowhere.
func TestLocationGoesToActiveOrdersOnly(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		rec := &recorder{}
		// A minute on for each position: taken after every assignment,
		// and never held back by the once-a-second throttle.
		clock := newStepClock()
		e := newEnv(withRecorder(rec), func(cfg *app.Config) { cfg.Clock = clock.Now })
		w := e.newWorld()
		var n int64
		send := func(p party) {
			t.Helper()
			clock.Advance(time.Minute)
			n = clock.Now().UnixMilli()
			e.must(202, "POST", locationPath, p.Token, map[string]any{"lat": 1, "lng": 2, "ts": n})
		}
		want := func(orders ...delivery.ID) {
			t.Helper()
			_, got := rec.take()
			if len(orders) == 0 {
				if len(got) != 0 {
					t.Fatalf("published %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 || got[0].Loc.CourierID != w.Courier.User.ID || got[0].Loc.Ts != n || !reflect.DeepEqual(got[0].Orders, orders) {
				t.Fatalf("published %+v, want one position to %v", got, orders)
			}
		}
		send(w.Courier)
		want() // no order at all

		a := e.claimed(w)
		b := e.claimed(w)
		theirs := e.place(w)
		e.setStatus(200, theirs, w.Restaurant, delivery.StatusAccepted, "")
		e.must(200, "POST", orderPath(theirs.ID)+"/claim", w.Courier2.Token, nil)
		offered := e.place(w)
		e.setStatus(200, offered, w.Restaurant, delivery.StatusAccepted, "")
		done := e.claimed(w)
		e.deliver(done, w)
		send(w.Courier)
		want(b.ID, a.ID)

		e.deliver(a, w)
		send(w.Courier)
		want(b.ID)
		e.setStatus(200, b, w.Restaurant, delivery.StatusCancelled, "no driver")
		send(w.Courier)
		want()
	})
}

// TestLastLocationOnlyToPartiesOfActiveOrders: the position of an order's
// courier is shown to its parties while the order is active, to nobody
// else ever, and to nobody once the order was delivered.
func TestLastLocationOnlyToPartiesOfActiveOrders(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		strangers := e.newWorld()
		admin := e.admin()
		o := e.place(w)
		e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
		e.must(202, "POST", locationPath, w.Courier.Token, map[string]any{"lat": 52.5, "lng": 13.4, "ts": time.Now().UnixMilli() - 1000})
		path := orderPath(o.ID) + "/location"
		last := func(p party) (int, *delivery.Location, string) {
			t.Helper()
			r := e.do("GET", path, p.Token, nil)
			var body struct{ Location *delivery.Location }
			if r.Status == 200 {
				r.decode(t, &body)
			}
			return r.Status, body.Location, string(r.Body)
		}
		if st, loc, _ := last(w.Customer); st != 200 || loc != nil {
			t.Fatalf("before a courier is assigned: %d %+v", st, loc)
		}
		e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
		// +1: after the assignment's microsecond, whatever it was.
		e.must(202, "POST", locationPath, w.Courier.Token, map[string]any{"lat": 52.5, "lng": 13.4, "ts": time.Now().UnixMilli() + 1})
		for _, p := range []party{w.Customer, w.Restaurant, w.Courier, admin} {
			if st, loc, body := last(p); st != 200 || loc == nil || loc.Lat != 52.5 || loc.CourierID != w.Courier.User.ID {
				t.Fatalf("party %s: %d %s", p.User.Role, st, body)
			}
		}
		outsiders := []party{strangers.Customer, strangers.Restaurant, strangers.Courier, w.Courier2}
		refused := func(when string) {
			t.Helper()
			for _, p := range outsiders {
				if st, _, body := last(p); st != 403 || strings.Contains(body, "52.5") {
					t.Fatalf("%s, outsider %s: %d %s", when, p.User.Email, st, body)
				}
			}
			if r := e.do("GET", path, "", nil); r.Status != 401 {
				t.Fatalf("%s, anonymous: %d", when, r.Status)
			}
		}
		refused("active")
		e.deliver(o, w)
		for _, p := range []party{w.Customer, w.Restaurant, w.Courier, admin} {
			if st, loc, body := last(p); st != 200 || loc != nil {
				t.Fatalf("after delivery, %s: %d %s", p.User.Role, st, body)
			}
		}
		refused("delivered")
		// The service method the hub calls on subscribe says the same.
		if _, ok, err := e.Orders.LastLocation(t.Context(), w.Customer.User.Actor(), o.ID); ok || err != nil {
			t.Fatalf("LastLocation after delivery: ok=%v err=%v", ok, err)
		}
		if _, _, err := e.Orders.LastLocation(t.Context(), strangers.Customer.User.Actor(), o.ID); delivery.ErrorCode(err) != delivery.EFORBIDDEN {
			t.Fatalf("LastLocation to an outsider: %v", err)
		}
	})
}
