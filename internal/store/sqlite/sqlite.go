// Package sqlite implements delivery.Store on SQLite (modernc.org/sqlite,
// pure Go), the default engine of a single instance.
//
// SQLite allows one writer at a time. Instead of letting concurrent writers
// collide and retry on SQLITE_BUSY, every write goes through one goroutine,
// the writer, on a pool of exactly one connection whose transactions begin
// with BEGIN IMMEDIATE: the write lock is taken before the first read of a
// transaction and writes run one after another, so a read-modify-write
// (UpdateOrder, idempotent CreateOrder, RotateRefreshToken) is serialized
// without further locking. The writer commits the writes that queued
// together, one fsync for many (group commit, writer.go). Reads outside
// transactions use a separate read-only pool, which WAL mode lets run
// alongside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/migrations"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

var _ delivery.Store = (*Store)(nil)

// busyTimeout bounds how long a connection waits for a lock held by another
// process (or by a WAL checkpoint) before SQLITE_BUSY.
const busyTimeout = 5 * time.Second

// Store is a delivery.Store on one SQLite database file.
type Store struct {
	write   *sql.DB // exactly one connection, BEGIN IMMEDIATE, the writer's
	w       *writer // nil until open started it
	read    *sql.DB // query_only connections
	tempDir string  // removed on Close when Open made the file up

	// Statements of the read pool run for every courier position (see
	// prepareHot); nil until open prepared them.
	orderByID, activeOrders *sql.Stmt
	// stopPurge ends the periodic purge of refresh tokens; nil until open
	// started it.
	stopPurge func()
}

// Options tune a Store; the zero value is the default.
type Options struct {
	// Synchronous is SQLite's synchronous mode: "full" (the default, "")
	// syncs the WAL to disk at every commit, so that a commit once
	// answered survives a power cut or a kernel crash; "normal" syncs only
	// at checkpoints, which makes each write cheaper but may lose the last
	// commits (orders already answered 201) to a power cut. A crash of the
	// process alone loses nothing in either mode.
	Synchronous string
}

// Open opens the database at path with the default Options.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith opens (creating it and its parent directory if needed) the
// SQLite database at path and applies pending migrations. The database
// and its -wal and -shm files are private to the process's user (0600),
// in a folder that is too (0700): an existing folder that holds nothing
// else is tightened to 0700. The path ":memory:" (or "") opens a fresh
// database in a temporary directory that Close removes; a real in-memory
// database cannot be shared by the two connection pools.
func OpenWith(ctx context.Context, path string, opt Options) (*Store, error) {
	switch opt.Synchronous {
	case "":
		opt.Synchronous = "full"
	case "full", "normal":
	default:
		return nil, fmt.Errorf("sqlite: synchronous %q: want full or normal", opt.Synchronous)
	}
	s := &Store{}
	if path == "" || path == ":memory:" {
		dir, err := os.MkdirTemp("", "ordercast-sqlite-")
		if err != nil {
			return nil, fmt.Errorf("sqlite: temp dir: %w", err)
		}
		s.tempDir = dir
		path = filepath.Join(dir, "ordercast.db")
	}
	if err := s.open(ctx, path, opt); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) open(ctx context.Context, path string, opt Options) error {
	if strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("sqlite: path %q: want a plain file path", path)
	}
	if err := privateFiles(path); err != nil {
		return err
	}
	wc, err := sqlite.NewConnector(dsn(path, false, opt))
	if err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	opens := &countingConnector{Connector: wc}
	s.write = sql.OpenDB(opens)
	s.write.SetMaxOpenConns(1)
	s.write.SetConnMaxIdleTime(0)
	// The first connection switches the file to WAL before any reader opens.
	if err := sqlutil.Migrate(ctx, goose.DialectSQLite3, s.write, migrations.SQLite()); err != nil {
		return fmt.Errorf("sqlite: %s: %w", path, err)
	}
	if s.read, err = sql.Open("sqlite", dsn(path, true, opt)); err != nil {
		return fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.NumCPU())
	s.read.SetMaxOpenConns(n)
	s.read.SetMaxIdleConns(n)
	if err := s.Ping(ctx); err != nil {
		return err
	}
	if err := s.prepareHot(ctx); err != nil {
		return err
	}
	s.w = startWriter(s.write, &opens.opens)
	s.stopPurge = sqlutil.Periodic(sqlutil.RefreshPurgeInterval, func(ctx context.Context) {
		// A failed round is tried again at the next.
		_, _ = sqlutil.PurgeRounds(ctx, s.PurgeRefreshTokens)
		_, _ = sqlutil.PurgeRounds(ctx, sqlutil.PastHorizon(s.PurgeRevocations))
	})
	return nil
}

// prepareHot prepares the reads behind every courier position, one
// ActiveOrdersOfCourier and one OrderByID each (hundreds a second): a
// query sent as text is parsed and planned by SQLite on every call, about
// a third of the call's time (BenchmarkLocationReads). database/sql
// prepares a *sql.Stmt once per pooled connection and reuses it; the
// driver resets it after each use, and SQLite re-prepares it by itself if
// the schema changes.
func (s *Store) prepareHot(ctx context.Context) error {
	var err error
	if s.orderByID, err = s.read.PrepareContext(ctx, orderByIDQuery); err != nil {
		return fmt.Errorf("sqlite: prepare order by id: %w", err)
	}
	if s.activeOrders, err = s.read.PrepareContext(ctx, activeOrdersQuery); err != nil {
		return fmt.Errorf("sqlite: prepare active orders: %w", err)
	}
	return nil
}

// privateFiles makes the database's folder and files private before
// SQLite opens them: the folder 0700, the database file 0600, created
// here if missing, since SQLite would create it 0644 and gives its -wal
// and -shm files the mode of the database file. Files of an older version
// are tightened. An existing folder is tightened only when it holds
// nothing but the database's files and other private files (such as the
// JWT secret): a shared folder (the working directory, /var/lib) is left
// as it is, and so is one the process may not change.
func privateFiles(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("sqlite: create directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	own := map[string]bool{}
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		own[filepath.Base(path)+suffix] = true
		err := os.Chmod(path+suffix, 0o600)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("sqlite: make %s private: %w", path+suffix, err)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	if fi.Mode().Perm()&0o077 == 0 || fi.Mode()&fs.ModeSticky != 0 {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	for _, e := range entries {
		if own[e.Name()] {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o077 != 0 {
			return nil // not ours alone
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil && !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("sqlite: make %s private: %w", dir, err)
	}
	return nil
}

// dsn returns the modernc.org/sqlite data source name of path. Pragmas are
// per connection, so they go in the DSN and apply to every new connection.
func dsn(path string, readOnly bool, opt Options) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+opt.Synchronous+")")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Set("_txlock", "immediate")
	}
	return path + "?" + q.Encode()
}

// Ping checks that both pools answer. A ping of the write pool that ctx
// interrupts makes the driver discard the writer's connection; the writer
// then forgets its orders (countingConnector).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping writer: %w", err)
	}
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping reader: %w", err)
	}
	return nil
}

// Close closes the database; a temporary database is deleted.
func (s *Store) Close() error {
	if s.stopPurge != nil {
		s.stopPurge()
	}
	if s.w != nil {
		s.w.close()
	}
	var errs []error
	for _, st := range []*sql.Stmt{s.orderByID, s.activeOrders} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Close())
	}
	if s.tempDir != "" {
		errs = append(errs, os.RemoveAll(s.tempDir))
	}
	return errors.Join(errs...)
}

// inTx runs fn in a write transaction of the writer (see writer.go) and
// returns once it committed, or with fn's error and nothing of fn written.
// fn must use the ctx it is given, which does not end the statements of a
// started transaction. The writer then forgets the orders it keeps
// (writerorders.go), since fn may have changed any.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	return s.w.do(ctx, false, fn)
}

// inOrderTx is inTx for an fn that changes no order and no restaurant
// some order shows (name, place) but as it tells the writer: tx.putOrder
// for an order as it wrote it, tx.forgetOrder for one it changed
// otherwise. Creating a restaurant, a user or a menu item changes none.
func (s *Store) inOrderTx(ctx context.Context, fn func(ctx context.Context, tx *wtx) error) error {
	return s.w.do(ctx, true, fn)
}

// queryer is what both a pool and a transaction offer.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// sqliteCode returns the extended result code of err, or 0.
func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := sqliteCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY }

// timeCol scans a TEXT time column written by sqlutil.FormatTime.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(v any) error {
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("time column: unexpected %T", v)
	}
	t, err := sqlutil.ParseTime(s)
	if err != nil {
		return err
	}
	*c.t = t
	return nil
}

// nullTimeCol scans a nullable TEXT time column; NULL leaves nil.
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(v any) error {
	if v == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(v); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// nullTimeArg is the argument of a nullable time column.
func nullTimeArg(t *time.Time) any {
	if t == nil {
		return nil
	}
	return sqlutil.FormatTime(*t)
}
