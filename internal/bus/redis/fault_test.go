package redis_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/bus/bustest"
	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/testnet"
)

// gapRecorder is a Recorder that also signals every HandleGap.
type gapRecorder struct {
	*bustest.Recorder
	mu   sync.Mutex
	gaps int
	ch   chan struct{}
}

func newGapRecorder() *gapRecorder {
	return &gapRecorder{Recorder: bustest.NewRecorder(), ch: make(chan struct{}, 1)}
}

func (r *gapRecorder) HandleGap() {
	r.mu.Lock()
	r.gaps++
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

func (r *gapRecorder) waitGaps(t *testing.T, n int) {
	t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got := r.gaps
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-r.ch:
		case <-deadline.C:
			t.Fatalf("%d HandleGap calls after 15s, want %d", got, n)
		}
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 15s", what)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a bounded wait
	}
}

// busOnServer is a bus on a Redis server of the test's own, pinged often
// so that a restart is noticed quickly.
func busOnServer(t *testing.T, addr string) *redisbus.Bus {
	c := goredis.NewClient(redistest.Options(addr))
	t.Cleanup(func() { _ = c.Close() })
	return newBus(t, c, redisbus.Options{HealthInterval: 200 * time.Millisecond})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func msg(channel string, seq int64) delivery.BusMessage {
	return delivery.BusMessage{Channel: channel, Seq: seq, Frame: fmt.Appendf(nil, `{"seq":%d}`, seq)}
}

// Redis restarts mid-stream (a dedicated server; the shared one is never
// touched): the buses reconnect, resubscribe and call HandleGap once Redis
// confirmed their channels, and messages flow again; publishes while it
// is down fail (the outbox retries them) but still reach local handlers.
func TestRedisRestartMidStream(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	pub, sub := busOnServer(t, srv.Addr), busOnServer(t, srv.Addr)
	rp, rs := newGapRecorder(), newGapRecorder()
	must(t, pub.Start(rp))
	must(t, sub.Start(rs))
	must(t, sub.Subscribe(ctx, "order:1"))
	must(t, pub.Subscribe(ctx, "order:1"))
	for i := int64(1); i <= 5; i++ {
		must(t, pub.Publish(ctx, msg("order:1", i)))
	}
	rs.WaitCount(t, "order:1", 5)

	srv.Stop()
	waitUntil(t, "both buses down", func() bool { return !pub.Stats().Connected && !sub.Stats().Connected })
	if err := pub.Ready(ctx); err == nil {
		t.Error("Ready with Redis down")
	}
	if err := pub.Publish(ctx, msg("order:1", 6)); err == nil {
		t.Error("Publish with Redis down reported success")
	}
	rp.WaitCount(t, "order:1", 6) // the publisher's own handler got it
	// Subscribing while Redis is down does not block: the reconnect does it.
	must(t, sub.Subscribe(ctx, "order:2"))

	srv.Start()
	rs.waitGaps(t, 1)
	rp.waitGaps(t, 1)
	must(t, pub.Ready(ctx))
	must(t, pub.Publish(ctx, msg("order:1", 7)))
	must(t, pub.Publish(ctx, msg("order:2", 1)))
	got := rs.WaitCount(t, "order:1", 6)
	if last := got[len(got)-1]; last.Seq != 7 {
		t.Errorf("after the restart got seq %d, want 7", last.Seq)
	}
	rs.WaitCount(t, "order:2", 1)
	if st := sub.Stats(); st.Disconnects == 0 || st.Gaps == 0 || !st.Connected {
		t.Errorf("subscriber stats %+v", st)
	}
}

// A network cut that leaves the connection open but silent is found by
// the ping, not by waiting for TCP.
func TestSilentConnectionIsReplaced(t *testing.T) {
	url := redistest.URL(t)
	opt, err := goredis.ParseURL(url)
	must(t, err)
	proxy := testnet.StartProxy(t, opt.Addr)
	ctx := context.Background()
	prefix := redistest.Prefix(t)
	c := goredis.NewClient(redistest.Options(proxy.Addr))
	t.Cleanup(func() { _ = c.Close() })
	sub := newBus(t, c, redisbus.Options{Prefix: prefix, HealthInterval: 100 * time.Millisecond})
	rs := newGapRecorder()
	must(t, sub.Start(rs))
	must(t, sub.Subscribe(ctx, "user:1"))
	pub := newBus(t, redistest.Client(t, url), redisbus.Options{Prefix: prefix})
	must(t, pub.Start(bustest.NewRecorder()))

	proxy.Pause()
	waitUntil(t, "the subscriber to notice", func() bool { return !sub.Stats().Connected })
	proxy.Resume()
	rs.waitGaps(t, 1)
	must(t, pub.Publish(ctx, msg("user:1", 0)))
	rs.WaitCount(t, "user:1", 1)
}

// A durable frame delivered locally while Redis was down is relayed by the
// outbox once Redis is back, from its own instance or another: each
// instance's subscribers still get it exactly once, feeds included.
func TestRelayedFrameReachesEachInstanceOnce(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	a, b := busOnServer(t, srv.Addr), busOnServer(t, srv.Addr)
	ra, rb := newGapRecorder(), newGapRecorder()
	must(t, a.Start(ra))
	must(t, b.Start(rb))
	must(t, a.Subscribe(ctx, "user:1"))
	must(t, b.Subscribe(ctx, "user:1"))
	count := func(r *gapRecorder, seq int64) int {
		n := 0
		for _, m := range r.On("user:1") {
			if m.Seq == seq {
				n++
			}
		}
		return n
	}

	srv.Stop()
	waitUntil(t, "both buses down", func() bool { return !a.Stats().Connected && !b.Stats().Connected })
	for _, seq := range []int64{1, 2} {
		if err := a.Publish(ctx, msg("user:1", seq)); err == nil {
			t.Fatal("Publish with Redis down reported success")
		}
	}
	srv.Start()
	ra.waitGaps(t, 1)
	rb.waitGaps(t, 1)

	// Seq 1 relayed by its own instance: to Redis only.
	must(t, a.Publish(ctx, msg("user:1", 1)))
	// Seq 2 relayed by the other instance, then a marker behind it.
	must(t, b.Publish(ctx, msg("user:1", 2)))
	must(t, b.Publish(ctx, msg("user:1", 3)))
	ra.WaitCount(t, "user:1", 3)
	rb.WaitCount(t, "user:1", 3)
	for _, seq := range []int64{1, 2, 3} {
		if n := count(ra, seq); n != 1 {
			t.Errorf("instance A got seq %d %d times", seq, n)
		}
		if n := count(rb, seq); n != 1 {
			t.Errorf("instance B got seq %d %d times", seq, n)
		}
	}
}

// TestBatchWhileRedisDown: a batch that Redis does not take fails with
// every message's channel named and counted; local handlers got it, and
// its durable frames relayed later by this instance go to Redis only.
func TestBatchWhileRedisDown(t *testing.T) {
	srv := redistest.StartServer(t)
	ctx := context.Background()
	a, b := busOnServer(t, srv.Addr), busOnServer(t, srv.Addr)
	ra, rb := newGapRecorder(), newGapRecorder()
	must(t, a.Start(ra))
	must(t, b.Start(rb))
	for _, ch := range []string{"order:1", "user:1"} {
		must(t, a.Subscribe(ctx, ch))
		must(t, b.Subscribe(ctx, ch))
	}
	srv.Stop()
	waitUntil(t, "both buses down", func() bool { return !a.Stats().Connected && !b.Stats().Connected })
	before := a.Stats().PublishErrors
	err := a.Publish(ctx, event("order:1", 1), event("user:1", 1))
	if err == nil || !strings.Contains(err.Error(), "order:1") || !strings.Contains(err.Error(), "user:1") {
		t.Fatalf("batch with Redis down: %v, want an error naming both channels", err)
	}
	if n := a.Stats().PublishErrors - before; n != 2 {
		t.Errorf("%d publish errors counted, want 2", n)
	}
	ra.WaitCount(t, "order:1", 1)
	ra.WaitCount(t, "user:1", 1)

	srv.Start()
	ra.waitGaps(t, 1)
	rb.waitGaps(t, 1)
	// The outbox's relay, then markers behind it.
	must(t, a.Publish(ctx, event("order:1", 1), event("user:1", 1)))
	must(t, a.Publish(ctx, event("order:1", 2), event("user:1", 2)))
	for name, r := range map[string]*gapRecorder{"a": ra, "b": rb} {
		for _, ch := range []string{"order:1", "user:1"} {
			got := r.WaitCount(t, ch, 2)
			if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 {
				t.Errorf("%s, %s: got %+v, want seq 1 and 2 once each", name, ch, got)
			}
		}
	}
}

// event is a message whose frame names its channel, as the hub's do:
// frames of one event differ by channel.
func event(channel string, seq int64) delivery.BusMessage {
	return delivery.BusMessage{Channel: channel, Seq: seq, Frame: fmt.Appendf(nil, `{"channel":%q,"seq":%d}`, channel, seq)}
}
