package main

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/store/postgres"
)

// buildServer builds cmd/ordercast (a main package: a binary is the one
// way to run it whole).
func buildServer(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ordercast")
	build := exec.Command("go", "build", "-o", bin, "../ordercast")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// startServer runs cmd/ordercast on a fresh SQLite store with the
// settings the tool needs; it returns its URL and pid.
func startServer(t *testing.T) (string, int) {
	t.Helper()
	srv := startServerOn(t, buildServer(t), "")
	return srv.url, srv.pid
}

// testServer is a running cmd/ordercast: where it listens, its pid, its
// store and its data folder (which holds its JWT key).
type testServer struct {
	url         string
	pid         int
	databaseURL string
	dataDir     string
}

// startServerOn runs bin, a cmd/ordercast, on databaseURL ("": a fresh
// SQLite store) with the settings the tool needs.
func startServerOn(t *testing.T, bin, databaseURL string) testServer {
	t.Helper()
	dir := t.TempDir()
	if databaseURL == "" {
		databaseURL = "sqlite://" + filepath.Join(dir, "oc.db")
	}
	in, err := newInstance("server", bin, dir, false, map[string]string{"DATABASE_URL": databaseURL,
		"RATE_LIMITS": "off", "MAX_CONNS_PER_USER": "0", "HUB_API_KEY": "load-test-key-0123", "LOG_FORMAT": "json", "LOG_LEVEL": "info"})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := in.stop(syscall.SIGTERM, time.Minute); err != nil {
			t.Error(err)
		}
	})
	return testServer{url: in.url, pid: in.pid(), databaseURL: databaseURL, dataDir: filepath.Join(dir, "data-server")}
}

func TestScenariosAgainstTheServer(t *testing.T) {
	url, pid := startServer(t)
	base := config{target: "ordercast", url: url, apiKey: "load-test-key-0123", users: 2, setupConcurrency: 4, dialConcurrency: 16,
		duration: 700 * time.Millisecond, warmUp: 200 * time.Millisecond, drain: 10 * time.Second, pids: []int{pid}}
	check := func(t *testing.T, res *result, conns int) {
		t.Helper()
		if res.Connections != conns || len(res.Problems) != 0 || len(res.Processes) != 1 || res.Processes[0].CPU < 0 || res.Processes[0].RSS <= 0 {
			t.Fatalf("%+v", res)
		}
		if d := res.Deliveries; d != nil && (d.Lost != 0 || d.Duplicates != 0 || d.InWindow == 0 || d.Latency.P50 <= 0) {
			t.Fatalf("%+v", d)
		}
	}

	t.Run("orders", func(t *testing.T) {
		cfg := base
		cfg.scenario, cfg.channels, cfg.subscribers, cfg.rate = "orders", 10, 2, 200
		res, err := run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, 20)
		if res.Publishes.Acked == 0 || res.Publishes.Failed != 0 || res.Deliveries.Expected != 2*res.Publishes.Acked || res.CPUPer100k <= 0 {
			t.Fatalf("%+v %+v", res.Publishes, res.Deliveries)
		}
	})
	t.Run("durable", func(t *testing.T) {
		cfg := base
		cfg.scenario, cfg.channels, cfg.subscribers, cfg.rate, cfg.durable = "orders", 5, 2, 100, true
		res, err := run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, 10)
		if res.Deliveries.Late != 0 { // seqs are the server's: in order on every subscription
			t.Fatalf("%+v", res.Deliveries)
		}
	})
	t.Run("broadcast", func(t *testing.T) {
		cfg := base
		cfg.scenario, cfg.subscribers, cfg.inflight = "broadcast", 20, 2
		res, err := run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, 20)
		if res.Publishes.GaveUp != 0 {
			t.Fatalf("%+v", res.Publishes)
		}
	})
	t.Run("idle", func(t *testing.T) { // and without a pid: from the server's /metrics
		cfg := base
		cfg.pids, cfg.scenario, cfg.conns = nil, "idle", 30
		res, err := run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, 30)
		if res.Processes[0].Name != url+"/metrics" {
			t.Fatalf("%+v", res.Processes)
		}
	})
	t.Run("lifecycle", func(t *testing.T) {
		cfg := base
		cfg.scenario, cfg.workers = "lifecycle", 2
		res, err := run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, 2)
		if l := res.Lifecycle; l.Changes == 0 || l.Failed != 0 || l.CommitToSocket.Count == 0 || res.Deliveries.Late != 0 {
			t.Fatalf("%+v %+v", l, res.Deliveries)
		}
	})
	t.Run("location", func(t *testing.T) {
		cfg := base
		cfg.scenario, cfg.couriers, cfg.duration = "location", 2, 2*time.Second
		res, err := run(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		check(t, res, 6)
	})
}

// A short soak over its own Redis, schema and two instances, with one
// fault of each kind: every party applies every durable event of its
// orders exactly once and in order, the sockets come back after the
// instances' stops, and both instances settle back at their baseline.
func TestSoakWithOneFaultOfEachKind(t *testing.T) {
	dbURL := postgres.TestURL(t)
	redisServer := redistest.ServerBinary(t)
	cfg := config{target: "ordercast", scenario: "soak", binary: buildServer(t), databaseURL: dbURL, redisServer: redisServer,
		serverLogLevel: "warn", duration: 30 * time.Second, conns: 80, users: 4, restaurants: 2, staff: 2, couriers: 8, maxActive: 3,
		rate: 4, workers: 100, cancelShare: 0.2, drain: 30 * time.Second, settle: 30 * time.Second, sampleEvery: time.Second,
		redisDown: time.Second, setupConcurrency: 4, dialConcurrency: 16}
	res, err := run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	res.print(&out)
	t.Log("\n" + out.String())
	st := res.Soak
	if len(st.Failures) != 0 {
		t.Fatalf("failures: %q", st.Failures)
	}
	if d := st.Durable; d.Expected == 0 || d.Applied != d.Expected || d.Lost != 0 || d.Duplicates != 0 || st.Committed == 0 || res.Connections != 80 {
		t.Fatalf("durable %+v, committed %d, %d sockets", d, st.Committed, res.Connections)
	}
	if st.Orders["delivered"] == 0 || st.Orders["cancelled"] == 0 || st.Chat["over the websocket"] == 0 || st.Chat["over REST"] == 0 ||
		st.Typing.Sent == 0 || st.Positions.Acked == 0 {
		t.Fatalf("orders %v, chat %v, typing %+v, positions %+v", st.Orders, st.Chat, st.Typing, st.Positions)
	}
	var kinds []string
	for _, f := range st.Faults {
		kinds = append(kinds, f.Kind)
		if f.Err != "" {
			t.Errorf("fault %+v", f)
		}
	}
	if !slices.Equal(kinds, []string{"redis", "term", "kill"}) {
		t.Fatalf("faults %v", kinds)
	}
	// SIGKILL drops A's sockets without a close frame; SIGTERM closes B's
	// with 1012.
	if st.Reconnects["connection lost (no close frame)"] == 0 || st.Reconnects["1012 server restarting"] == 0 {
		t.Fatalf("reconnects %v", st.Reconnects)
	}
	for _, in := range st.Instances {
		// Each restarted mid-run, and carried sockets in both lives.
		if !in.Settled || len(in.Lives) != 2 || !strings.HasPrefix(in.Lives[1].Note, "after its restart") {
			t.Fatalf("instance %s: settled %v, lives %+v", in.Name, in.Settled, in.Lives)
		}
		for _, l := range in.Lives {
			if l.Peak.Goroutines <= l.Baseline.Goroutines || l.Peak.FDs <= l.Baseline.FDs {
				t.Fatalf("instance %s: no load in %+v", in.Name, l)
			}
		}
	}
}
