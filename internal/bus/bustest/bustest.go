// Package bustest is the contract every delivery.Bus implementation is
// held to, as documented on delivery.Bus. Each implementation's tests call
// Run with a factory.
package bustest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Factory returns a constructor of Buses that share one backend, as the
// instances of one deployment do. Every Bus it makes must be closed by the
// factory's cleanup (t.Cleanup), whether or not the test closed it.
type Factory func(t *testing.T) (newBus func() delivery.Bus)

// Timeout bounds every wait of the suite; a backend over the network may
// need the caller to raise it.
var Timeout = 5 * time.Second

// Run runs the contract suite.
func Run(t *testing.T, factory Factory) {
	t.Run("LocalDelivery", func(t *testing.T) { testLocalDelivery(t, factory) })
	t.Run("ExactBytes", func(t *testing.T) { testExactBytes(t, factory) })
	t.Run("Resubscribe", func(t *testing.T) { testResubscribe(t, factory) })
	t.Run("CrossInstance", func(t *testing.T) { testCrossInstance(t, factory) })
	t.Run("Conditions", func(t *testing.T) { testConditions(t, factory) })
	t.Run("OrderPerPublisher", func(t *testing.T) { testOrder(t, factory) })
	t.Run("Batch", func(t *testing.T) { testBatch(t, factory) })
	t.Run("ConcurrentPublishers", func(t *testing.T) { testConcurrent(t, factory) })
	t.Run("CloseStopsHandler", func(t *testing.T) { testClose(t, factory) })
}

// Recorder is a BusHandler that keeps what it received.
type Recorder struct {
	mu   sync.Mutex
	msgs []delivery.BusMessage
	gaps int
	ch   chan struct{} // signalled on every message
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{ch: make(chan struct{}, 1)} }

// HandleMessage records a copy of msg: the bus may reuse nothing, but the
// copy makes a bus that does fail the ExactBytes test rather than pass by luck.
func (r *Recorder) HandleMessage(msg delivery.BusMessage) {
	msg.Frame = bytes.Clone(msg.Frame)
	r.mu.Lock()
	r.msgs = append(r.msgs, msg)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// HandleGap counts gap notices.
func (r *Recorder) HandleGap() {
	r.mu.Lock()
	r.gaps++
	r.mu.Unlock()
}

// Gaps returns how many gap notices arrived.
func (r *Recorder) Gaps() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.gaps
}

// On returns the messages received on channel, in arrival order.
func (r *Recorder) On(channel string) []delivery.BusMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivery.BusMessage
	for _, m := range r.msgs {
		if m.Channel == channel {
			out = append(out, m)
		}
	}
	return out
}

// WaitCount waits until n messages arrived on channel.
func (r *Recorder) WaitCount(t *testing.T, channel string, n int) []delivery.BusMessage {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		if got := r.On(channel); len(got) >= n {
			return got
		}
		select {
		case <-r.ch:
		case <-deadline.C:
			t.Fatalf("%s: %d messages after %v, want %d", channel, len(r.On(channel)), Timeout, n)
		}
	}
}

func start(t *testing.T, b delivery.Bus) *Recorder {
	t.Helper()
	r := NewRecorder()
	if err := b.Start(r); err != nil {
		t.Fatal(err)
	}
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func msg(channel string, seq int64, body string) delivery.BusMessage {
	return delivery.BusMessage{Channel: channel, Seq: seq, Frame: []byte(body)}
}

func testLocalDelivery(t *testing.T, factory Factory) {
	ctx := context.Background()
	b := factory(t)()
	r := start(t, b)
	must(t, b.Subscribe(ctx, "order:1"))
	must(t, b.Publish(ctx, msg("order:2", 0, "not subscribed")))
	must(t, b.Publish(ctx, msg("order:1", 1, "one")))
	got := r.WaitCount(t, "order:1", 1)
	if len(got) != 1 || string(got[0].Frame) != "one" || got[0].Seq != 1 {
		t.Errorf("got %+v", got)
	}
	// The marker below arrives after anything published before it on
	// the channel, so a second copy of "one" would be seen by now.
	must(t, b.Publish(ctx, msg("order:1", 2, "two")))
	if got := r.WaitCount(t, "order:1", 2); len(got) != 2 {
		t.Errorf("duplicate delivery: %+v", got)
	}
	if got := r.On("order:2"); len(got) != 0 {
		t.Errorf("unsubscribed channel delivered: %+v", got)
	}
}

func testExactBytes(t *testing.T, factory Factory) {
	ctx := context.Background()
	b := factory(t)()
	r := start(t, b)
	must(t, b.Subscribe(ctx, "user:9"))
	frame := []byte{'{', 0, 0xff, '\n', '"', '}'}
	for i := 0; i < 300; i++ {
		frame = append(frame, byte(i))
	}
	must(t, b.Publish(ctx, delivery.BusMessage{Channel: "user:9", Seq: 1<<62 + 3, Frame: frame}))
	got := r.WaitCount(t, "user:9", 1)
	if !bytes.Equal(got[0].Frame, frame) || got[0].Seq != 1<<62+3 {
		t.Errorf("frame or seq changed in transit: %+v", got[0])
	}
}

// testResubscribe: subscription churn never duplicates delivery. What
// was published between Unsubscribe and Subscribe may or may not arrive
// (the contract allows messages in flight), but never twice.
func testResubscribe(t *testing.T, factory Factory) {
	ctx := context.Background()
	b := factory(t)()
	r := start(t, b)
	must(t, b.Subscribe(ctx, "order:5"))
	must(t, b.Subscribe(ctx, "order:5")) // idempotent: still one copy
	must(t, b.Unsubscribe(ctx, "order:5"))
	must(t, b.Publish(ctx, msg("order:5", 1, "between")))
	must(t, b.Subscribe(ctx, "order:5"))
	must(t, b.Publish(ctx, msg("order:5", 2, "after resubscribe")))
	must(t, b.Publish(ctx, msg("order:5", 3, "marker")))
	got := r.WaitCount(t, "order:5", 2)
	for len(got) < 3 && got[len(got)-1].Seq != 3 {
		got = r.WaitCount(t, "order:5", len(got)+1)
	}
	seen := map[int64]int{}
	for _, m := range got {
		seen[m.Seq]++
	}
	if seen[2] != 1 || seen[3] != 1 || seen[1] > 1 {
		t.Errorf("after resubscribing: %+v", got)
	}
}

// testConditions: Except, AsOf, Revoke, Courier and Expires reach every instance
// as they were published, and messages without them stay without.
func testConditions(t *testing.T, factory Factory) {
	ctx := context.Background()
	newBus := factory(t)
	a, b := newBus(), newBus()
	ra, rb := start(t, a), start(t, b)
	must(t, a.Subscribe(ctx, "order:8"))
	must(t, b.Subscribe(ctx, "order:8"))
	want := []delivery.BusMessage{
		{Channel: "order:8", Frame: []byte("typing"), Except: 1<<62 + 1},
		{Channel: "order:8", Frame: []byte("position"), AsOf: 1<<61 + 2},
		{Channel: "order:8", Frame: []byte("courier position"), AsOf: 3, Courier: 1<<60 + 5},
		{Channel: "order:8", Frame: []byte("unassigned"), Seq: 9, Revoke: 1<<59 + 7},
		{Channel: "order:8", Frame: []byte("order ended"), Seq: 10, AsOf: 10, Expires: 1<<58 + 11},
		{Channel: "order:8", Frame: []byte("plain")},
	}
	for _, m := range want {
		must(t, a.Publish(ctx, m))
	}
	for name, r := range map[string]*Recorder{"a": ra, "b": rb} {
		got := r.WaitCount(t, "order:8", len(want))
		for i := range want {
			if i >= len(got) || string(got[i].Frame) != string(want[i].Frame) || got[i].Except != want[i].Except || got[i].AsOf != want[i].AsOf ||
				got[i].Revoke != want[i].Revoke || got[i].Courier != want[i].Courier || got[i].Seq != want[i].Seq ||
				got[i].Expires != want[i].Expires {
				t.Errorf("%s: got %+v, want %+v", name, got, want)
				break
			}
		}
	}
}

func testCrossInstance(t *testing.T, factory Factory) {
	ctx := context.Background()
	newBus := factory(t)
	a, b, c := newBus(), newBus(), newBus()
	ra, rb, rc := start(t, a), start(t, b), start(t, c)
	must(t, a.Subscribe(ctx, "order:7"))
	must(t, b.Subscribe(ctx, "order:7"))
	must(t, c.Subscribe(ctx, "dispatch"))
	must(t, c.Publish(ctx, msg("order:7", 1, "from c")))
	must(t, a.Publish(ctx, msg("order:7", 2, "from a")))
	for name, r := range map[string]*Recorder{"a": ra, "b": rb} {
		got := r.WaitCount(t, "order:7", 2)
		if len(got) != 2 {
			t.Errorf("%s: got %d copies, want each message once", name, len(got))
		}
	}
	must(t, a.Publish(ctx, msg("dispatch", 0, "marker")))
	rc.WaitCount(t, "dispatch", 1)
	if got := rc.On("order:7"); len(got) != 0 {
		t.Errorf("c got a channel it never subscribed: %+v", got)
	}
}

func testOrder(t *testing.T, factory Factory) {
	ctx := context.Background()
	newBus := factory(t)
	pub, sub := newBus(), newBus()
	start(t, pub)
	r := start(t, sub)
	must(t, sub.Subscribe(ctx, "order:8"))
	const n = 1000
	for i := 1; i <= n; i++ {
		must(t, pub.Publish(ctx, msg("order:8", int64(i), fmt.Sprint(i))))
	}
	got := r.WaitCount(t, "order:8", n)
	for i, m := range got {
		if m.Seq != int64(i+1) {
			t.Fatalf("message %d has seq %d: out of order", i, m.Seq)
		}
	}
}

// testBatch: the messages of one Publish call (an event's copies for its
// channels) reach every subscribed instance, the publisher's own once,
// in order per channel, with their conditions; no message is a no-op.
func testBatch(t *testing.T, factory Factory) {
	ctx := context.Background()
	newBus := factory(t)
	a, b := newBus(), newBus()
	ra, rb := start(t, a), start(t, b)
	channels := []string{"order:4", "user:4"}
	for _, ch := range channels {
		must(t, a.Subscribe(ctx, ch))
		must(t, b.Subscribe(ctx, ch))
	}
	must(t, a.Publish(ctx,
		msg("order:4", 1, "order 1"), msg("user:4", 1, "feed 1"), msg("dispatch", 0, "nobody's"),
		msg("order:4", 2, "order 2"), delivery.BusMessage{Channel: "user:4", Seq: 2, Frame: []byte("feed 2"), Except: 1<<62 + 4}))
	must(t, a.Publish(ctx))
	// Markers behind the batch: a second copy of it would be seen by now.
	must(t, a.Publish(ctx, msg("order:4", 3, "order 3"), msg("user:4", 3, "feed 3")))
	want := map[string][]string{"order:4": {"order 1", "order 2", "order 3"}, "user:4": {"feed 1", "feed 2", "feed 3"}}
	for name, r := range map[string]*Recorder{"a": ra, "b": rb} {
		for _, ch := range channels {
			got := r.WaitCount(t, ch, 3)
			for i, m := range got {
				if i >= 3 || string(m.Frame) != want[ch][i] || m.Seq != int64(i+1) {
					t.Errorf("%s, %s: got %+v, want %q once each in order", name, ch, got, want[ch])
					break
				}
			}
			if ch == "user:4" && got[1].Except != 1<<62+4 {
				t.Errorf("%s: the condition was lost: %+v", name, got[1])
			}
		}
	}
}

func testConcurrent(t *testing.T, factory Factory) {
	ctx := context.Background()
	newBus := factory(t)
	sub := newBus()
	r := start(t, sub)
	const publishers, each = 8, 200
	channels := []string{"order:1", "order:2", "order:3"}
	for _, ch := range channels {
		must(t, sub.Subscribe(ctx, ch))
	}
	var wg sync.WaitGroup
	for p := 0; p < publishers; p++ {
		b := newBus()
		start(t, b)
		wg.Go(func() {
			for i := 1; i <= each; i++ {
				ch := channels[i%len(channels)]
				if err := b.Publish(ctx, msg(ch, int64(p*each+i), "x")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Subscription churn on other channels must not disturb delivery.
	wg.Go(func() {
		for i := 0; i < 200; i++ {
			ch := fmt.Sprintf("user:%d", i%5+1)
			if err := sub.Subscribe(ctx, ch); err != nil {
				t.Error(err)
				return
			}
			if err := sub.Unsubscribe(ctx, ch); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	total := 0
	for _, ch := range channels {
		seen := map[int64]bool{}
		want := 0
		for i := 1; i <= each; i++ {
			if channels[i%len(channels)] == ch {
				want += publishers
			}
		}
		for _, m := range r.WaitCount(t, ch, want) {
			if seen[m.Seq] {
				t.Errorf("%s: seq %d twice", ch, m.Seq)
			}
			seen[m.Seq] = true
		}
		total += len(seen)
	}
	if total != publishers*each {
		t.Errorf("delivered %d distinct messages, want %d", total, publishers*each)
	}
}

func testClose(t *testing.T, factory Factory) {
	ctx := context.Background()
	newBus := factory(t)
	a, b := newBus(), newBus()
	ra := start(t, a)
	rb := start(t, b)
	must(t, a.Subscribe(ctx, "order:9"))
	must(t, b.Subscribe(ctx, "order:9"))
	must(t, a.Close())
	must(t, b.Publish(ctx, msg("order:9", 1, "after close")))
	rb.WaitCount(t, "order:9", 1)
	if got := ra.On("order:9"); len(got) != 0 {
		t.Errorf("handler called after Close returned: %+v", got)
	}
}
