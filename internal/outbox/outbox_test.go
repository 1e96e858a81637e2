package outbox_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/outbox"
	"github.com/ordercast/ordercast/internal/store/postgres"
	"github.com/ordercast/ordercast/internal/store/sqlite"
	"github.com/ordercast/ordercast/internal/wire"
)

// store is what the tests need of an engine.
type store interface {
	delivery.Store
	outbox.Store
}

var (
	_ outbox.Store = (*sqlite.Store)(nil)
	_ outbox.Store = (*postgres.Store)(nil)
)

// engines runs fn on SQLite, and on PostgreSQL (skipped without
// TEST_DATABASE_URL, required under CI=true).
func engines(t *testing.T, fn func(t *testing.T, open func(t *testing.T) store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, func(t *testing.T) store { return sqlite.OpenTest(t) }) })
	t.Run("postgres", func(t *testing.T) { fn(t, func(t *testing.T) store { return postgres.OpenTest(t) }) })
}

// recorder is a Publisher that keeps what it was given, and fails while
// fail is set. The outbox's routing is the order service's; here each
// event goes to its order channel only, which names the event.
type recorder struct {
	mu   sync.Mutex
	got  []delivery.Event
	fail error
}

func route(_ context.Context, ev delivery.Event) ([]delivery.Publication, error) {
	return []delivery.Publication{{Channel: wire.OrderChannel(ev.OrderID), Event: ev.Type, Seq: ev.Seq}}, nil
}

func (r *recorder) Publish(_ context.Context, pubs ...delivery.Publication) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	for _, p := range pubs {
		ch, err := wire.ParseChannel(p.Channel)
		if err != nil {
			return err
		}
		r.got = append(r.got, delivery.Event{OrderID: ch.ID, Seq: p.Seq, Type: p.Event})
	}
	return nil
}

func (r *recorder) events() []delivery.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery.Event(nil), r.got...)
}

// newOrder creates an order with n events (order.created, then status
// changes) and returns it.
func newOrder(t *testing.T, s store, n int) delivery.Order {
	t.Helper()
	ctx := context.Background()
	suffix := time.Now().UnixNano()
	c, err := s.CreateUser(ctx, delivery.User{Email: fmt.Sprintf("c%d@x.test", suffix), Name: "C", Role: delivery.RoleCustomer, PasswordHash: "x"}, delivery.Restaurant{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.CreateUser(ctx, delivery.User{Email: fmt.Sprintf("r%d@x.test", suffix), Name: "R", Role: delivery.RoleRestaurant, PasswordHash: "x"}, delivery.Restaurant{Name: "Kitchen"})
	if err != nil {
		t.Fatal(err)
	}
	o, _, err := s.CreateOrder(ctx, delivery.Order{CustomerID: c.ID, RestaurantID: r.RestaurantID, DeliveryAddress: "1 Main St"}, delivery.IdempotencyKey{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < n; i++ {
		o, _, err = s.UpdateOrder(ctx, o.ID, func(o *delivery.Order) (delivery.Change, error) {
			o.Notes = fmt.Sprint(i)
			return delivery.Change{Type: delivery.EventOrderStatus}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return o
}

func seqsOf(events []delivery.Event) []int64 {
	out := []int64{}
	for _, ev := range events {
		out = append(out, ev.Seq)
	}
	return out
}

func TestRelayPublishesWhatNobodyMarked(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		o := newOrder(t, s, 3)
		pub := &recorder{}
		ob := outbox.New(outbox.Config{Store: s, Publisher: pub, Route: route, Grace: time.Minute})
		ctx := context.Background()

		// Within the grace period the committer may still publish: nothing.
		if n, err := ob.RelayOnce(ctx, time.Now()); err != nil || n != 0 {
			t.Fatalf("within grace: relayed %d, %v", n, err)
		}
		later := time.Now().Add(2 * time.Minute)
		n, err := ob.RelayOnce(ctx, later)
		if err != nil || n != 3 {
			t.Fatalf("after grace: relayed %d, %v", n, err)
		}
		if got := seqsOf(pub.events()); fmt.Sprint(got) != "[1 2 3]" {
			t.Errorf("relayed seqs %v, want [1 2 3]", got)
		}
		// Marked in the relay's transaction: never again.
		if n, err := ob.RelayOnce(ctx, later); err != nil || n != 0 {
			t.Fatalf("second round: relayed %d, %v", n, err)
		}
		if got := pub.events(); got[2].Type != delivery.EventOrderStatus || got[2].OrderID != o.ID {
			t.Errorf("relayed %+v", got[2])
		}
	})
}

func TestMarkedEventsAreNotRelayed(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		o := newOrder(t, s, 3)
		ctx := context.Background()
		if err := s.MarkPublished(ctx, []delivery.Event{{OrderID: o.ID, Seq: 1}, {OrderID: o.ID, Seq: 3}}); err != nil {
			t.Fatal(err)
		}
		pub := &recorder{}
		ob := outbox.New(outbox.Config{Store: s, Publisher: pub, Route: route, Grace: time.Second})
		if _, err := ob.RelayOnce(ctx, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if got := seqsOf(pub.events()); fmt.Sprint(got) != "[2]" {
			t.Errorf("relayed %v, want [2]", got)
		}
	})
}

func TestPublishFailureLeavesEventsForTheNextRound(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		newOrder(t, s, 2)
		pub := &recorder{fail: errors.New("redis down")}
		ob := outbox.New(outbox.Config{Store: s, Publisher: pub, Route: route, Grace: time.Second})
		ctx := context.Background()
		later := time.Now().Add(time.Minute)
		if n, err := ob.RelayOnce(ctx, later); err == nil || n != 0 {
			t.Fatalf("with the bus down: relayed %d, %v", n, err)
		}
		pub.mu.Lock()
		pub.fail = nil
		pub.mu.Unlock()
		if n, err := ob.RelayOnce(ctx, later); err != nil || n != 2 {
			t.Fatalf("bus back: relayed %d, %v", n, err)
		}
	})
}

func TestEventsPastTheHorizonExpire(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		newOrder(t, s, 2)
		pub := &recorder{}
		ob := outbox.New(outbox.Config{Store: s, Publisher: pub, Route: route, Grace: time.Second, Horizon: time.Hour})
		ctx := context.Background()
		if n, err := ob.RelayOnce(ctx, time.Now().Add(2*time.Hour)); err != nil || n != 0 {
			t.Fatalf("past the horizon: relayed %d, %v", n, err)
		}
		if st := ob.Stats(); st.Expired != 2 {
			t.Errorf("expired %d, want 2", st.Expired)
		}
		if n, err := ob.RelayOnce(ctx, time.Now().Add(time.Minute)); err != nil || n != 0 {
			t.Fatalf("expired events relayed: %d, %v", n, err)
		}
	})
}

// Relays of several instances at once publish every event exactly once.
func TestConcurrentRelaysPublishOnce(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		const orders, each = 6, 5
		for range orders {
			newOrder(t, s, each)
		}
		pub := &recorder{}
		later := time.Now().Add(time.Minute)
		var wg sync.WaitGroup
		for range 4 {
			ob := outbox.New(outbox.Config{Store: s, Publisher: pub, Route: route, Grace: time.Second, Batch: 3})
			wg.Go(func() {
				if _, err := ob.RelayOnce(context.Background(), later); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		seen := map[string]int{}
		for _, ev := range pub.events() {
			seen[fmt.Sprintf("%s/%d", ev.OrderID, ev.Seq)]++
		}
		if len(seen) != orders*each {
			t.Errorf("relayed %d distinct events, want %d", len(seen), orders*each)
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("%s relayed %d times", k, n)
			}
		}
	})
}

// The committer's path: Committed publishes and the marker marks, so
// that the relay has nothing left; Close marks what is still queued.
func TestCommittedMarks(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		o := newOrder(t, s, 1)
		pub := &recorder{}
		ob := outbox.New(outbox.Config{Store: s, Publisher: pub, Route: route, Grace: time.Second})
		ob.Start()
		events, err := s.EventsAfter(context.Background(), o.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		pubs, err := route(context.Background(), events[0])
		if err != nil {
			t.Fatal(err)
		}
		ob.Committed(context.Background(), events[0], pubs)
		ob.Close()
		if st := ob.Stats(); st.Marked != 1 {
			t.Fatalf("stats %+v, want 1 marked", st)
		}
		relay := outbox.New(outbox.Config{Store: s, Publisher: &recorder{}, Route: route, Grace: time.Second})
		if n, err := relay.RelayOnce(context.Background(), time.Now().Add(time.Minute)); err != nil || n != 0 {
			t.Errorf("relayed %d after the committer marked, %v", n, err)
		}
	})
}

// An event that cannot be routed is skipped and counted; the events after
// it are relayed in the same round.
func TestUnroutableEventDoesNotStopTheRelay(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		newOrder(t, s, 3)
		pub := &recorder{}
		poisoned := func(ctx context.Context, ev delivery.Event) ([]delivery.Publication, error) {
			if ev.Seq == 1 {
				return nil, errors.New("payload cannot be decoded")
			}
			return route(ctx, ev)
		}
		ob := outbox.New(outbox.Config{Store: s, Publisher: pub, Route: poisoned, Grace: time.Second})
		n, err := ob.RelayOnce(context.Background(), time.Now().Add(time.Minute))
		if err != nil || n != 3 {
			t.Fatalf("relayed %d, %v; want the 3 handled", n, err)
		}
		if got := seqsOf(pub.events()); fmt.Sprint(got) != "[2 3]" {
			t.Errorf("published %v, want [2 3]", got)
		}
		if st := ob.Stats(); st.Unroutable != 1 {
			t.Errorf("stats %+v, want 1 unroutable", st)
		}
	})
}

// OldestUnpublished names the oldest event still unpublished, and Lag its
// age; both follow the marks, and say none once every event is published.
func TestOldestUnpublishedAndLag(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		ctx := context.Background()
		ob := outbox.New(outbox.Config{Store: s, Publisher: &recorder{}, Route: route})
		if _, ok, err := s.OldestUnpublished(ctx); err != nil || ok {
			t.Fatalf("empty log: ok %v, %v", ok, err)
		}
		if lag, err := ob.Lag(ctx, time.Now()); err != nil || lag != 0 {
			t.Fatalf("empty log: lag %v, %v", lag, err)
		}
		o := newOrder(t, s, 3)
		events, err := s.EventsAfter(ctx, o.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		oldest, ok, err := s.OldestUnpublished(ctx)
		if err != nil || !ok || !oldest.Equal(events[0].CreatedAt) {
			t.Fatalf("three unpublished: %v %v %v, want %v", oldest, ok, err, events[0].CreatedAt)
		}
		at := events[0].CreatedAt.Add(45 * time.Second)
		if lag, err := ob.Lag(ctx, at); err != nil || lag != 45*time.Second {
			t.Fatalf("lag %v, %v; want 45s", lag, err)
		}
		if err := s.MarkPublished(ctx, []delivery.Event{{OrderID: o.ID, Seq: 1}}); err != nil {
			t.Fatal(err)
		}
		if oldest, ok, err := s.OldestUnpublished(ctx); err != nil || !ok || !oldest.Equal(events[1].CreatedAt) {
			t.Fatalf("after marking seq 1: %v %v %v, want %v", oldest, ok, err, events[1].CreatedAt)
		}
		if err := s.MarkPublished(ctx, []delivery.Event{{OrderID: o.ID, Seq: 2}, {OrderID: o.ID, Seq: 3}}); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := s.OldestUnpublished(ctx); err != nil || ok {
			t.Fatalf("all marked: ok %v, %v", ok, err)
		}
		if lag, err := ob.Lag(ctx, at); err != nil || lag != 0 {
			t.Fatalf("all marked: lag %v, %v", lag, err)
		}
	})
}

// A round that relayed something writes one line, whatever its number of
// batches: the events, their publications, how late the oldest was, and
// how long the round took. A round that relayed nothing writes nothing.
func TestARelayRoundThatRelayedLogsOneLine(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		orders := []delivery.Order{newOrder(t, s, 2), newOrder(t, s, 3)}
		var oldest time.Time
		for _, o := range orders {
			events, err := s.EventsAfter(context.Background(), o.ID, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range events {
				if oldest.IsZero() || ev.CreatedAt.Before(oldest) {
					oldest = ev.CreatedAt
				}
			}
		}
		// Each event goes to its order channel and to a feed: two
		// publications an event.
		twice := func(ctx context.Context, ev delivery.Event) ([]delivery.Publication, error) {
			pubs, err := route(ctx, ev)
			return append(pubs, delivery.Publication{Channel: wire.UserChannel(7), Event: ev.Type, Seq: ev.Seq}), err
		}
		var logs bytes.Buffer
		ob := outbox.New(outbox.Config{Store: s, Publisher: &recorder{}, Route: twice, Grace: time.Minute, Batch: 2, Log: zerolog.New(&logs)})
		ctx := context.Background()
		if _, err := ob.RelayOnce(ctx, time.Now()); err != nil { // within grace: nothing relayed
			t.Fatal(err)
		}
		if logs.Len() != 0 {
			t.Fatalf("a round that relayed nothing logged: %s", logs.String())
		}
		now := time.Now().Add(2 * time.Minute)
		if n, err := ob.RelayOnce(ctx, now); err != nil || n != 5 {
			t.Fatalf("relayed %d, %v; want 5", n, err)
		}
		lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
		if len(lines) != 1 {
			t.Fatalf("one round in three batches logged %d lines: %s", len(lines), logs.String())
		}
		var line struct {
			Level, Message, Component string
			Events, Publications      int
			OldestAgeMs               float64 `json:"oldest_age_ms"`
			DurationMs                float64 `json:"duration_ms"`
		}
		dec := json.NewDecoder(strings.NewReader(lines[0]))
		if err := dec.Decode(&line); err != nil {
			t.Fatal(err)
		}
		wantAge := float64(now.Sub(oldest)) / float64(time.Millisecond)
		if line.Message != "relay round" || line.Level != "info" || line.Component != "outbox" || line.Events != 5 || line.Publications != 10 ||
			math.Abs(line.OldestAgeMs-wantAge) > 1e-3 || line.DurationMs <= 0 {
			t.Errorf("relay round line %s; want 5 events, 10 publications, oldest %.3f ms old", lines[0], wantAge)
		}
		logs.Reset()
		if n, err := ob.RelayOnce(ctx, now); err != nil || n != 0 {
			t.Fatalf("second round relayed %d, %v", n, err)
		}
		if logs.Len() != 0 {
			t.Errorf("a round that relayed nothing logged: %s", logs.String())
		}
	})
}

// Published hears of each event the bus took, from its committer or from
// the relay, and of none the bus refused.
func TestPublishedHearsOfWhatTheBusTook(t *testing.T) {
	engines(t, func(t *testing.T, open func(t *testing.T) store) {
		s := open(t)
		o := newOrder(t, s, 2)
		var mu sync.Mutex
		var heard []int64
		published := func(ev delivery.Event, pubs []delivery.Publication) {
			mu.Lock()
			defer mu.Unlock()
			if len(pubs) != 1 || pubs[0].Seq != ev.Seq {
				t.Errorf("event %d heard with publications %+v", ev.Seq, pubs)
			}
			heard = append(heard, ev.Seq)
		}
		heardSeqs := func() string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprint(heard)
		}
		pub := &recorder{fail: errors.New("redis down")}
		ob := outbox.New(outbox.Config{Store: s, Publisher: pub, Route: route, Grace: time.Second, Published: published})
		ctx := context.Background()
		events, err := s.EventsAfter(ctx, o.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		pubs, _ := route(ctx, events[0])
		ob.Committed(ctx, events[0], pubs) // refused by the bus
		if got := heardSeqs(); got != "[]" {
			t.Fatalf("heard %s of a publish the bus refused", got)
		}
		pub.mu.Lock()
		pub.fail = nil
		pub.mu.Unlock()
		pubs, _ = route(ctx, events[1])
		ob.Committed(ctx, events[1], pubs)
		if got := heardSeqs(); got != "[2]" {
			t.Fatalf("after the committed publish: heard %s, want [2]", got)
		}
		if n, err := ob.RelayOnce(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
			t.Fatalf("relayed %d, %v", n, err) // the mark of 2 was never flushed: no Start
		}
		if got := heardSeqs(); got != "[2 1 2]" {
			t.Fatalf("after the relay: heard %s, want [2 1 2]", got)
		}
	})
}
