package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
)

type readiness struct {
	status int
	Ready  bool              `json:"ready"`
	Checks map[string]string `json:"checks"`
}

func getReady(t *testing.T, url string) readiness {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := readiness{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

// waitReady polls /readyz until its redis check reads want.
func waitReady(t *testing.T, url, want string) readiness {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := getReady(t, url)
		if r.Checks["redis"] == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis readiness still %+v after 20s, want %s", r, want)
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a bounded wait
	}
}

func metric(t *testing.T, url, name string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// With REDIS_URL the instance fans out through Redis: /readyz checks it,
// metrics count its failures, and REST keeps working while it is down.
func TestRedisReadinessFollowsRedis(t *testing.T) {
	srv := redistest.StartServer(t)
	url, _ := startProgram(t, map[string]string{
		"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "o.db"),
		"REDIS_URL": "redis://" + srv.Addr + "/0",
	})
	if r := waitReady(t, url, "up"); r.status != http.StatusOK || !r.Ready {
		t.Fatalf("readyz with redis up: %+v", r)
	}
	if got := metric(t, url, "ordercast_bus_connected"); got != "1" {
		t.Errorf("ordercast_bus_connected %q, want 1", got)
	}

	srv.Stop()
	if r := waitReady(t, url, "down"); r.status != http.StatusServiceUnavailable || r.Ready || r.Checks["store"] != "up" {
		t.Fatalf("readyz with redis down: %+v", r)
	}
	if got := metric(t, url, "ordercast_bus_connected"); got != "0" {
		t.Errorf("ordercast_bus_connected %q while down, want 0", got)
	}
	if got := metric(t, url, "ordercast_bus_disconnects_total"); got == "" || got == "0" {
		t.Errorf("ordercast_bus_disconnects_total %q, want > 0", got)
	}
	body := `{"email":"a@example.com","password":"long enough pw","name":"A","role":"customer"}`
	resp, err := http.Post(url+"/api/v1/auth/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register while redis is down: %d", resp.StatusCode)
	}

	srv.Start()
	if r := waitReady(t, url, "up"); r.status != http.StatusOK {
		t.Fatalf("readyz after redis came back: %+v", r)
	}
}

// A REDIS_URL that is not redis:// or not a URL at all stops the program,
// whose message never shows the URL's password.
func TestBadRedisURLIsRefused(t *testing.T) {
	const password = "s3cret-redis-pw"
	for _, bad := range []string{"http://x", "redis://:" + password + "@host:bad/0", "redis://:" + password + "%zz@host:6379/0"} {
		env := map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "o.db"), "REDIS_URL": bad}
		var out strings.Builder
		err := run(t.Context(), func(k string) string { return env[k] }, &out, nil, false)
		if err == nil {
			t.Errorf("started with REDIS_URL %s", bad)
			continue
		}
		if !strings.Contains(err.Error(), "REDIS_URL") || strings.Contains(err.Error()+out.String(), password) || strings.Contains(err.Error()+out.String(), "%zz") {
			t.Errorf("REDIS_URL %s: %q, logs %q; want the variable named, nothing of the URL shown", bad, err, out.String())
		}
	}
}

// REDIS_CLUSTER_ADDRS selects sharded pub/sub on a Redis Cluster (three
// nodes the test starts from redis-server binaries).
func TestRedisClusterAddrsSelectsTheCluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	url, _ := startProgram(t, map[string]string{
		"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "o.db"),
		"REDIS_CLUSTER_ADDRS": strings.Join(addrs, ", "),
	})
	if r := waitReady(t, url, "up"); r.status != http.StatusOK {
		t.Fatalf("readyz on the cluster: %+v", r)
	}
}
