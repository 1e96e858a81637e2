// Package postgres implements delivery.Store on PostgreSQL with pgx v5, the
// engine for several instances sharing one database.
//
// Changes to one row are serialized with row locks (SELECT … FOR UPDATE);
// idempotent order creation relies on the partial unique index on
// (customer_id, idempotency_key) with INSERT … ON CONFLICT DO NOTHING, so
// that concurrent calls with one key wait for each other and create one
// order. Migrations run under a session advisory lock, so that instances
// starting together apply them once.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/migrations"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

var _ delivery.Store = (*Store)(nil)

// Store is a delivery.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// stopPurge ends the periodic purge of refresh tokens and revocations.
	stopPurge func()
}

// defaultMaxConns sizes the pool unless the url sets pool_max_conns. A
// durable write holds its connection until its commit is flushed, and
// PostgreSQL flushes the commits waiting at once together: pgx's default
// of max(4, NumCPU) connections kept durable appends near 800/s on two
// cores, 32 gets 2,200/s (BenchmarkDurableAppend).
const defaultMaxConns = 32

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string; a search_path parameter selects the schema) and
// applies pending migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	return openConfig(ctx, cfg, lock.DefaultLockID)
}

// openConfig opens a store on cfg; migrations hold the advisory lock lockID.
func openConfig(ctx context.Context, cfg *pgxpool.Config, lockID int64) (*Store, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := s.migrate(ctx, lockID); err != nil {
		pool.Close()
		return nil, err
	}
	s.stopPurge = sqlutil.Periodic(sqlutil.RefreshPurgeInterval, func(ctx context.Context) {
		// A failed round is tried again at the next.
		_, _ = sqlutil.PurgeRounds(ctx, s.PurgeRefreshTokens)
		_, _ = sqlutil.PurgeRounds(ctx, sqlutil.PastHorizon(s.PurgeRevocations))
	})
	return s, nil
}

// migrate runs goose on a database/sql view of the pool. Another instance
// migrating at the same time holds the lock; this one polls every second
// for up to five minutes, then applies whatever is still pending (nothing).
func (s *Store) migrate(ctx context.Context, lockID int64) error {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(lockID), lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close() // releases the connections to the pool, which stays open
	err = sqlutil.Migrate(ctx, goose.DialectPostgres, db, migrations.Postgres(), goose.WithSessionLocker(locker))
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close stops the purge and closes the connection pool.
func (s *Store) Close() error {
	s.stopPurge()
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction and commits if fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Rolls back on error and on panic in fn; after Commit it is a no-op.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// queryer is what both the pool and a transaction offer.
type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// SQLSTATEs the store turns into domain errors.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

func sqlState(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func isUnique(err error) bool     { return sqlState(err) == uniqueViolation }
func isForeignKey(err error) bool { return sqlState(err) == foreignKeyViolation }
