package hub

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// gatedLog is a logStore whose EventsAfter waits while the gate is shut,
// counting the reads in flight.
type gatedLog struct {
	*logStore
	mu       sync.Mutex
	gate     chan struct{} // nil: open
	inFlight int
	most     int
	entered  chan struct{} // one token per read that reached the gate
}

func (g *gatedLog) EventsAfter(ctx context.Context, id delivery.ID, after int64, limit int) ([]delivery.Event, error) {
	g.mu.Lock()
	gate := g.gate
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inFlight--
		g.mu.Unlock()
	}()
	if gate != nil {
		g.entered <- struct{}{}
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.logStore.EventsAfter(ctx, id, after, limit)
}

// TestGapRepairRunsOnAFixedPool: after a bus reconnect every live order
// subscription repairs, on MaxRepairs workers and no goroutine more, and
// each gets the event it missed.
func TestGapRepairRunsOnAFixedPool(t *testing.T) {
	const workers, subs = 3, 40
	log := &gatedLog{logStore: &logStore{events: map[delivery.ID][]delivery.Event{}}, entered: make(chan struct{}, subs)}
	cfg := testConfig(t, log, memory.New())
	cfg.Limits = Limits{MaxRepairs: workers, SendQueueFrames: 64}
	h := startHub(t, cfg)
	clients := make([]*client, subs)
	for i := range clients {
		clients[i] = socketless(h, delivery.ID(100+i))
		if err := subscribeOrder(h, clients[i], delivery.ID(i+1)); err != nil {
			t.Fatal(err)
		}
		log.commit(delivery.ID(i + 1)) // committed, its publish lost
	}
	gate := make(chan struct{})
	log.mu.Lock()
	log.gate = gate
	log.mu.Unlock()
	before := runtime.NumGoroutine()
	(*inbound)(h).HandleGap()
	for range workers {
		<-log.entered
	}
	if grown := runtime.NumGoroutine() - before; grown > 0 {
		t.Errorf("%d goroutines started for %d repairs; the %d workers run them", grown, subs, workers)
	}
	log.mu.Lock()
	log.gate = nil
	log.mu.Unlock()
	close(gate)
	for i, c := range clients {
		ch := wire.OrderChannel(delivery.ID(i + 1))
		waitPolls(t, "the repaired event on "+ch, 1, func() bool { return slices.Equal(seqsOf(t, c, ch), []int64{1}) })
	}
	log.mu.Lock()
	most := log.most
	log.mu.Unlock()
	if most > workers {
		t.Errorf("%d repairs read the log at once, want at most %d", most, workers)
	}
	if st := h.Stats(); st.Repairs != subs {
		t.Errorf("repairs %d, want %d", st.Repairs, subs)
	}
}

// staleLog reads the log at once but answers only when released, as a
// Store read that raced a commit.
type staleLog struct {
	*logStore
	read    chan struct{} // a read was made
	release chan struct{}
	armed   atomic.Bool
}

func (l *staleLog) EventsAfter(ctx context.Context, id delivery.ID, after int64, limit int) ([]delivery.Event, error) {
	events, err := l.logStore.EventsAfter(ctx, id, after, limit)
	if l.armed.CompareAndSwap(true, false) {
		l.read <- struct{}{}
		<-l.release
	}
	return events, err
}

// TestGapDuringCatchUpIsNotMissed: an event the bus lost while a
// subscription was still reading the log (its read made before the
// event's commit) is read again before the subscription goes live, even
// when no later event would show the gap.
func TestGapDuringCatchUpIsNotMissed(t *testing.T) {
	log := &staleLog{logStore: &logStore{events: map[delivery.ID][]delivery.Event{}}, read: make(chan struct{}), release: make(chan struct{})}
	h := startHub(t, testConfig(t, log, memory.New()))
	log.commit(1)
	c := socketless(h, 100)
	log.armed.Store(true)
	done := make(chan error, 1)
	go func() { done <- subscribeOrder(h, c, 1) }()
	<-log.read    // the replay read seq 1 only
	log.commit(1) // seq 2, whose publish the bus lost
	(*inbound)(h).HandleGap()
	close(log.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(t, c, wire.OrderChannel(1)); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("seqs %v, want [1 2]: the event lost during the replay", got)
	}
}

// TestSlowClientHoldsNoRepairWorker: a repair whose client's queue has no
// room waits apart, so the one worker repairs another client meanwhile,
// and the slow one once its queue drains.
func TestSlowClientHoldsNoRepairWorker(t *testing.T) {
	log := &logStore{events: map[delivery.ID][]delivery.Event{}}
	cfg := testConfig(t, log, memory.New())
	cfg.Limits = Limits{MaxRepairs: 1, SendQueueFrames: 4}
	h := startHub(t, cfg)
	slow, quick := socketless(h, 100), socketless(h, 101)
	for i, c := range []*client{slow, quick} {
		if err := subscribeOrder(h, c, delivery.ID(i+1)); err != nil {
			t.Fatal(err)
		}
		log.commit(delivery.ID(i + 1)) // its publish lost
	}
	slow.send([]byte(`{}`)) // two frames queued: half of 4, no room for a replay
	slow.send([]byte(`{}`))
	// The slow one first, as HandleGap does in some order.
	for _, name := range []string{"order:1", "order:2"} {
		cn := h.lookup(name)
		cn.mu.Lock()
		s := cn.subs[0]
		s.live = false
		h.repair(s)
		cn.mu.Unlock()
	}
	waitPolls(t, "the quick client repaired", 1, func() bool { return slices.Equal(seqsOf(t, quick, "order:2"), []int64{1}) })
	slow.mu.Lock()
	clear(slow.queue)
	slow.queue = slow.queue[:0]
	slow.wakeLocked() // as its writer does once it drained the queue
	slow.mu.Unlock()
	waitPolls(t, "the slow client repaired", 1, func() bool { return slices.Equal(seqsOf(t, slow, "order:1"), []int64{1}) })
}
