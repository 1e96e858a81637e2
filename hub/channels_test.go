package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

const testWait = 10 * time.Second

// logStore is a Store of event logs; every order exists.
type logStore struct {
	mu     sync.Mutex
	events map[delivery.ID][]delivery.Event
}

func (s *logStore) OrderByID(_ context.Context, id delivery.ID) (delivery.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return delivery.Order{ID: id, Seq: int64(len(s.events[id]))}, nil
}

func (s *logStore) EventsAfter(_ context.Context, id delivery.ID, after int64, limit int) ([]delivery.Event, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []delivery.Event
	for _, ev := range s.events[id] {
		if ev.Seq > after && len(out) < limit {
			out = append(out, ev)
		}
	}
	return out, nil
}

// commit appends the next event of order id and returns it, as the
// order service does before it publishes.
func (s *logStore) commit(id delivery.ID) delivery.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	ev := delivery.Event{OrderID: id, Seq: int64(len(s.events[id])) + 1, Type: "test.event", Data: json.RawMessage(`{}`), CreatedAt: time.Now()}
	s.events[id] = append(s.events[id], ev)
	return ev
}

// gateBus is the in-process bus with the Subscribe and Unsubscribe calls
// of chosen channels held until released, as Redis holds them until it
// confirms. It records calls for one channel that overlap (which the hub
// must never make) and, like Redis, delivers only once a Subscribe went
// through.
type gateBus struct {
	*memory.Bus
	mu       sync.Mutex
	gates    map[string]chan struct{} // "sub:order:1" → closed to release
	entered  map[string]int           // calls that reached their gate
	inFlight map[string]int           // calls for a channel under way
	overlaps []string
}

func newGateBus() *gateBus {
	return &gateBus{Bus: memory.New(), gates: map[string]chan struct{}{}, entered: map[string]int{}, inFlight: map[string]int{}}
}

// hold makes the next calls of op ("sub" or "unsub") on channel wait for
// the returned release.
func (b *gateBus) hold(op, channel string) (release func()) {
	ch := make(chan struct{})
	b.mu.Lock()
	b.gates[op+":"+channel] = ch
	b.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func (b *gateBus) call(op, channel string, fn func() error) error {
	b.mu.Lock()
	if b.inFlight[channel] > 0 {
		b.overlaps = append(b.overlaps, op+" "+channel)
	}
	b.inFlight[channel]++
	gate := b.gates[op+":"+channel]
	b.entered[op+":"+channel]++
	b.mu.Unlock()
	if gate != nil {
		<-gate
	}
	err := fn()
	b.mu.Lock()
	b.inFlight[channel]--
	b.mu.Unlock()
	return err
}

func (b *gateBus) Subscribe(ctx context.Context, channel string) error {
	return b.call("sub", channel, func() error { return b.Bus.Subscribe(ctx, channel) })
}

func (b *gateBus) Unsubscribe(ctx context.Context, channel string) error {
	return b.call("unsub", channel, func() error { return b.Bus.Unsubscribe(ctx, channel) })
}

// waitEntered waits until n calls of op on channel reached their gate.
func (b *gateBus) waitEntered(t *testing.T, op, channel string, n int) {
	t.Helper()
	waitCond(t, fmt.Sprintf("%d %s calls of %s", n, op, channel), func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.entered[op+":"+channel] >= n
	})
}

func (b *gateBus) checkNoOverlap(t *testing.T) {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.overlaps) > 0 {
		t.Errorf("bus calls for one channel overlapped: %v", b.overlaps)
	}
}

func waitCond(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitPolls(t, what, 1, cond)
}

// waitSettled waits until cond held on a few polls in a row: a goroutine
// seen blocked in passing (on a lock taken for a moment) is not blocked
// for good.
func waitSettled(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitPolls(t, what, 5, cond)
}

func waitPolls(t *testing.T, what string, polls int, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for n := 0; n < polls; {
		if cond() {
			n++
		} else {
			n = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, testWait)
		}
		time.Sleep(time.Millisecond) // polling state that has no event to wait on
	}
}

// blocked counts the goroutines that wait (on a channel, a lock, ...)
// with fn the innermost function of this module on their stack, as
// tracebacks name it ("hub.(*Hub).join"): how a test knows that a
// goroutine got as far as it can for now, without sleeping.
func blocked(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	const module = "github.com/ordercast/ordercast/"
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		header, frames, _ := strings.Cut(g, "\n")
		if strings.Contains(header, "[running") || strings.Contains(header, "[runnable") {
			continue
		}
		if i := strings.Index(frames, module); i >= 0 && strings.HasPrefix(frames[i+len(module):], fn+"(") {
			count++
		}
	}
	return count
}

func newGatedHub(t *testing.T) (*Hub, *gateBus, *logStore) {
	t.Helper()
	bus, store := newGateBus(), &logStore{events: map[delivery.ID][]delivery.Event{}}
	h := startHub(t, testConfig(t, store, bus))
	return h, bus, store
}

// socketless is a client whose frames stay in its queue (no writer runs
// while writing is set), to be read by the test.
func socketless(h *Hub, user delivery.ID) *client {
	return &client{hub: h, actor: delivery.Actor{UserID: user, Role: delivery.RoleCustomer}, writing: true}
}

// seqsOf returns the seqs of the event frames queued for c on channel.
func seqsOf(t *testing.T, c *client, channel string) []int64 {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int64
	for _, f := range c.queue {
		var fr struct {
			Type, Channel string
			Seq           int64
		}
		if err := json.Unmarshal(f, &fr); err != nil {
			t.Fatal(err)
		}
		if fr.Type == "event" && fr.Channel == channel {
			out = append(out, fr.Seq)
		}
	}
	return out
}

// subscribeOrder subscribes c to order id from seq 0 and replays, as a
// subscribe frame with since 0 does.
func subscribeOrder(h *Hub, c *client, id delivery.ID) error {
	ch := wire.Channel{Kind: wire.KindOrder, ID: id}
	s, err := h.subscribe(c, ch.String(), ch, 0, nil)
	if err != nil {
		return err
	}
	return h.catchUp(s, true)
}

// sameShard returns an order channel other than name in name's shard.
func sameShard(h *Hub, name string) wire.Channel {
	for id := delivery.ID(1000); ; id++ {
		ch := wire.Channel{Kind: wire.KindOrder, ID: id}
		if ch.String() != name && h.shard(ch.String()) == h.shard(name) {
			return ch
		}
	}
}

// TestBusCallsOutsideShardLock: while the bus holds one channel's
// Subscribe or Unsubscribe (Redis may take seconds to confirm), another
// channel of the same shard is subscribed and left at once.
func TestBusCallsOutsideShardLock(t *testing.T) {
	h, bus, _ := newGatedHub(t)
	slow := wire.Channel{Kind: wire.KindOrder, ID: 1}
	other := sameShard(h, slow.String())

	release := bus.hold("sub", slow.String())
	defer release()
	blocked := make(chan error, 1)
	go func() { blocked <- subscribeOrder(h, socketless(h, 1), slow.ID) }()
	bus.waitEntered(t, "sub", slow.String(), 1)
	done := make(chan *subscription, 1)
	go func() {
		s, err := h.subscribe(socketless(h, 2), other.String(), other, 0, nil)
		if err != nil {
			t.Error(err)
		}
		done <- s
	}()
	var s *subscription
	select {
	case s = <-done:
	case <-time.After(testWait):
		t.Fatalf("subscribe of %s waited for the bus call of %s in the same shard", other, slow)
	}
	release()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}

	releaseUnsub := bus.hold("unsub", other.String())
	defer releaseUnsub()
	left := make(chan struct{})
	go func() { h.unsubscribe(s); close(left) }()
	bus.waitEntered(t, "unsub", other.String(), 1)
	third := sameShard(h, other.String())
	finished := make(chan error, 1)
	go func() { finished <- subscribeOrder(h, socketless(h, 3), third.ID) }()
	select {
	case err := <-finished:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testWait):
		t.Fatalf("subscribe of %s waited for the bus Unsubscribe of %s in the same shard", third, other)
	}
	releaseUnsub()
	<-left
	bus.checkNoOverlap(t)
}

// TestJoinWhileBusSubscribeInFlight: a subscriber that arrives while the
// first subscriber's bus Subscribe is in flight is registered only once
// the subscription is in effect, so that its replay cannot miss an event
// committed meanwhile whose publish the bus did not deliver yet: both get
// the event, once.
func TestJoinWhileBusSubscribeInFlight(t *testing.T) {
	h, bus, store := newGatedHub(t)
	ch := wire.Channel{Kind: wire.KindOrder, ID: 7}
	name := ch.String()
	release := bus.hold("sub", name)
	defer release()
	first, second := socketless(h, 1), socketless(h, 2)
	errs := make(chan error, 1)
	go func() { errs <- subscribeOrder(h, first, ch.ID) }()
	bus.waitEntered(t, "sub", name, 1)
	secondDone := make(chan error, 1)
	go func() { secondDone <- subscribeOrder(h, second, ch.ID) }()
	// It waits for the subscription to be in effect (or, were it let
	// through, it has replayed an empty log and is live).
	waitSettled(t, "the second subscriber waiting or done", func() bool {
		return blocked("hub.(*Hub).subscribe") == 1 || len(secondDone) == 1
	})
	// Committed and published while the subscription is not in effect:
	// the bus does not deliver it; only the Store has it.
	ev := store.commit(ch.ID)
	if err := bus.Publish(context.Background(), delivery.BusMessage{Channel: name, Seq: ev.Seq, Frame: encodeEvent(name, ev.Type, ev.Seq, ev.Data, 0)}); err != nil {
		t.Fatal(err)
	}
	release()
	for _, done := range []chan error{errs, secondDone} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// And live from there on.
	ev = store.commit(ch.ID)
	if err := bus.Publish(context.Background(), delivery.BusMessage{Channel: name, Seq: ev.Seq, Frame: encodeEvent(name, ev.Type, ev.Seq, ev.Data, 0)}); err != nil {
		t.Fatal(err)
	}
	for i, c := range []*client{first, second} {
		if got := seqsOf(t, c, name); fmt.Sprint(got) != "[1 2]" {
			t.Errorf("subscriber %d got seqs %v, want [1 2]", i+1, got)
		}
	}
	bus.checkNoOverlap(t)
}

// TestUnsubscribeRacingSubscribe: a subscriber arriving while the bus
// Unsubscribe after the channel's last subscriber is in flight waits for
// it, then subscribes the bus again: the calls never overlap, and the
// channel ends subscribed in the bus while it has a subscriber (an
// UNSUBSCRIBE overtaken by the SUBSCRIBE would leave it unsubscribed in
// Redis, and the subscriber without events).
func TestUnsubscribeRacingSubscribe(t *testing.T) {
	h, bus, store := newGatedHub(t)
	ch := wire.Channel{Kind: wire.KindOrder, ID: 9}
	name := ch.String()
	leaver := socketless(h, 1)
	s, err := h.subscribe(leaver, name, ch, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	release := bus.hold("unsub", name)
	defer release()
	left := make(chan struct{})
	go func() { h.unsubscribe(s); close(left) }()
	bus.waitEntered(t, "unsub", name, 1)
	joiner := socketless(h, 2)
	joined := make(chan error, 1)
	go func() { joined <- subscribeOrder(h, joiner, ch.ID) }()
	// It waits for the Unsubscribe to return (or, were it let through,
	// its Subscribe overlaps the Unsubscribe in the bus).
	waitSettled(t, "the joiner waiting or in the bus", func() bool {
		bus.mu.Lock()
		subscribing := bus.entered["sub:"+name] == 2
		bus.mu.Unlock()
		return blocked("hub.(*Hub).join")+blocked("hub.(*Hub).subscribe") == 1 || subscribing
	})
	release()
	<-left
	if err := <-joined; err != nil {
		t.Fatal(err)
	}
	ev := store.commit(ch.ID)
	if err := bus.Publish(context.Background(), delivery.BusMessage{Channel: name, Seq: ev.Seq, Frame: encodeEvent(name, ev.Type, ev.Seq, ev.Data, 0)}); err != nil {
		t.Fatal(err)
	}
	if got := seqsOf(t, joiner, name); fmt.Sprint(got) != "[1]" {
		t.Errorf("the joiner got seqs %v, want [1]: the channel is not subscribed in the bus", got)
	}
	bus.mu.Lock()
	subscribes := bus.entered["sub:"+name]
	bus.mu.Unlock()
	if got := subscribes; got != 2 {
		t.Errorf("%d bus Subscribe calls, want 2 (before and after the Unsubscribe)", got)
	}
	bus.checkNoOverlap(t)
}
