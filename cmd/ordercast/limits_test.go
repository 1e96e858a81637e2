package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
)

func TestLimitsSettings(t *testing.T) {
	load := func(env map[string]string) (limitsConfig, error) {
		return loadLimits(func(k string) string { return env[k] })
	}
	lc, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !lc.RateLimits || lc.MaxConnsPerUser != 10 || lc.MaxConns != 18000 || lc.TrustedProxies != nil {
		t.Errorf("defaults: %+v, want rate limits on, 10 sockets per user, 18000 per instance, no proxies", lc)
	}
	lc, err = load(map[string]string{"RATE_LIMITS": "off", "MAX_CONNS_PER_USER": "0", "MAX_CONNS": "5", "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if lc.RateLimits || lc.MaxConnsPerUser != 0 || lc.MaxConns != 5 || len(lc.TrustedProxies) != 2 {
		t.Errorf("set: %+v", lc)
	}
	for _, bad := range []map[string]string{
		{"RATE_LIMITS": "maybe"},
		{"MAX_CONNS_PER_USER": "-1"},
		{"MAX_CONNS_PER_USER": "ten"},
		{"MAX_CONNS": "0"},
		{"TRUSTED_PROXIES": "10.0.0.0/40"},
	} {
		if _, err := load(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// post sends a JSON body with token and returns the status and the
// Retry-After header.
func post(t *testing.T, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// The program limits by default, and RATE_LIMITS=off lifts the limits
// for load tests: a courier's positions, 5 at once.
func TestRateLimitsAreOnByDefaultAndOffForLoadTests(t *testing.T) {
	for _, c := range []struct {
		setting string
		limited bool
	}{{"", true}, {"off", false}} {
		t.Run("RATE_LIMITS="+c.setting, func(t *testing.T) {
			base, _ := startProgram(t, map[string]string{
				"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "oc.db"), "RATE_LIMITS": c.setting,
			})
			courier := register(t, base, "bo@example.com", "courier", "")
			ts := time.Now().UnixMilli()
			for i := range 20 {
				status, retry := post(t, base+"/api/v1/couriers/me/location", courier, fmt.Sprintf(`{"lat":1,"lng":2,"ts":%d}`, ts+int64(i)))
				switch {
				case i < 5 || !c.limited:
					if status != http.StatusAccepted {
						t.Fatalf("position %d: %d", i+1, status)
					}
				case status == http.StatusTooManyRequests && retry != "":
					return // limited, as it should be
				default:
					t.Fatalf("position %d: %d (Retry-After %q), want 429 with Retry-After", i+1, status, retry)
				}
			}
			if c.limited {
				t.Error("20 positions at once were all accepted")
			}
		})
	}
}

// MAX_CONNS_PER_USER holds across two programs on one Redis.
func TestSocketsPerUserAreCappedAcrossPrograms(t *testing.T) {
	srv := redistest.StartServer(t)
	start := func() string {
		base, _ := startProgram(t, map[string]string{
			"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "oc.db"),
			"REDIS_URL": "redis://" + srv.Addr + "/0", "JWT_SECRET": "a-secret-both-instances-share-0123456789",
			"MAX_CONNS_PER_USER": "2",
		})
		return base
	}
	a, b := start(), start()
	// Both programs take the token (one JWT_SECRET); the cap counts by the
	// user's id.
	token := register(t, a, "ann@example.com", "customer", "")
	dial := func(base string) (*websocket.Conn, *http.Response) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws?access_token="+token, nil)
		if err == nil {
			t.Cleanup(func() { _ = conn.CloseNow() })
			return conn, nil
		}
		if resp == nil {
			t.Fatalf("dial: %v", err)
		}
		return nil, resp
	}
	first, _ := dial(a)
	if first == nil {
		t.Fatal("first socket refused")
	}
	if c, _ := dial(b); c == nil {
		t.Fatal("second socket refused")
	}
	c, resp := dial(b)
	if c != nil {
		t.Fatal("a third socket was upgraded")
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("third socket: %d, Retry-After %q; want 429, 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	_ = first.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, _ := dial(b); c != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the socket closed on one program freed no place on the other within 10 s")
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a bounded wait
	}
}
