package hub

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// recordBus is a bus that records the timestamps of what it is given, at
// the publisher clock's time it was given it.
type recordBus struct {
	delivery.Bus // nil: only Publish is used
	now          func() time.Time
	mu           sync.Mutex
	sent         []sentPub
}

type sentPub struct{ at, ts int64 }

func (b *recordBus) Publish(_ context.Context, msgs ...delivery.BusMessage) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, msg := range msgs {
		b.sent = append(b.sent, sentPub{b.now().UnixNano(), frameTs(msg.Frame)})
	}
	return nil
}

func (b *recordBus) all() []sentPub {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]sentPub(nil), b.sent...)
}

// frameTs reads the ts that ends an event frame.
func frameTs(f []byte) int64 {
	i := len(f) - 2
	for f[i] >= '0' && f[i] <= '9' {
		i--
	}
	var ts int64
	for _, c := range f[i+1 : len(f)-1] {
		ts = ts*10 + int64(c-'0')
	}
	return ts
}

// setClock is a clock that tests move.
type setClock struct{ ns atomic.Int64 }

func (c *setClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *setClock) Set(t time.Duration)     { c.ns.Store(int64(t)) }
func (c *setClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func newTestPublisher(t *testing.T) (*Publisher, *recordBus, *setClock) {
	t.Helper()
	clock := &setClock{}
	clock.Set(time.Hour) // any fixed start
	bus := &recordBus{now: clock.Now}
	p, err := NewPublisher(PublisherConfig{Bus: bus, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p, bus, clock
}

func position(ts int64) delivery.Publication {
	return delivery.Publication{Channel: "order:1", Event: delivery.EventCourierLocation, Data: []byte(`{}`), Ts: ts, Courier: 7, Latest: true}
}

// A courier sending once a second, each position up to 20 ms early or
// late, has every one sent at once: none is held.
func TestLatestOnSchedule(t *testing.T) {
	p, bus, clock := newTestPublisher(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 600
	start := clock.Now()
	for i := range n {
		jitter := time.Duration(rng.IntN(41)-20) * time.Millisecond
		clock.Set(time.Duration(start.UnixNano()) + time.Duration(i)*time.Second + jitter)
		if err := p.Publish(context.Background(), position(int64(i+1))); err != nil {
			t.Fatal(err)
		}
		if got := len(bus.all()); got != i+1 {
			t.Fatalf("position %d: %d sent at once, want %d", i, got, i+1)
		}
	}
	if held, sent := p.latestHeld.Load(), p.latestSent.Load(); held != 0 || sent != n {
		t.Errorf("held %d, sent %d; want 0 and %d", held, sent, n)
	}
	checkRate(t, bus.all())
}

// checkRate fails unless any k+1 consecutive sends span at least k
// intervals, less the tick one may come early: never more than one per
// interval on average, over any span.
func checkRate(t *testing.T, sent []sentPub) {
	t.Helper()
	const interval, early = int64(time.Second), int64(50 * time.Millisecond)
	for i := range sent {
		for j := i + 1; j < len(sent); j++ {
			if span := sent[j].at - sent[i].at; span < int64(j-i)*interval-early {
				t.Fatalf("sends %d..%d within %v", i, j, time.Duration(span))
			}
		}
	}
}

// A position that comes early is held, the newest held one replaces the
// others, and it goes out when the interval since the last send ends.
func TestLatestEarlyHeld(t *testing.T) {
	p, bus, clock := newTestPublisher(t)
	ctx := context.Background()
	t0 := clock.Now().UnixNano()
	for _, step := range []struct {
		at time.Duration
		ts int64
	}{{0, 1}, {300 * time.Millisecond, 2}, {600 * time.Millisecond, 4}, {700 * time.Millisecond, 3}} {
		clock.Set(time.Duration(t0) + step.at)
		if err := p.Publish(ctx, position(step.ts)); err != nil {
			t.Fatal(err)
		}
	}
	if got := bus.all(); len(got) != 1 || p.latestHeld.Load() != 3 {
		t.Fatalf("sent %v, held %d; want the first sent and three held", got, p.latestHeld.Load())
	}
	if due, _ := p.latest.due(t0+int64(time.Second)-1, nil); len(due) != 0 {
		t.Fatalf("due before the interval ends: %v", due)
	}
	clock.Set(time.Duration(t0) + time.Second)
	waitCond(t, "held position sent", func() bool { return len(bus.all()) == 2 })
	if got := bus.all()[1]; got.ts != 4 || got.at != t0+int64(time.Second) {
		t.Errorf("held send %+v, want ts 4 at the interval's end", got)
	}
	// The next one, a second after the held one went out, goes at once.
	clock.Advance(time.Second - 20*time.Millisecond)
	if err := p.Publish(ctx, position(5)); err != nil {
		t.Fatal(err)
	}
	if got := bus.all(); len(got) != 3 || got[2].ts != 5 {
		t.Errorf("sent %v, want ts 5 at once", got)
	}
	checkRate(t, bus.all())
}

// A courier sending too often gets one position per interval, over any
// span, each the newest it sent.
func TestLatestFastSender(t *testing.T) {
	p, bus, clock := newTestPublisher(t)
	rng := rand.New(rand.NewPCG(3, 4))
	t0 := clock.Now().UnixNano()
	var ts int64
	for range 200 {
		clock.Advance(time.Duration(100+rng.IntN(800)) * time.Millisecond)
		ts++
		if err := p.Publish(context.Background(), position(ts)); err != nil {
			t.Fatal(err)
		}
		// Let the loop send what is due now before the next arrives.
		waitCond(t, "due positions sent", func() bool {
			sl := p.latest.slotOf("order:1", 7)
			return !sl.holding || sl.last+int64(time.Second) > clock.Now().UnixNano()
		})
	}
	sent := bus.all()
	checkRate(t, sent)
	elapsed := clock.Now().UnixNano() - t0
	if max := elapsed/int64(time.Second) + 1; int64(len(sent)) > max {
		t.Errorf("%d sent in %v", len(sent), time.Duration(elapsed))
	}
	for i := 1; i < len(sent); i++ {
		if sent[i].ts <= sent[i-1].ts {
			t.Fatalf("sent out of order: %v", sent)
		}
	}
}

// slotOf returns the slot of courier on channel, read under the lock.
func (t *latestThrottle) slotOf(channel string, courier delivery.ID) latestSlot {
	t.mu.Lock()
	defer t.mu.Unlock()
	if sl := t.slots[latestKey{channel, courier}]; sl != nil {
		return *sl
	}
	return latestSlot{}
}

// hangingBus takes the first publish and hangs on the others until their
// context ends, as Redis black-holed.
type hangingBus struct {
	delivery.Bus
	calls   atomic.Int64
	entered chan struct{}
}

func (b *hangingBus) Publish(ctx context.Context, _ ...delivery.BusMessage) error {
	if b.calls.Add(1) == 1 {
		return nil
	}
	b.entered <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// TestCloseCutsAHangingSend: Close does not wait for a held position's
// send on a bus that hangs.
func TestCloseCutsAHangingSend(t *testing.T) {
	clock := &setClock{}
	clock.Set(time.Hour)
	bus := &hangingBus{entered: make(chan struct{}, 1)}
	p, err := NewPublisher(PublisherConfig{Bus: bus, Now: clock.Now, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Publish(ctx, position(1)); err != nil { // sent
		t.Fatal(err)
	}
	if err := p.Publish(ctx, position(2)); err != nil { // held
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	<-bus.entered // the loop sends the held one, and hangs
	p.Close()     // returns: the test would time out otherwise
}

// callsBus records the channels of each Publish call, and refuses a call
// that has a channel of refuse.
type callsBus struct {
	delivery.Bus
	refuse string
	mu     sync.Mutex
	calls  [][]string
}

func (b *callsBus) Publish(_ context.Context, msgs ...delivery.BusMessage) error {
	var chans []string
	for _, m := range msgs {
		chans = append(chans, m.Channel)
	}
	b.mu.Lock()
	b.calls = append(b.calls, chans)
	b.mu.Unlock()
	if slices.Contains(chans, b.refuse) {
		return errors.New("bus down: " + b.refuse)
	}
	return nil
}

// TestPublishOneBusCall: an event's publications go to the bus in one
// call, in order, a held position left out; the bus's error is returned.
func TestPublishOneBusCall(t *testing.T) {
	clock := &setClock{}
	clock.Set(time.Hour)
	bus := &callsBus{refuse: "user:3"}
	p, err := NewPublisher(PublisherConfig{Bus: bus, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	ctx := context.Background()
	pub := func(ch string) delivery.Publication {
		return delivery.Publication{Channel: ch, Event: "order.status", Data: []byte(`{}`), Seq: 2, Ts: 1}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(p.Publish(ctx, position(1))) // the first goes out
	must(p.Publish(ctx, pub("order:1"), position(2), pub("user:1"), pub("user:2")))
	if err := p.Publish(ctx, pub("order:2"), pub("user:3")); err == nil {
		t.Error("the bus refused, Publish said nil")
	}
	must(p.Publish(ctx, position(3))) // held: no call
	bus.mu.Lock()
	defer bus.mu.Unlock()
	want := [][]string{{"order:1"}, {"order:1", "user:1", "user:2"}, {"order:2", "user:3"}}
	if !slices.EqualFunc(bus.calls, want, slices.Equal) {
		t.Errorf("bus calls %q, want %q", bus.calls, want)
	}
}
