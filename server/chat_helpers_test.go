package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// testClock is the service's clock in tests: real time moved by an
// offset the test sets, so that "an hour later" takes no hour.
type testClock struct{ offset atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *testClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// withClock makes the server's order service read c.
func withClock(c *testClock) func(*app.Config) {
	return func(cfg *app.Config) { cfg.Clock = c.Now }
}

// recorder is a bus that records the read marks and positions the
// service published, as they leave for the other instances.
type recorder struct {
	delivery.Bus
	mu        sync.Mutex
	reads     []delivery.ReadMark
	locations []published
}

// published is one position and the order channels it went to, in order.
type published struct {
	Loc    delivery.Location
	Orders []delivery.ID
}

func (r *recorder) Publish(ctx context.Context, msgs ...delivery.BusMessage) error {
	for _, msg := range msgs {
		if err := r.record(msg); err != nil {
			return err
		}
	}
	return r.Bus.Publish(ctx, msgs...)
}

func (r *recorder) record(msg delivery.BusMessage) error {
	var f frame
	if err := json.Unmarshal(msg.Frame, &f); err != nil {
		return err
	}
	ch, err := wire.ParseChannel(msg.Channel)
	if err != nil {
		return err
	}
	r.mu.Lock()
	switch {
	case f.Event == delivery.EventChatRead && ch.Kind == wire.KindOrder: // once per move, not per feed copy
		var m delivery.ReadMark
		err = json.Unmarshal(f.Data, &m)
		r.reads = append(r.reads, m)
	case f.Event == delivery.EventCourierLocation && ch.Kind == wire.KindOrder: // the track copies are routed alike (orders' routing tests)
		var loc delivery.Location
		err = json.Unmarshal(f.Data, &loc)
		if n := len(r.locations); n > 0 && r.locations[n-1].Loc.Ts == loc.Ts && r.locations[n-1].Loc.CourierID == loc.CourierID {
			r.locations[n-1].Orders = append(r.locations[n-1].Orders, ch.ID)
		} else {
			r.locations = append(r.locations, published{loc, []delivery.ID{ch.ID}})
		}
	}
	r.mu.Unlock()
	return err
}

// take returns what was recorded since the last take.
func (r *recorder) take() ([]delivery.ReadMark, []published) {
	r.mu.Lock()
	defer r.mu.Unlock()
	reads, locs := r.reads, r.locations
	r.reads, r.locations = nil, nil
	return reads, locs
}

func withRecorder(r *recorder) func(*app.Config) {
	return func(cfg *app.Config) { r.Bus, cfg.Bus = cfg.Bus, r }
}

// admin creates an operator account as ordercast admin create does
// (admins cannot register), and signs it in.
func (e *testEnv) admin() party {
	e.t.Helper()
	u, err := accounts.CreateAdmin(context.Background(), e.Store, fmt.Sprintf("admin%d@example.com", e.seq.Add(1)), "Admin", "correct horse battery")
	if err != nil {
		e.t.Fatal(err)
	}
	return e.signInAgain(party{User: u})
}

// claimed places an order, accepted and claimed by w.Courier.
func (e *testEnv) claimed(w world) delivery.Order {
	e.t.Helper()
	o := e.place(w)
	e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
	e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
	return o
}

// deliver moves a claimed order from accepted to delivered.
func (e *testEnv) deliver(o delivery.Order, w world) {
	e.t.Helper()
	for _, st := range []delivery.Status{delivery.StatusPreparing, delivery.StatusReady} {
		e.setStatus(200, o, w.Restaurant, st, "")
	}
	for _, st := range []delivery.Status{delivery.StatusPickedUp, delivery.StatusDelivered} {
		e.setStatus(200, o, w.Courier, st, "")
	}
}

// post sends a chat message and returns the answer.
func (e *testEnv) post(o delivery.Order, p party, text, clientID string) response {
	e.t.Helper()
	return e.do("POST", orderPath(o.ID)+"/messages", p.Token, map[string]any{"text": text, "client_msg_id": clientID})
}

// mustPost sends a chat message that must be stored anew.
func (e *testEnv) mustPost(o delivery.Order, p party, text, clientID string) delivery.Message {
	e.t.Helper()
	var m delivery.Message
	r := e.post(o, p, text, clientID)
	if r.Status != 201 {
		e.t.Fatalf("post %q: %d %s", clientID, r.Status, r.Body)
	}
	r.decode(e.t, &m)
	return m
}

type messagePage struct {
	Messages   []delivery.Message `json:"messages"`
	NextBefore *int64             `json:"next_before"`
}

func (e *testEnv) history(o delivery.Order, p party, query string) messagePage {
	e.t.Helper()
	var page messagePage
	e.must(200, "GET", orderPath(o.ID)+"/messages"+query, p.Token, nil).decode(e.t, &page)
	return page
}

func (e *testEnv) events(o delivery.Order, p party) []delivery.Event {
	e.t.Helper()
	var body struct{ Events []delivery.Event }
	e.must(200, "GET", orderPath(o.ID)+"/events", p.Token, nil).decode(e.t, &body)
	return body.Events
}

// forEachStore runs fn on every engine of storeFactories.
func forEachStore(t *testing.T, fn func(t *testing.T, newEnv func(edit ...func(*app.Config)) *testEnv)) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			fn(t, func(edit ...func(*app.Config)) *testEnv { return newTestEnvOn(t, open(t), edit...) })
		})
	}
}
