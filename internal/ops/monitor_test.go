package ops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/ops"
	"github.com/ordercast/ordercast/internal/wire"
)

const waitTimeout = 10 * time.Second

// fakeStore answers pings with err (or blocks until the ping's deadline
// with hang) and the outbox's lag with oldest.
type fakeStore struct {
	mu        sync.Mutex
	err       error
	hang      bool
	oldest    time.Time
	oldestErr error
}

func (s *fakeStore) Ping(ctx context.Context) error {
	s.mu.Lock()
	err, hang := s.err, s.hang
	s.mu.Unlock()
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

func (s *fakeStore) OldestUnpublished(context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oldest, !s.oldest.IsZero(), s.oldestErr
}

// counters stand for an instance's hub and server.
type counters struct {
	mu sync.Mutex
	s  ops.Sample
}

func (c *counters) sample() ops.Sample {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.s
}

func (c *counters) add(fn func(*ops.Sample)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn(&c.s)
}

// fakeHub records what is pushed to the ops channel.
type fakeHub struct {
	subscribers atomic.Int64
	mu          sync.Mutex
	pushed      [][]byte
	notify      chan struct{}
}

func newFakeHub() *fakeHub { return &fakeHub{notify: make(chan struct{}, 1)} }

func (h *fakeHub) LocalSubscribers(channel string) int {
	if channel != wire.OpsChannel {
		return 0
	}
	return int(h.subscribers.Load())
}

func (h *fakeHub) PushLocal(channel, event string, data []byte) {
	if channel != wire.OpsChannel || event != wire.EventOpsStats {
		panic(fmt.Sprintf("pushed %s on %s", event, channel))
	}
	h.mu.Lock()
	h.pushed = append(h.pushed, data)
	h.mu.Unlock()
	select {
	case h.notify <- struct{}{}:
	default:
	}
}

func (h *fakeHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pushed)
}

func (h *fakeHub) last() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pushed[len(h.pushed)-1]
}

// start starts a monitor on cfg, closed when the test ends.
func start(t *testing.T, cfg ops.Config, c *counters) *ops.Monitor {
	t.Helper()
	if cfg.Store == nil {
		cfg.Store = &fakeStore{}
	}
	if cfg.Interval == 0 {
		cfg.Interval = 20 * time.Millisecond
	}
	if c == nil {
		c = &counters{}
	}
	m := ops.New(cfg)
	m.Start(c.sample)
	t.Cleanup(m.Close)
	return m
}

// waitStats polls m's Stats until cond holds.
func waitStats(t *testing.T, m *ops.Monitor, what string, cond func(ops.Stats) bool) ops.Stats {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		st := m.Stats(t.Context())
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v: %+v", what, waitTimeout, st)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a bounded wait
	}
}

func ids(st ops.Stats) []string {
	var out []string
	for _, in := range st.Instances {
		out = append(out, in.ID)
	}
	return out
}

// TestFleet: instances sharing Heartbeats each list all of them, by id;
// one closed leaves the list of the others at once.
func TestFleet(t *testing.T) {
	beats := ops.NewMemory()
	b := start(t, ops.Config{ID: "host-b", Heartbeats: beats}, nil)
	a := start(t, ops.Config{ID: "host-a", Heartbeats: beats}, nil)
	c := start(t, ops.Config{ID: "host-c", Heartbeats: beats}, nil)
	for _, m := range []*ops.Monitor{a, b, c} {
		waitStats(t, m, "three instances", func(st ops.Stats) bool { return strings.Join(ids(st), ",") == "host-a,host-b,host-c" })
	}
	b.Close()
	if got := strings.Join(ids(a.Stats(t.Context())), ","); got != "host-a,host-c" {
		t.Fatalf("after closing host-b: %s", got)
	}
	// Its own view keeps the instance that asks, whatever the store says.
	if got := strings.Join(ids(b.Stats(t.Context())), ","); got != "host-a,host-b,host-c" {
		t.Fatalf("host-b's own view: %s", got)
	}
}

// TestFigures: an instance's heartbeat carries its counters, rates per
// second that move with them, and its version and start.
func TestFigures(t *testing.T) {
	c := &counters{}
	c.add(func(s *ops.Sample) {
		s.Connections, s.Subscriptions = 3, ops.Subscriptions{Order: 2, User: 3, Ops: 1}
		s.SlowCloses, s.RateLimited = 4, 5
	})
	m := start(t, ops.Config{ID: "host-a", Version: "v9"}, c)
	st := m.Stats(t.Context())
	self := st.Instances[0]
	if self.ID != "host-a" || self.Version != "v9" || self.Connections != 3 || self.Subscriptions != (ops.Subscriptions{Order: 2, User: 3, Ops: 1}) ||
		self.SlowCloses != 4 || self.RateLimited != 5 || self.StartedAt.IsZero() || self.SeenAt.Before(self.StartedAt) {
		t.Fatalf("instance %+v", self)
	}
	if self.FramesInPerS != 0 || self.EventsPerS != 0 {
		t.Fatalf("rates %+v before any traffic", self)
	}
	c.add(func(s *ops.Sample) { s.FramesIn, s.FramesOut, s.Events, s.EventsDelivered = 100, 200, 300, 400 })
	moved := waitStats(t, m, "rates", func(st ops.Stats) bool { return st.Instances[0].FramesInPerS > 0 }).Instances[0]
	if moved.FramesOutPerS <= moved.FramesInPerS || moved.EventsPerS <= moved.FramesOutPerS || moved.EventsDeliveredPerS <= moved.EventsPerS {
		t.Fatalf("rates %+v, want them in the counters' proportions", moved)
	}
	// Without more traffic the rates fall back to zero.
	waitStats(t, m, "rates at rest", func(st ops.Stats) bool {
		in := st.Instances[0]
		return in.FramesInPerS == 0 && in.FramesOutPerS == 0 && in.EventsPerS == 0 && in.EventsDeliveredPerS == 0
	})
}

// TestHealth: the store's and Redis's pings and the outbox's lag; a ping
// that fails or hangs is ok:false, the hanging one after PingTimeout.
func TestHealth(t *testing.T) {
	store := &fakeStore{oldest: time.Now().Add(-5 * time.Second)}
	redisErr := errors.New("redis down")
	var redisDown atomic.Bool
	m := start(t, ops.Config{Store: store, PingTimeout: 100 * time.Millisecond, Redis: func(context.Context) error {
		if redisDown.Load() {
			return redisErr
		}
		return nil
	}}, nil)
	st := m.Stats(t.Context())
	if !st.Store.OK || st.Redis == nil || !st.Redis.OK {
		t.Fatalf("store %+v, redis %+v: want both up", st.Store, st.Redis)
	}
	if lag := st.Outbox.OldestUnpublishedS; lag == nil || *lag < 5 || *lag > 5+waitTimeout.Seconds() {
		t.Fatalf("outbox lag %v, want about 5 s", lag)
	}

	redisDown.Store(true)
	store.mu.Lock()
	store.hang, store.oldest = true, time.Time{}
	store.mu.Unlock()
	st = m.Stats(t.Context())
	if st.Store.OK || st.Store.LatencyMS < 100 {
		t.Fatalf("hanging store: %+v, want not ok after the 100 ms timeout", st.Store)
	}
	if st.Redis == nil || st.Redis.OK {
		t.Fatalf("redis %+v, want down", st.Redis)
	}
	if lag := st.Outbox.OldestUnpublishedS; lag == nil || *lag != 0 {
		t.Fatalf("outbox lag %v, want 0 with nothing unpublished", lag)
	}
	store.mu.Lock()
	store.oldestErr = errors.New("store down")
	store.mu.Unlock()
	if lag := m.Stats(t.Context()).Outbox.OldestUnpublishedS; lag != nil {
		t.Fatalf("outbox lag %v, want null when the store does not answer", *lag)
	}

	// Without Redis, redis is null.
	alone := start(t, ops.Config{}, nil)
	b, err := json.Marshal(alone.Stats(t.Context()))
	if err != nil || !bytes.Contains(b, []byte(`"redis":null`)) {
		t.Fatalf("without Redis: %s, %v", b, err)
	}
}

// TestErrors: error-level messages of the logger, without their fields,
// newest first, at most DefaultErrorRing per instance and MaxErrors for
// the fleet.
func TestErrors(t *testing.T) {
	ring := ops.NewErrorRing(ops.DefaultErrorRing)
	log := zerolog.New(&bytes.Buffer{}).Hook(ring)
	log.Warn().Msg("a warning")
	log.Info().Msg("news")
	log.Error().Str("email", "ann@example.com").Str("token", "secret-token").Msg("first failure")
	log.Error().Err(errors.New("dial 10.0.0.1 failed")).Msg("second failure")
	got := ring.Last()
	if len(got) != 2 || got[0].Message != "second failure" || got[1].Message != "first failure" || got[0].At.Before(got[1].At) {
		t.Fatalf("ring %+v, want the two errors, newest first", got)
	}
	b, _ := json.Marshal(got)
	for _, secret := range []string{"ann@example.com", "secret-token", "10.0.0.1"} {
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("ring keeps a field: %s", b)
		}
	}
	for i := range 25 {
		log.Error().Msgf("failure %d", i)
	}
	got = ring.Last()
	if len(got) != ops.DefaultErrorRing || got[0].Message != "failure 24" || got[len(got)-1].Message != "failure 5" {
		t.Fatalf("full ring: %d, newest %q, oldest %q", len(got), got[0].Message, got[len(got)-1].Message)
	}
	long := strings.Repeat("é", 300)
	log.Error().Msg(long)
	if m := ring.Last()[0].Message; len(m) > 210 || !strings.HasSuffix(m, "…") || !strings.HasPrefix(long, strings.TrimSuffix(m, "…")) {
		t.Fatalf("long message kept as %q", m)
	}

	// The fleet's: every instance's, with its id, newest first, capped.
	beats := ops.NewMemory()
	var monitors []*ops.Monitor
	for i := range 3 {
		r := ops.NewErrorRing(ops.DefaultErrorRing)
		l := zerolog.New(&bytes.Buffer{}).Hook(r)
		for j := range ops.DefaultErrorRing {
			l.Error().Msgf("instance %d error %d", i, j)
		}
		monitors = append(monitors, start(t, ops.Config{ID: fmt.Sprintf("host-%d", i), Heartbeats: beats, Errors: r}, nil))
	}
	st := waitStats(t, monitors[0], "three instances", func(st ops.Stats) bool { return len(st.Instances) == 3 })
	if len(st.Errors) != ops.MaxErrors {
		t.Fatalf("%d errors, want %d", len(st.Errors), ops.MaxErrors)
	}
	re := regexp.MustCompile(`^instance (\d) error \d+$`)
	for i, e := range st.Errors {
		m := re.FindStringSubmatch(e.Message)
		if m == nil || e.Instance != "host-"+m[1] {
			t.Fatalf("error %+v: not its instance's", e)
		}
		if i > 0 && e.At.After(st.Errors[i-1].At) {
			t.Fatalf("errors not newest first at %d", i)
		}
	}
}

// TestPush: while the ops channel has subscribers here, every Interval
// the fleet's Stats go to them as ops.stats; without, nothing.
func TestPush(t *testing.T) {
	h := newFakeHub()
	c := &counters{}
	m := start(t, ops.Config{ID: "host-a", Hub: h}, c)
	// Three beats without subscribers: each beat's push was decided
	// before the next beat.
	seen := map[time.Time]bool{}
	waitStats(t, m, "three beats", func(st ops.Stats) bool {
		seen[st.Instances[0].SeenAt] = true
		return len(seen) > 3
	})
	if n := h.count(); n != 0 {
		t.Fatalf("%d pushes without subscribers", n)
	}
	h.subscribers.Store(1)
	c.add(func(s *ops.Sample) { s.Connections = 7 })
	deadline := time.After(waitTimeout)
	for {
		if h.count() > 0 {
			var st ops.Stats
			if err := json.Unmarshal(h.last(), &st); err != nil {
				t.Fatalf("ops.stats data %s: %v", h.last(), err)
			}
			if len(st.Instances) == 1 && st.Instances[0].ID == "host-a" && st.Instances[0].Connections == 7 {
				break
			}
		}
		select {
		case <-h.notify:
		case <-deadline:
			t.Fatalf("no ops.stats with the instance's figures within %v", waitTimeout)
		}
	}
}

// TestDefaultID: the host name and a random suffix, new at every start.
func TestDefaultID(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	a, b := ops.New(ops.Config{Store: &fakeStore{}}), ops.New(ops.Config{Store: &fakeStore{}})
	re := regexp.MustCompile("^" + regexp.QuoteMeta(host) + "-[0-9a-f]{6}$")
	if !re.MatchString(a.ID()) || !re.MatchString(b.ID()) || a.ID() == b.ID() {
		t.Fatalf("ids %q and %q, want %s-<6 hex digits>, each its own", a.ID(), b.ID(), host)
	}
	if a.Version() == "" {
		t.Fatal("no version")
	}
	a.Close()
	b.Close()
}
