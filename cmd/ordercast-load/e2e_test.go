package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// startServer builds cmd/ordercast and runs it on a fresh SQLite store
// with the settings the tool needs; it returns its URL and pid. (The
// server is a main package: a binary is the one way to run it whole.)
func startServer(t *testing.T) (string, int) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "ordercast")
	build := exec.Command("go", "build", "-o", bin, "../ordercast")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "HUB_ADDR=127.0.0.1:0", "DATABASE_URL=sqlite://"+filepath.Join(dir, "oc.db"),
		"RATE_LIMITS=off", "MAX_CONNS_PER_USER=0", "HUB_API_KEY=load-test-key-0123", "LOG_FORMAT=json", "LOG_LEVEL=info")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() { // reads the log until the server exits, so that it never blocks on it
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var line struct{ Message, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "serving" {
				addr <- line.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return "http://" + a, cmd.Process.Pid
	case <-time.After(60 * time.Second):
		t.Fatal("the server did not say it was serving within 60 s")
	}
	return "", 0
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
