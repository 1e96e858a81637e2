package server_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// arrivalsIn returns the courier.arrived events of the order's log, as
// instance e reads them.
func (e *testEnv) arrivalsIn(o delivery.Order, token string) []delivery.Arrived {
	e.t.Helper()
	var log struct {
		Events []delivery.Event `json:"events"`
	}
	e.must(http.StatusOK, "GET", orderPath(o.ID)+"/events", token, nil).decode(e.t, &log)
	var out []delivery.Arrived
	for _, ev := range log.Events {
		if ev.Type == delivery.EventCourierArrived {
			var a delivery.Arrived
			if err := json.Unmarshal(ev.Data, &a); err != nil {
				e.t.Fatalf("courier.arrived %s: %v", ev.Data, err)
			}
			out = append(out, a)
		}
	}
	return out
}

// TestClusterArrival: the courier's positions reach two instances (on one
// PostgreSQL and Redis) in turn; each instance decides from the store, not
// from what it saw, so the stay they make together gives exactly one
// courier.arrived per place in the order's log, at the position that
// completed it. At the drop-off the positions that complete the stay go
// to both instances at once: still one.
func TestClusterArrival(t *testing.T) {
	c := newCluster(t, 2)
	clock := newStepClock()
	opts := instanceOpts{edit: withHubClock(clock)}
	a, b := c.start(0, opts), c.start(1, opts)
	insts := []*instance{a, b}
	w := a.newWorld()
	restaurant := delivery.Place{Lat: 52.52, Lng: 13.405}
	dropoff := north(restaurant, 3000)
	o := a.placedOrder(w, restaurant, dropoff, 15)
	a.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	b.claim(w.Courier)(o)
	clock.Advance(time.Minute) // positions after the assignment
	sent := 0
	send := func(p delivery.Place) int64 {
		t.Helper()
		ts := clock.Now().UnixMilli()
		insts[sent%2].must(http.StatusAccepted, "POST", locationPath, w.Courier.Token, map[string]any{"lat": p.Lat, "lng": p.Lng, "ts": ts})
		sent++
		return ts
	}

	// To the restaurant and a stay there, a second apart, a and b in turn.
	var completed int64
	for i, m := range []float64{-400, -200, -90, -45, -30, -20, -10, 0, 10, 20, 30, 40, 45} {
		clock.Advance(time.Second)
		ts := send(north(restaurant, m))
		if i == 3+5 { // 5 s after the first position within 50 m (-45)
			completed = ts
		}
	}
	got := a.arrivalsIn(o, w.Customer.Token)
	want := delivery.Arrived{OrderID: o.ID, CourierID: w.Courier.User.ID, At: delivery.AtPickup, Ts: completed}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("arrivals %+v, want one: %+v", got, want)
	}

	b.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusPreparing, "")
	a.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusReady, "")
	b.setStatus(http.StatusOK, o, w.Courier, delivery.StatusPickedUp, "")
	// At the drop-off: 4 s in turn, then the next second's position to
	// both instances at once (one of the two ts, 1 ms apart, may find the
	// other stored already and be refused as older), then more of the
	// stay, in case the race made the stay start again.
	for _, m := range []float64{-300, -40, -30, -20, -10} {
		clock.Advance(time.Second)
		send(north(dropoff, m))
	}
	clock.Advance(time.Second)
	ts := clock.Now().UnixMilli()
	var wg sync.WaitGroup
	answers := make([]response, 2)
	for i, inst := range insts {
		wg.Go(func() {
			answers[i] = inst.do("POST", locationPath, w.Courier.Token, map[string]any{"lat": dropoff.Lat, "lng": dropoff.Lng, "ts": ts + int64(i)})
		})
	}
	wg.Wait()
	for i, r := range answers {
		if r.Status != http.StatusAccepted && (r.Status != http.StatusBadRequest || r.errorCode(t) != delivery.EINVALID) {
			t.Fatalf("position to instance %d: %d %s", i, r.Status, r.Body)
		}
	}
	for range 7 {
		clock.Advance(time.Second)
		send(north(dropoff, 5))
	}
	got = b.arrivalsIn(o, w.Customer.Token)
	if len(got) != 2 || got[0] != want || got[1].At != delivery.AtDropoff || got[1].CourierID != w.Courier.User.ID || got[1].Ts < ts {
		t.Fatalf("arrivals %+v, want the pickup's and one at the drop-off", got)
	}
}
