package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/metrics/metricstest"
	"github.com/ordercast/ordercast/internal/wire"
)

// durable appends a durable publish-API event to order o.
func (e *rtEnv) durable(o delivery.Order, n int) int64 {
	var r struct {
		Seq int64 `json:"seq"`
	}
	e.must(http.StatusOK, "POST", "/api/v1/publish", testAPIKey, map[string]any{
		"channel": wire.OrderChannel(o.ID), "event": "test.step", "data": map[string]any{"n": n}, "durable": true,
	}).decode(e.t.(*testing.T), &r)
	return r.Seq
}

func TestWSResumeWithSince(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.place(w)
	for i := 0; i < 5; i++ {
		e.durable(o, i) // seqs 2..6
	}
	order := wire.OrderChannel(o.ID)
	c := e.dial(w.Customer)
	c.subscribe(order, 3)
	if got := seqs(c.waitEvents(order, 3)); !slices.Equal(got, []int64{4, 5, 6}) {
		t.Fatalf("replay after 3: %v", got)
	}
	e.durable(o, 99)
	if got := seqs(c.waitEvents(order, 4)); !slices.Equal(got, []int64{4, 5, 6, 7}) {
		t.Fatalf("then live: %v", got)
	}
	// Replayed frames are byte-for-byte what live subscribers got.
	live := e.dial(w.Restaurant)
	live.subscribeLive(order)
	e.durable(o, 100)
	c.waitEvents(order, 5)
	l := live.waitEvents(order, 1)[0]
	fresh := e.dial(w.Customer)
	fresh.subscribe(order, 7)
	r := fresh.waitEvents(order, 1)[0]
	if l.Seq != 8 || r.Seq != 8 || string(l.Data) != string(r.Data) || l.Ts != r.Ts {
		t.Errorf("live %+v and replayed %+v differ", l, r)
	}

	// Without since: live from now on, nothing of the past.
	now := e.dial(w.Restaurant)
	now.subscribeLive(order)
	e.durable(o, 101)
	if got := seqs(now.waitEvents(order, 1)); !slices.Equal(got, []int64{9}) {
		t.Errorf("subscribe without since: %v", got)
	}
	// since ahead of the order, and since on a feed, are refused.
	d := e.dial(w.Customer)
	d.mustFail("invalid", map[string]any{"type": "subscribe", "channel": order, "since": 1000})
	d.mustFail("invalid", map[string]any{"type": "subscribe", "channel": rest(w), "since": 1})
	// Subscribing twice is acked and changes nothing.
	c.subscribe(order)
	e.durable(o, 102)
	e.barrier(c)
	if got := seqs(c.events(order)); !slices.Equal(got, []int64{4, 5, 6, 7, 8, 9, 10}) {
		t.Errorf("after a second subscribe: %v", got)
	}
	// Two replays gave anything: 4..6, then 8; those without since none.
	e.expectReplays("resume", 2, 4)
	e.expectReplays("repair", 0, 0)
}

// expectReplays waits until n replays of kind (resume, repair) gave
// events, events in all: a replay is observed once it ended, just after
// its last event was queued.
func (e *testEnv) expectReplays(kind string, n uint64, events float64) {
	e.t.Helper()
	metricstest.WaitFor(e.t, e.URL+"/metrics", fmt.Sprintf("%d %s replays of %v events", n, kind, events), func(f metricstest.Families) bool {
		h := f.Histogram(replayEvents, "kind", kind)
		return h.GetSampleCount() == n && h.GetSampleSum() == events
	})
}

// TestWSResumeUnderConcurrentCommits is the proof of replay-then-live:
// writers commit events to one order concurrently (so that their
// publishes may also reach the hub out of seq order) while readers keep
// unsubscribing and resubscribing, or reconnecting, with since = the last
// seq they saw. Every reader must see 1..N exactly once, in order.
func TestWSResumeUnderConcurrentCommits(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.place(w) // seq 1
	const writers, perWriter, readers = 4, 40, 8
	final := int64(1 + writers*perWriter)
	order := wire.OrderChannel(o.ID)

	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < writers; i++ {
		wg.Go(func() {
			<-start
			for j := 0; j < perWriter; j++ {
				// Straight into the service (as REST handlers do) so that the
				// writers are not serialized by one HTTP client.
				if _, _, err := e.Orders.AppendEvent(context.Background(), o.ID, "test.step", json.RawMessage(fmt.Sprint(i*perWriter+j))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	seen := make([][]int64, readers)
	for r := 0; r < readers; r++ {
		party := w.Customer
		if r%2 == 1 {
			party = w.Restaurant
		}
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			<-start
			var got []int64
			last := int64(0)
			for round := 0; last < final; round++ {
				c := e.dial(party)
				c.subscribe(order, last)
				for last < final {
					// Read a few events, then resume: unsubscribe and
					// resubscribe on the same socket, or a new socket.
					n := 1 + rng.IntN(12)
					c.waitUntil(fmt.Sprintf("%d more events", n), func(fs []frame) bool {
						return len(c.events(order)) >= n || lastSeqOf(fs, order) >= final
					})
					if rng.IntN(3) == 0 {
						break // reconnect
					}
					a := c.request(map[string]any{"type": "unsubscribe", "channel": order})
					if a.Type != "ack" {
						t.Errorf("unsubscribe: %+v", a)
						return
					}
					// Everything before the ack is all this subscription gave.
					got = append(got, seqs(c.events(order))...)
					last = got[len(got)-1]
					c.mu.Lock()
					c.frames = nil
					c.mu.Unlock()
					if last < final {
						c.subscribe(order, last)
					}
				}
				_ = c.conn.CloseNow()
				<-c.done
				if evs := c.events(order); len(evs) > 0 {
					got = append(got, seqs(evs)...)
					last = got[len(got)-1]
				}
			}
			seen[r] = got
		})
	}
	close(start)
	wg.Wait()
	for r, got := range seen {
		if int64(len(got)) != final {
			t.Errorf("reader %d saw %d events, want %d", r, len(got), final)
		}
		for i, s := range got {
			if s != int64(i+1) {
				t.Errorf("reader %d: event %d has seq %d (gap or duplicate): %v", r, i, s, got)
				break
			}
		}
	}
	st := e.Hub.Stats()
	t.Logf("replayed %d events, %d live gaps repaired", st.Replayed, st.Repairs)
}

func rest(w world) string { return wire.RestaurantChannel(w.Restaurant.User.RestaurantID) }

func lastSeqOf(frames []frame, channel string) int64 {
	var last int64
	for _, f := range frames {
		if f.Type == "event" && f.Channel == channel {
			last = f.Seq
		}
	}
	return last
}

// TestWSOutOfOrderPublishIsRepaired: events committed in one order but
// published in another (two requests racing between commit and publish),
// or one never published, still reach a live subscriber once each, in seq
// order: the gap is filled from the Store.
func TestWSOutOfOrderPublishIsRepaired(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.place(w)
	order := wire.OrderChannel(o.ID)
	c := e.dial(w.Customer)
	c.subscribe(order)
	e.durable(o, 2)
	c.waitEvents(order, 1) // live at seq 2
	commit := func(n int) (delivery.Order, delivery.Event) {
		o2, ev, err := e.Store.UpdateOrder(context.Background(), o.ID, func(*delivery.Order) (delivery.Change, error) {
			return delivery.Change{Type: "test.step", Data: json.RawMessage(fmt.Sprint(n))}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return o2, ev
	}
	_, ev3 := commit(3) // committed, not yet published
	_, ev4 := commit(4)
	o5, ev5 := commit(5)
	e.publishEvent(o5, ev4) // 4 first: 3 is missing
	// The Store has 3, 4 and 5: all of them, in order.
	if got := seqs(c.waitEvents(order, 4)); !slices.Equal(got, []int64{2, 3, 4, 5}) {
		t.Fatalf("after the gap: %v", got)
	}
	e.publishEvent(o5, ev3) // late: duplicates now
	e.publishEvent(o5, ev5)
	commit(6) // its publisher died: the next event shows the gap
	e.durable(o, 7)
	c.waitEvents(order, 6)
	e.barrier(c)
	if got := seqs(c.events(order)); !slices.Equal(got, []int64{2, 3, 4, 5, 6, 7}) {
		t.Errorf("events: %v", got)
	}
	if st := e.Hub.Stats(); st.Repairs != 2 {
		t.Errorf("repairs: %d, want 2", st.Repairs)
	}
	e.expectReplays("repair", 2, 5) // 3..5, then 6 and 7
}

// TestWSLongReplayIsPacedNotDropped: a replay far longer than the send
// queue is paced by the socket instead of overflowing the queue (which
// would close the client with 4009).
func TestWSLongReplayIsPacedNotDropped(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{SendQueueFrames: 16, ReplayPage: 50}))
	w := e.newWorld()
	o := e.place(w)
	const n = 300
	for i := 0; i < n; i++ {
		if _, _, err := e.Store.UpdateOrder(context.Background(), o.ID, func(*delivery.Order) (delivery.Change, error) {
			return delivery.Change{Type: "test.step", Data: json.RawMessage(fmt.Sprint(i))}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.dial(w.Customer)
	c.subscribe(wire.OrderChannel(o.ID), 0)
	got := seqs(c.waitEvents(wire.OrderChannel(o.ID), n+1))
	for i, s := range got {
		if s != int64(i+1) {
			t.Fatalf("event %d has seq %d", i, s)
		}
	}
	if st := e.Hub.Stats(); st.SlowClosed != 0 || st.Replayed != n+1 {
		t.Errorf("stats: %+v", st)
	}
}
