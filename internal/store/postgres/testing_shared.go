package postgres

import (
	"context"
	"hash/fnv"
	"testing"
	"time"
)

// OpenTestShared opens n stores on one fresh schema, each with a pool of
// its own, as n instances of one deployment share a database: for
// multi-instance tests. Like OpenTest, it skips without TEST_DATABASE_URL
// (fails under CI=true) and drops the schema when the test ends.
func OpenTestShared(t testing.TB, n int) []*Store {
	t.Helper()
	first := OpenTest(t)
	stores := []*Store{first}
	cfg := first.pool.Config() // a copy; search_path names the schema
	h := fnv.New64a()
	h.Write([]byte(cfg.ConnConfig.RuntimeParams["search_path"]))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range n - 1 {
		s, err := openConfig(ctx, cfg.Copy(), int64(h.Sum64()>>1))
		if err != nil {
			t.Fatalf("postgres.OpenTestShared: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() }) // before the schema is dropped
		stores = append(stores, s)
	}
	return stores
}

// SharedTestURL returns TEST_DATABASE_URL pointed at a fresh migrated
// schema (its search_path), for tests that start whole programs sharing
// one database as the instances of a deployment do. Like OpenTest, it
// skips without TEST_DATABASE_URL (fails under CI=true) and drops the
// schema when the test ends: after programs started later have stopped.
func SharedTestURL(t testing.TB) string {
	t.Helper()
	s := openTest(t, 1) // migrates now, so the programs find nothing pending
	schema := s.pool.Config().ConnConfig.RuntimeParams["search_path"]
	u, err := WithSearchPath(TestURL(t), schema)
	if err != nil {
		t.Fatalf("postgres.SharedTestURL: %s: %v", TestDatabaseURLEnv, err)
	}
	return u
}
