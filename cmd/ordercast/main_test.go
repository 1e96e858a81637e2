package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/store/postgres"
)

// TestMain hashes passwords at bcrypt's lowest cost, as the server's tests
// do: at full cost under -race every sign-up and login of the browser
// tests costs a second of CPU, and on a loaded machine they ran into the
// request timeout. TestGracefulShutdownFinishesInFlight, which needs one
// slow request, raises it for itself.
var fullBcryptCost = auth.BcryptCost

func TestMain(m *testing.M) {
	auth.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// startProgram runs the whole program on port 0 with env and returns its
// base URL and a stop function that cancels it (as SIGTERM does) and
// returns run's error.
func startProgram(t *testing.T, env map[string]string) (string, func() error) {
	t.Helper()
	return startProgramWith(t, env, io.Discard, false)
}

// startProgramWith is startProgram writing the program's output to stdout,
// and seeding the demo accounts first when demo is set.
func startProgramWith(t *testing.T, env map[string]string, stdout io.Writer, demo bool) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() { done <- run(ctx, getenv, stdout, listening, demo) }()
	select {
	case addr := <-listening:
		var once sync.Once
		var err error
		stop := func() error {
			once.Do(func() { cancel(); err = <-done })
			return err
		}
		t.Cleanup(func() { _ = stop() })
		return "http://" + addr, stop
	case err := <-done:
		cancel()
		t.Fatalf("program did not start: %v", err)
	case <-time.After(90 * time.Second): // bcrypt under -race on a loaded machine
		cancel()
		t.Fatal("program did not start within 90s")
	}
	return "", nil
}

func TestDefaultsServeOnSQLiteAndKeepTheSecret(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(dir, "ordercast.db")}
	url, stop := startProgram(t, env)
	body := `{"email":"a@example.com","password":"long enough pw","name":"A","role":"customer"}`
	resp, err := http.Post(url+"/api/v1/auth/register", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d", resp.StatusCode)
	}
	if err := stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	secret, err := os.ReadFile(filepath.Join(dir, "jwt_secret"))
	if err != nil || len(secret) < 32 {
		t.Fatalf("generated secret not kept in the data folder: %v", err)
	}

	// Restarted on the same folder: the user and the secret are still there.
	url, _ = startProgram(t, env)
	login := `{"email":"a@example.com","password":"long enough pw"}`
	resp, err = http.Post(url+"/api/v1/auth/login", "application/json", strings.NewReader(login))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login after restart: %d", resp.StatusCode)
	}
	again, _ := os.ReadFile(filepath.Join(dir, "jwt_secret"))
	if string(again) != string(secret) {
		t.Fatal("secret changed across restarts")
	}
}

func TestPostgresURLSelectsPostgres(t *testing.T) {
	url := postgres.TestURL(t)
	base, _ := startProgram(t, map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": url, "DATA_DIR": t.TempDir()})
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("readyz on postgres: %d", resp.StatusCode)
	}
}

func TestBadConfigIsRefused(t *testing.T) {
	for _, env := range []map[string]string{
		{"DATABASE_URL": "mysql://x"},
		{"LOG_LEVEL": "loud"},
		{"LOG_FORMAT": "xml"},
		{"HUB_API_KEY": "short"},
		{"MAX_ACTIVE_PER_COURIER": "0"},
	} {
		if err := run(context.Background(), func(k string) string { return env[k] }, io.Discard, nil, false); err == nil {
			t.Errorf("%v: started", env)
		}
	}
}

func TestGracefulShutdownFinishesInFlight(t *testing.T) {
	auth.BcryptCost = fullBcryptCost
	t.Cleanup(func() { auth.BcryptCost = bcrypt.MinCost })
	url, stop := startProgram(t, map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "o.db")})
	// A slow request: a register runs bcrypt at full cost (~0.2 s); stop
	// while it runs, and it must still be answered.
	result := make(chan int, 1)
	go func() {
		body := `{"email":"b@example.com","password":"long enough pw","name":"B","role":"courier"}`
		resp, err := http.Post(url+"/api/v1/auth/register", "application/json", strings.NewReader(body))
		if err != nil {
			result <- 0
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	waitForRequestInFlight(t, url)
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := <-result; got != 201 {
		t.Fatalf("in-flight request answered %d, want 201", got)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// waitForRequestInFlight polls /metrics until a request besides the poll
// itself is being served.
func waitForRequestInFlight(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "ordercast_http_requests_in_flight "); ok && v != "1" && v != "0" {
				return
			}
		}
		time.Sleep(5 * time.Millisecond) // poll interval
	}
	t.Fatal("no request in flight within 10s")
}

func TestMetricsCoverHTTPHubAndOutbox(t *testing.T) {
	url, _ := startProgram(t, map[string]string{"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "o.db")})
	if resp, err := http.Get(url + "/healthz"); err == nil {
		resp.Body.Close()
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`ordercast_http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		"ordercast_hub_connections 0",
		"ordercast_hub_delivered_total",
		`ordercast_hub_shed_total{class="location"} 0`,
		`ordercast_hub_shed_total{class="publish"} 0`,
		"ordercast_outbox_relayed_total",
		"go_goroutines",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// Profiles are served on the metrics listener only: /debug/pprof/ answers
// there, and is not found on the API's port.
func TestPprofOnTheMetricsListenerOnly(t *testing.T) {
	out := newNotifyingBuffer()
	url, _ := startProgramWith(t, map[string]string{
		"HUB_ADDR": "127.0.0.1:0", "METRICS_ADDR": "127.0.0.1:0",
		"DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "o.db"),
	}, out, false)
	out.waitFor(t, `"serving metrics"`)
	var metricsURL string
	for _, line := range strings.Split(out.String(), "\n") {
		var entry struct{ Message, Addr string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Message == "serving metrics" {
			metricsURL = "http://" + entry.Addr
		}
	}
	get := func(u string) (int, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(metricsURL + "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("metrics listener /debug/pprof/: %d %.200s", code, body)
	}
	if code, body := get(metricsURL + "/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile") {
		t.Errorf("metrics listener goroutine profile: %d %.200s", code, body)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/heap"} {
		if code, _ := get(url + path); code != http.StatusNotFound {
			t.Errorf("API port %s: %d, want 404", path, code)
		}
	}
}
