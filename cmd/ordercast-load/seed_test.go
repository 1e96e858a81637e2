package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/postgres"
)

// TestMain makes the seeder's one hash at bcrypt's lowest cost: under
// -race a full-cost hash takes seconds of CPU. The server's own hashes
// keep its cost; a login compares at the cost the hash was made with.
func TestMain(m *testing.M) {
	auth.BcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// With -seed the location scenario (customers, a restaurant and couriers,
// all seeded) delivers every position, on either engine, and a seeded
// account is one of the server's: its token is accepted, its password
// signs in, and its token is refused once its session ended in the store.
func TestSeededScenario(t *testing.T) {
	bin := buildServer(t)
	t.Run("sqlite", func(t *testing.T) {
		testSeeded(t, startServerOn(t, bin, ""))
	})
	t.Run("postgres", func(t *testing.T) {
		adminURL := postgres.TestURL(t)
		schema := "ordercast_seed_" + randomHex(6)
		if err := execSQL(t.Context(), adminURL, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // after the server stopped: cleanups run last first
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := execSQL(ctx, adminURL, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
				t.Error(err)
			}
		})
		dbURL, err := postgres.WithSearchPath(adminURL, schema)
		if err != nil {
			t.Fatal(err)
		}
		testSeeded(t, startServerOn(t, bin, dbURL))
	})
}

func testSeeded(t *testing.T, srv testServer) {
	cfg := config{target: "ordercast", scenario: "location", url: srv.url, users: 2, couriers: 3, setupConcurrency: 4, dialConcurrency: 16,
		duration: 2 * time.Second, warmUp: 200 * time.Millisecond, drain: 10 * time.Second, pids: []int{srv.pid},
		seed: srv.databaseURL, seedDataDir: srv.dataDir}
	res, err := run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := res.Deliveries; res.Connections != 9 || len(res.Problems) != 0 || d == nil || d.Expected == 0 || d.Lost != 0 || d.Duplicates != 0 {
		t.Fatalf("%+v %+v", res, res.Deliveries)
	}

	s, err := openSeeder(t.Context(), srv.databaseURL, "", srv.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	cfg, err = cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	o := newOrdercast(cfg)
	o.seed = s
	sess, err := o.register(t.Context(), "restaurant", 0)
	if err != nil {
		t.Fatal(err)
	}
	var me session
	if err := o.do(t.Context(), "GET", "/api/v1/me", sess.AccessToken, nil, &me.User, 200); err != nil || me.User != sess.User || sess.User.RestaurantID == "" {
		t.Fatalf("GET /me as %+v: %+v, %v", sess.User, me.User, err)
	}
	var login session
	if err := o.do(t.Context(), "POST", "/api/v1/auth/login", "", map[string]any{"email": fmt.Sprintf("load-%x-restaurant-0@example.com", o.run), "password": loadPassword}, &login, 200); err != nil || login.User != sess.User {
		t.Fatalf("login: %+v, %v", login.User, err)
	}
	id, err := delivery.ParseID(sess.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	// As ordercast admin revoke without a bus: the server learns it from
	// the store, which it reads every second.
	if sids, err := s.store.RevokeUserSessions(t.Context(), id, time.Now()); err != nil || len(sids) != 2 {
		t.Fatalf("revoked %v, %v; want the seeded session and the login's", sids, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := o.do(t.Context(), "GET", "/api/v1/me", sess.AccessToken, nil, nil, 200)
		var se *statusError
		if errors.As(err, &se) && se.status == http.StatusUnauthorized {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET /me after the session ended: %v, want 401", err)
		}
		if err := sleepCtx(t.Context(), 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
}

// -seed refuses, before any account is made, what could only give
// tokens the server refuses or a store it does not use, and leaves no
// database file behind for a wrong path.
func TestSeedRefuses(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "oc.db")
	base := config{target: "ordercast", scenario: "location", url: "http://127.0.0.1:1", seed: "sqlite://" + db, seedDataDir: dir}
	for _, tc := range []struct {
		name string
		edit func(*config)
		want string
	}{
		{"no key", func(c *config) { c.seedDataDir = "" }, "give -seed-data-dir"},
		{"no jwt_secret in the data folder", func(c *config) {}, "jwt_secret"},
		{"a short JWT_SECRET", func(c *config) { c.seedSecret = "short" }, "JWT_SECRET must be at least"},
		{"no database", func(c *config) { c.seedSecret = strings.Repeat("k", 40) }, "oc.db"},
		{"another scheme", func(c *config) { c.seedSecret, c.seed = strings.Repeat("k", 40), "mysql://u:secret@host/db" }, `scheme "mysql"`},
		{"the soak", func(c *config) { c.scenario = "soak" }, "the soak"},
		{"centrifugo", func(c *config) { c.target = "centrifugo" }, "ordercast's scenarios"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.edit(&cfg)
			_, err := run(t.Context(), cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret@") {
				t.Fatalf("err %v, want one that says %q", err, tc.want)
			}
		})
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Fatalf("the data folder holds %d entries (%v), want none", len(entries), err)
	}
}
