package main

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/ops"
	"github.com/ordercast/ordercast/internal/store/postgres"
)

// opsStats is GET /ops/stats on base as token.
func opsStats(t *testing.T, base, token string) ops.Stats {
	t.Helper()
	var st ops.Stats
	if err := json.Unmarshal(apiCall(t, base, token, "GET", "/ops/stats", ""), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func instanceIDs(st ops.Stats) []string {
	var out []string
	for _, in := range st.Instances {
		out = append(out, in.ID)
	}
	return out
}

// waitStats polls /ops/stats until cond holds.
func waitStats(t *testing.T, base, token, what string, cond func(ops.Stats) bool) ops.Stats {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := opsStats(t, base, token)
		if cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20s: %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond) // poll interval of a bounded wait
	}
}

// Two programs sharing PostgreSQL and Redis, named by INSTANCE_ID: each
// lists both with its version; one stopped leaves the list at once; with
// Redis down the survivor shows it so, and the failed publish among its
// last errors.
func TestOpsFleetOfTwoPrograms(t *testing.T) {
	srv := redistest.StartServer(t)
	env := map[string]string{
		"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": postgres.SharedTestURL(t), "HUB_API_KEY": "an-api-key-of-the-test",
		"REDIS_URL": "redis://" + srv.Addr + "/0", "JWT_SECRET": "a-secret-both-instances-share-0123456789",
	}
	start := func(id string) (string, func() error) {
		own := maps.Clone(env)
		own["DATA_DIR"], own["INSTANCE_ID"] = t.TempDir(), id
		return startProgram(t, own)
	}
	alpha, _ := start("alpha")
	beta, stopBeta := start("beta")
	if out, err := runAdmin(t, env, "an admin password\n", "create", "--email", "ops@example.com", "--name", "Ops"); err != nil {
		t.Fatalf("admin create: %v %s", err, out)
	}
	var s struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(apiCall(t, alpha, "", "POST", "/auth/login", `{"email":"ops@example.com","password":"an admin password"}`), &s); err != nil {
		t.Fatal(err)
	}
	admin := s.AccessToken
	if code := status(t, alpha, register(t, alpha, "ann@example.com", "customer", ""), "GET", "/ops/stats", ""); code != http.StatusForbidden {
		t.Fatalf("a customer's /ops/stats: %d, want 403", code)
	}
	for _, base := range []string{alpha, beta} {
		st := waitStats(t, base, admin, "both instances", func(st ops.Stats) bool { return slices.Equal(instanceIDs(st), []string{"alpha", "beta"}) })
		for _, in := range st.Instances {
			if in.Version == "" || in.StartedAt.IsZero() {
				t.Errorf("instance %+v: no version or start", in)
			}
		}
		if st.Redis == nil || !st.Redis.OK || !st.Store.OK {
			t.Errorf("redis %+v, store %+v: want both up", st.Redis, st.Store)
		}
	}

	if err := stopBeta(); err != nil {
		t.Fatal(err)
	}
	if ids := instanceIDs(opsStats(t, alpha, admin)); !slices.Equal(ids, []string{"alpha"}) {
		t.Fatalf("after beta stopped: %v, want alpha alone", ids)
	}

	srv.Stop()
	if code, body := request(t, alpha, env["HUB_API_KEY"], "POST", "/publish", `{"channel":"dispatch","event":"news"}`); code != http.StatusServiceUnavailable {
		t.Fatalf("publish with Redis down: %d %s", code, body)
	}
	waitStats(t, alpha, admin, "Redis down and the failed publish", func(st ops.Stats) bool {
		failed := slices.ContainsFunc(st.Errors, func(e ops.Error) bool { return e.Instance == "alpha" && e.Message == "publish" })
		return st.Redis != nil && !st.Redis.OK && failed
	})
}
