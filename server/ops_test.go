package server_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/ops"
	"github.com/ordercast/ordercast/internal/testnet"
	"github.com/ordercast/ordercast/internal/wire"
)

const statsPath = "/api/v1/ops/stats"

// opsStats is GET /ops/stats as p, which must answer 200.
func (e *testEnv) opsStats(p party) ops.Stats {
	e.t.Helper()
	var st ops.Stats
	e.must(200, "GET", statsPath, p.Token, nil).decode(e.t, &st)
	return st
}

// fastOps beats every 50 ms, so that tests wait for figures briefly.
func fastOps(cfg *app.Config) { cfg.Ops.Interval = 50 * time.Millisecond }

// keys returns the keys of a JSON object, sorted.
func keys(t *testing.T, raw json.RawMessage) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not an object: %s", raw)
	}
	return slices.Sorted(maps.Keys(m))
}

// TestOpsStatsAdminOnly: GET /ops/stats is 401 without a token, 403
// forbidden for every role but admin, and for an admin the shape of
// API.md with this instance's figures. On both engines.
func TestOpsStatsAdminOnly(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv(fastOps)
		w := e.newWorld()
		if r := e.do("GET", statsPath, "", nil); r.Status != 401 || r.errorCode(t) != "unauthorized" {
			t.Fatalf("no token: %d %s", r.Status, r.Body)
		}
		for name, p := range map[string]party{"customer": w.Customer, "restaurant": w.Restaurant, "courier": w.Courier} {
			if r := e.do("GET", statsPath, p.Token, nil); r.Status != 403 || r.errorCode(t) != "forbidden" {
				t.Errorf("%s: %d %s, want 403 forbidden", name, r.Status, r.Body)
			}
		}

		r := e.must(200, "GET", statsPath, e.admin().Token, nil)
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q, want no-store", cc)
		}
		var body struct {
			Instances []json.RawMessage `json:"instances"`
			Store     json.RawMessage   `json:"store"`
			Redis     json.RawMessage   `json:"redis"`
			Outbox    json.RawMessage   `json:"outbox"`
			Errors    json.RawMessage   `json:"errors"`
		}
		r.decode(t, &body)
		if got := keys(t, r.Body); !slices.Equal(got, []string{"errors", "instances", "outbox", "redis", "store"}) {
			t.Fatalf("keys %v", got)
		}
		if len(body.Instances) != 1 {
			t.Fatalf("instances %s, want this one alone (no Redis)", r.Body)
		}
		if got := keys(t, body.Instances[0]); !slices.Equal(got, []string{"connections", "events_delivered_per_s", "events_per_s",
			"frames_in_per_s", "frames_out_per_s", "id", "rate_limited", "seen_at", "slow_closes", "started_at", "subscriptions", "version"}) {
			t.Fatalf("instance keys %v", got)
		}
		if string(body.Redis) != "null" {
			t.Errorf("redis %s, want null without Redis", body.Redis)
		}
		if got := keys(t, body.Store); !slices.Equal(got, []string{"latency_ms", "ok"}) {
			t.Errorf("store keys %v", got)
		}
		if got := keys(t, body.Outbox); !slices.Equal(got, []string{"oldest_unpublished_s"}) {
			t.Errorf("outbox keys %v", got)
		}
		if string(body.Errors) == "null" {
			t.Errorf("errors null, want a list")
		}
		var inst struct {
			Subscriptions json.RawMessage `json:"subscriptions"`
			StartedAt     string          `json:"started_at"`
			SeenAt        string          `json:"seen_at"`
		}
		if err := json.Unmarshal(body.Instances[0], &inst); err != nil {
			t.Fatal(err)
		}
		if got := keys(t, inst.Subscriptions); !slices.Equal(got, []string{"dispatch", "ops", "order", "restaurant", "track", "user"}) {
			t.Errorf("subscription kinds %v", got)
		}
		for what, v := range map[string]string{"started_at": inst.StartedAt, "seen_at": inst.SeenAt} {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				t.Errorf("%s %q: not RFC 3339", what, v)
			}
		}

		var st ops.Stats
		r.decode(t, &st)
		self := st.Instances[0]
		if self.ID != e.App.Ops.ID() || self.Version == "" || self.StartedAt.IsZero() || self.SeenAt.Before(self.StartedAt) {
			t.Errorf("instance %+v, want this one (%s), with a version and its times", self, e.App.Ops.ID())
		}
		if !st.Store.OK || st.Store.LatencyMS < 0 {
			t.Errorf("store %+v, want up", st.Store)
		}
	})
}

// opsFrames decodes the ops.stats events among frames.
func opsFrames(t *testing.T, frames []frame) []ops.Stats {
	t.Helper()
	var out []ops.Stats
	for _, f := range frames {
		if f.Type != "event" || f.Channel != wire.OpsChannel {
			continue
		}
		if f.Event != wire.EventOpsStats || f.Seq != 0 {
			t.Errorf("on ops: %s seq %d, want ops.stats without seq", f.Event, f.Seq)
		}
		var st ops.Stats
		if err := json.Unmarshal(f.Data, &st); err != nil {
			t.Errorf("ops.stats data %s: %v", f.Data, err)
		}
		out = append(out, st)
	}
	return out
}

// waitOps waits until an ops.stats c received after its first skip
// ones satisfies cond, and returns it.
func waitOps(t *testing.T, c subscriber, skip int, what string, cond func(ops.Instance) bool) ops.Instance {
	t.Helper()
	var found ops.Instance
	c.waitUntil(what, func(frames []frame) bool {
		all := opsFrames(t, frames)
		for _, st := range all[min(skip, len(all)):] {
			if len(st.Instances) == 1 && cond(st.Instances[0]) {
				found = st.Instances[0]
				return true
			}
		}
		return false
	})
	return found
}

// TestOpsChannel: the ops channel is refused (forbidden) to every role
// but admin, on the websocket and SSE alike; an admin on either gets
// ops.stats every interval, the data of GET /ops/stats, with figures
// that move with the traffic: connections as sockets open, frames in as
// a client sends, events as an order is placed. On both engines.
func TestOpsChannel(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newRealtimeEnvOn(t, open(t), fastOps)
			w := e.newWorld()
			for role, p := range map[string]party{"customer": w.Customer, "restaurant": w.Restaurant, "courier": w.Courier} {
				c := e.dial(p)
				c.mustFail(wire.CodeForbidden, map[string]any{"type": "subscribe", "channel": wire.OpsChannel})
				s := e.openSSE(p, "channels="+wire.OpsChannel)
				if code := s.refusal(wire.OpsChannel); code != wire.CodeForbidden {
					t.Errorf("%s over SSE: %s, want forbidden", role, code)
				}
				e.barrier(c)
				e.barrierOf(s)
				if n := len(c.events(wire.OpsChannel)) + len(s.events(wire.OpsChannel)); n != 0 {
					t.Errorf("%s was given %d ops events", role, n)
				}
			}

			admin := e.admin()
			ws := e.dial(admin)
			ws.subscribe(wire.OpsChannel)
			first := waitOps(t, ws, 0, "ops.stats", func(in ops.Instance) bool { return in.Subscriptions.Ops == 1 })
			if first.ID != e.App.Ops.ID() {
				t.Fatalf("ops.stats of %s, want this instance's (%s)", first.ID, e.App.Ops.ID())
			}
			seen := len(opsFrames(t, ws.received()))
			for range 3 {
				e.dial(w.Customer)
			}
			waitOps(t, ws, seen, "connections up by 3", func(in ops.Instance) bool { return in.Connections >= first.Connections+3 })

			seen = len(opsFrames(t, ws.received()))
			for range 5 {
				ws.subscribe(wire.DispatchChannel) // acked, changes nothing
			}
			waitOps(t, ws, seen, "frames in", func(in ops.Instance) bool { return in.FramesInPerS > 0 && in.FramesOutPerS > 0 })

			seen = len(opsFrames(t, ws.received()))
			e.place(w)
			waitOps(t, ws, seen, "events published and delivered", func(in ops.Instance) bool {
				return in.EventsPerS > 0 && in.EventsDeliveredPerS > 0
			})

			// An admin's stream gets them too.
			s := e.openSSE(admin, "channels="+wire.OpsChannel)
			waitOps(t, s, 0, "ops.stats on the stream", func(in ops.Instance) bool { return in.Subscriptions.Ops == 2 })
		})
	}
}

// TestOpsOutboxLag: an event its committer could not publish shows as
// the outbox's lag, and the failed publish among the last errors; an
// instance that publishes and marks its events shows none. On both
// engines.
func TestOpsOutboxLag(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		dead := newEnv(func(cfg *app.Config) {
			cfg.Bus = losingBus{cfg.Bus}
			cfg.Outbox.Interval = time.Hour // no relay round within the test
		})
		admin := dead.admin()
		if lag := dead.opsStats(admin).Outbox.OldestUnpublishedS; lag == nil || *lag != 0 {
			t.Fatalf("lag %v before any order, want 0", lag)
		}
		placed := time.Now()
		dead.place(dead.newWorld())
		var st ops.Stats
		waitFor(t, "outbox lag", func() bool {
			st = dead.opsStats(admin)
			return st.Outbox.OldestUnpublishedS != nil && *st.Outbox.OldestUnpublishedS > 0
		})
		if lag := *st.Outbox.OldestUnpublishedS; lag > time.Since(placed).Seconds()+1 {
			t.Fatalf("lag %v s, older than the order", lag)
		}
		found := false
		for _, e := range st.Errors {
			found = found || (e.Message == "publish" && e.Instance == dead.App.Ops.ID() && !e.At.Before(placed.Add(-time.Second)))
		}
		if !found {
			t.Errorf("errors %+v, want the failed publish", st.Errors)
		}

		live := newEnv()
		admin = live.admin()
		live.place(live.newWorld())
		waitFor(t, "no outbox lag", func() bool {
			lag := live.opsStats(admin).Outbox.OldestUnpublishedS
			return lag != nil && *lag == 0
		})
	})
}

// TestOpsFleet: two instances on Redis each list both; one shut down
// leaves the list at once (it deletes its heartbeat), one cut off from
// Redis once its heartbeat expired, while its own view still shows
// itself and Redis down.
func TestOpsFleet(t *testing.T) {
	c := newCluster(t, 3)
	heartbeat := func(cfg *app.Config) { cfg.Ops.Interval, cfg.Ops.TTL = 50*time.Millisecond, 500*time.Millisecond }
	proxy := testnet.StartProxy(t, c.redisAddr())
	a := c.start(0, instanceOpts{edit: heartbeat})
	b := c.start(1, instanceOpts{edit: heartbeat})
	cut := c.start(2, instanceOpts{edit: heartbeat, redisAddr: proxy.Addr})
	admin := a.admin()
	listed := func(e *instance) []string {
		var out []string
		for _, in := range e.opsStats(admin).Instances {
			out = append(out, in.ID)
		}
		return out
	}
	all := []string{a.App.Ops.ID(), b.App.Ops.ID(), cut.App.Ops.ID()}
	slices.Sort(all)
	for _, e := range []*instance{a, b, cut} {
		waitFor(t, "every instance listed", func() bool { return slices.Equal(listed(e), all) })
	}
	st := a.opsStats(admin)
	if st.Redis == nil || !st.Redis.OK {
		t.Fatalf("redis %+v, want up", st.Redis)
	}

	if err := b.App.Shutdown(5*time.Second, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := listed(a); slices.Contains(got, b.App.Ops.ID()) {
		t.Fatalf("after its shutdown %s is still listed: %v", b.App.Ops.ID(), got)
	}

	proxy.Cut()
	waitFor(t, "the cut-off instance gone", func() bool { return !slices.Contains(listed(a), cut.App.Ops.ID()) })
	if got := listed(a); !slices.Equal(got, []string{a.App.Ops.ID()}) {
		t.Fatalf("listed %v, want %s alone", got, a.App.Ops.ID())
	}
	own := cut.opsStats(admin)
	if len(own.Instances) != 1 || own.Instances[0].ID != cut.App.Ops.ID() || own.Redis == nil || own.Redis.OK {
		t.Fatalf("the cut-off instance's own view: %+v, redis %+v; want itself, Redis down", own.Instances, own.Redis)
	}
}

// TestOpsChannelAcrossFleet: an admin's socket on either instance gets
// ops.stats listing every instance, pushed by its own instance without
// the bus: while they come, neither instance publishes or receives a
// thing on Redis.
func TestOpsChannelAcrossFleet(t *testing.T) {
	c := newCluster(t, 2)
	heartbeat := func(cfg *app.Config) { cfg.Ops.Interval = 50 * time.Millisecond }
	a, b := c.start(0, instanceOpts{edit: heartbeat}), c.start(1, instanceOpts{edit: heartbeat})
	admin := a.admin()
	onA, onB := a.dial(admin), b.dial(admin)
	a.barrier(onA)
	b.barrier(onB)
	published, received := a.Bus.Stats().Published+b.Bus.Stats().Published, a.Bus.Stats().Received+b.Bus.Stats().Received
	want := []string{a.App.Ops.ID(), b.App.Ops.ID()}
	slices.Sort(want)
	for _, ws := range []*wsClient{onA, onB} {
		ws.subscribe(wire.OpsChannel)
		ws.waitUntil("three ops.stats listing both", func(frames []frame) bool {
			n := 0
			for _, st := range opsFrames(t, frames) {
				var got []string
				for _, in := range st.Instances {
					got = append(got, in.ID)
				}
				if slices.Equal(got, want) {
					n++
				}
			}
			return n >= 3
		})
	}
	if p, r := a.Bus.Stats().Published+b.Bus.Stats().Published, a.Bus.Stats().Received+b.Bus.Stats().Received; p != published || r != received {
		t.Fatalf("the bus carried %d publishes and %d receipts meanwhile, want none", p-published, r-received)
	}
}
