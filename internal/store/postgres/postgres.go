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
	"time"

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
	// updaters run UpdateOrder's calls in batches (batch.go).
	updaters *updaterPool
	// stopPurge ends the periodic purge of refresh tokens and revocations.
	stopPurge func()
}

// defaultMaxConns sizes the pool unless the url sets pool_max_conns. A
// durable write holds its connection until its commit is flushed, and
// PostgreSQL flushes the commits waiting at once together: pgx's default
// of max(4, NumCPU) connections kept durable appends near 800/s on two
// cores, 32 got 2,200/s (BenchmarkDurableAppend); with two round trips a
// transaction (txn) 32 still does better than 16 or 64. UpdateOrder now
// takes one connection per loop (batch.go); order creations, chat
// messages and the other writes still hold one each.
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
	s.startUpdaters()
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

// Close stops the purge and the updaters, after their current batches,
// and closes the connection pool.
func (s *Store) Close() error {
	s.stopPurge()
	s.updaters.close()
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction on one connection of the pool and
// commits if fn returns nil and has not committed itself (txn.commit).
func (s *Store) inTx(ctx context.Context, fn func(tx *txn) error) error {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Release drops a connection that is still in a transaction or
	// broken instead of handing it out again.
	defer c.Release()
	tx := &txn{conn: c.Conn()}
	// Rolls back on error and on panic in fn; after the commit it does
	// nothing.
	defer tx.rollback(ctx)
	if err := fn(tx); err != nil {
		return err
	}
	return tx.commit(ctx, nil)
}

// txn is a transaction whose statements can go out in batches, one round
// trip each (pgx pipelines a batch's statements and syncs once at its
// end). Its BEGIN goes with its first batch, its COMMIT with its last, so
// that a durable append is two round trips (lock and read; write and
// commit) instead of five: on a machine that PostgreSQL shares with the
// server, each round trip is CPU on both sides, and a connection held
// for fewer of them commits sooner.
//
// After an error in a batch PostgreSQL skips the batch's remaining
// statements, a COMMIT among them too, and the transaction is rolled
// back. A batch that carries the COMMIT must therefore hold no check
// made by the client (a callback refusing a result the server returned
// without an error): by the time it runs, the COMMIT has run too.
type txn struct {
	conn      *pgx.Conn
	begun     bool  // BEGIN sent
	committed bool  // COMMIT sent: its outcome is the transaction's
	commitErr error // the outcome of the COMMIT, returned by each commit
}

// errCommitted refuses a statement after the COMMIT: it would run on its
// own, outside the transaction.
var errCommitted = errors.New("statement after commit")

// rollbackTimeout bounds the ROLLBACK, which runs even when the caller's
// context is done.
const rollbackTimeout = 5 * time.Second

// begin sends BEGIN on its own if no batch did yet: for the statements
// sent one at a time.
func (tx *txn) begin(ctx context.Context) error {
	if tx.committed {
		return errCommitted
	}
	if tx.begun {
		return nil
	}
	tx.begun = true
	if _, err := tx.conn.Exec(ctx, "begin"); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return nil
}

// send sends b's statements, after BEGIN if it is the first round trip,
// and runs their callbacks; it returns the first error, a statement's or
// a callback's. A callback's error fails the batch, and pgx then drops
// the prepared statements of all of it: a callback records what is not
// a statement's error (no such row) for its caller to check after send.
func (tx *txn) send(ctx context.Context, b *pgx.Batch) error {
	if tx.committed {
		return errCommitted
	}
	return tx.sendBatch(ctx, b)
}

// sendBatch is send without the check that the COMMIT is not sent yet.
func (tx *txn) sendBatch(ctx context.Context, b *pgx.Batch) error {
	if !tx.begun {
		tx.begun = true
		first := &pgx.QueuedQuery{SQL: "begin", Fn: execFn(func(err error) error { return fmt.Errorf("begin: %w", err) })}
		b.QueuedQueries = append([]*pgx.QueuedQuery{first}, b.QueuedQueries...)
	}
	return tx.conn.SendBatch(ctx, b).Close()
}

// commit sends b's statements (none if b is nil) followed by COMMIT. A
// transaction that had failed answers the COMMIT with ROLLBACK, which is
// pgx.ErrTxCommitRollback as with pgx.Tx. Called again, it sends nothing
// and returns the first call's error, so that inTx reports a failed
// COMMIT that fn let pass.
func (tx *txn) commit(ctx context.Context, b *pgx.Batch) error {
	if tx.committed {
		return tx.commitErr
	}
	tx.committed = true
	if b == nil {
		b = &pgx.Batch{}
	}
	var acked bool
	b.Queue("commit").Fn = func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err == nil && tag.String() == "ROLLBACK" {
			err = pgx.ErrTxCommitRollback
		}
		if err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		acked = true
		return nil
	}
	tx.commitErr = tx.sendBatch(ctx, b)
	if acked {
		// The server committed. An error after that (a FATAL on the
		// Sync behind the COMMIT, when the backend is terminated while
		// it flushes the commit) is the connection's, which the pool
		// then drops, not the transaction's.
		tx.commitErr = nil
	}
	return tx.commitErr
}

// rollback rolls back what is still open: nothing after a COMMIT that
// went through, the transaction after an error (a batch's COMMIT was
// skipped, or never sent). It runs when ctx is done too, for at most
// rollbackTimeout. If ROLLBACK fails the connection's state is unknown,
// and it is closed, as pgx.Tx does (a ROLLBACK that failed on the
// network has closed it already).
func (tx *txn) rollback(ctx context.Context) {
	if !tx.begun || tx.conn.IsClosed() || tx.conn.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if _, err := tx.conn.Exec(ctx, "rollback"); err != nil {
		_ = tx.conn.Close(ctx)
	}
}

func (tx *txn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := tx.begin(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return tx.conn.Exec(ctx, sql, args...)
}

func (tx *txn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := tx.begin(ctx); err != nil {
		return nil, err
	}
	return tx.conn.Query(ctx, sql, args...)
}

func (tx *txn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := tx.begin(ctx); err != nil {
		return errRow{err}
	}
	return tx.conn.QueryRow(ctx, sql, args...)
}

// errRow is the row of a statement that could not be sent.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// execFn is the callback of a queued statement whose rows are not read:
// fail turns its error into the one the batch returns.
func execFn(fail func(error) error) func(pgx.BatchResults) error {
	return func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fail(err)
		}
		return nil
	}
}

// wrapErr is the fail of execFn that prefixes the error with what.
func wrapErr(what string) func(error) error {
	return func(err error) error { return fmt.Errorf("%s: %w", what, err) }
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
