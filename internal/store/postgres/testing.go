package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"hash/fnv"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/ordercast/ordercast/internal/testenv"
)

// TestDatabaseURLEnv names the environment variable that points tests at a
// PostgreSQL server.
const TestDatabaseURLEnv = "TEST_DATABASE_URL"

// OpenTest opens a migrated store for a test of any package, in a fresh
// schema with a random name that is dropped when the test ends, so that
// test packages running at once never see each other's rows.
//
// Without TEST_DATABASE_URL the test is skipped, or fails when CI=true so
// that CI cannot pass without having run against PostgreSQL. A database
// that does not answer fails the test.
func OpenTest(t testing.TB) *Store {
	t.Helper()
	// Tests open many stores at once; keep each to a few connections so
	// that parallel test packages stay under max_connections.
	return openTest(t, 4)
}

// openTest is OpenTest with a pool of maxConns connections.
func openTest(t testing.TB, maxConns int32) *Store {
	t.Helper()
	url := TestURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	schema := "ordercast_test_" + randomHex(t, 8)
	exec(ctx, t, url, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		exec(ctx, t, url, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})

	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatalf("postgres.OpenTest: %s: %v", TestDatabaseURLEnv, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.MaxConns = maxConns
	// A lock of its own: the schema is private, and test packages must not
	// queue behind each other's migrations.
	h := fnv.New64a()
	h.Write([]byte(schema))
	s, err := openConfig(ctx, cfg, int64(h.Sum64()>>1))
	if err != nil {
		t.Fatalf("postgres.OpenTest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() }) // runs before the schema is dropped
	return s
}

// TestURL returns TEST_DATABASE_URL. Without it, it skips the test, or
// fails it when CI=true.
func TestURL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(TestDatabaseURLEnv)
	if url == "" {
		testenv.Missing(t, TestDatabaseURLEnv+" not set (a PostgreSQL URL such as postgres://postgres@127.0.0.1:5432/test)")
	}
	return url
}

func exec(ctx context.Context, t testing.TB, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("postgres.OpenTest: connect to %s: %v", TestDatabaseURLEnv, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("postgres.OpenTest: %s: %v", sql, err)
	}
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("postgres.OpenTest: random schema name: %v", err)
	}
	return hex.EncodeToString(b)
}
