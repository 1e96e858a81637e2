package server_test

import (
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/ops"
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
