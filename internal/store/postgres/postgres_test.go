package postgres

import (
	"context"
	"io/fs"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3/lock"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/migrations"
	"github.com/ordercast/ordercast/internal/store/storetest"
)

func TestStore(t *testing.T) {
	TestURL(t) // skip or fail once, not in every subtest
	storetest.Run(t, func(t *testing.T) delivery.Store { return OpenTest(t) })
}

func TestOutboxStore(t *testing.T) {
	TestURL(t)
	storetest.RunOutbox(t, func(t *testing.T) storetest.OutboxStore { return OpenTest(t) })
}

// TestConcurrentMigrations: instances starting at once, with the shared
// production lock id, all open and apply each migration once.
func TestConcurrentMigrations(t *testing.T) {
	first := OpenTest(t) // a fresh, migrated schema; roll it back to empty
	ctx := context.Background()
	var schema string
	if err := first.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	// Recreating the schema empties it whatever tables later migrations add.
	ident := pgx.Identifier{schema}.Sanitize()
	if _, err := first.pool.Exec(ctx, `DROP SCHEMA `+ident+` CASCADE; CREATE SCHEMA `+ident); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(TestURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.MaxConns = 2

	const n = 4
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			s, err := openConfig(ctx, cfg.Copy(), lock.DefaultLockID)
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	var applied int
	if err := first.pool.QueryRow(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	files, err := fs.Glob(migrations.Postgres(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(files) {
		t.Fatalf("%d migrations recorded, want %d", applied, len(files))
	}
}
