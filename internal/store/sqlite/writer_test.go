package sqlite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// holdWriter starts a write that blocks the writer until the returned
// release is called, and waits until the writer runs it.
func holdWriter(t *testing.T, s *Store) (release func() error) {
	t.Helper()
	running, unblock := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.inTx(context.Background(), func(context.Context, *wtx) error {
			close(running)
			<-unblock
			return nil
		})
	}()
	<-running
	return func() error {
		close(unblock)
		return <-done
	}
}

func newUser(ctx context.Context, s *Store, email string) (delivery.User, error) {
	return s.CreateUser(ctx, delivery.User{Email: email, Name: email, Role: delivery.RoleCustomer, PasswordHash: "h"}, delivery.Restaurant{})
}

// TestWriterCancelQueued: a caller whose context ends while its write
// waits for the writer returns at once with ctx.Err(), and its write never
// runs.
func TestWriterCancelQueued(t *testing.T) {
	s := OpenTest(t)
	release := holdWriter(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := newUser(ctx, s, "queued@example.com")
		errc <- err
	}()
	waitQueued(t, s, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled queued write: %v, want context.Canceled", err)
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if _, err := newUser(t.Context(), s, "after@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserByEmail(t.Context(), "queued@example.com"); delivery.ErrorCode(err) != delivery.ENOTFOUND {
		t.Fatalf("user of the cancelled write: %v, want ENOTFOUND", err)
	}
}

// TestWriterCancelStarted: once its write started, a caller whose context
// ends gets the outcome of its batch: committed.
func TestWriterCancelStarted(t *testing.T) {
	s := OpenTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	started, proceed := make(chan struct{}), make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- s.inTx(ctx, func(ctx context.Context, tx *wtx) error {
			close(started)
			<-proceed
			_, err := tx.ExecContext(ctx, `INSERT INTO restaurants (name, created_at) VALUES ('late', ?)`, "2026-01-01T00:00:00.000000Z")
			return err
		})
	}()
	<-started
	cancel()
	close(proceed)
	if err := <-errc; err != nil {
		t.Fatalf("started write, cancelled: %v, want committed", err)
	}
	list, err := s.ListRestaurants(t.Context())
	if err != nil || len(list) != 1 {
		t.Fatalf("restaurants %v, %v: want the one written after the cancellation", list, err)
	}
}

// TestWriterPanic: a panic in a write's function reaches its caller, and
// the writer goes on.
func TestWriterPanic(t *testing.T) {
	s := OpenTest(t)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Fatalf("recovered %v, want the function's panic", p)
			}
		}()
		_ = s.inTx(t.Context(), func(ctx context.Context, tx *wtx) error {
			if _, err := tx.ExecContext(ctx, `INSERT INTO restaurants (name, created_at) VALUES ('panic', ?)`, "2026-01-01T00:00:00.000000Z"); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	if _, err := newUser(t.Context(), s, "after@example.com"); err != nil {
		t.Fatalf("write after a panic: %v", err)
	}
	if list, err := s.ListRestaurants(t.Context()); err != nil || len(list) != 0 {
		t.Fatalf("restaurants %v, %v: want none, the panicking write rolled back", list, err)
	}
}

// TestWriterClose: a write queued when the store closes is either
// committed or refused, and one after Close is refused.
func TestWriterClose(t *testing.T) {
	s, err := Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriter(t, s)
	errc := make(chan error, 1)
	go func() {
		_, err := newUser(t.Context(), s, "queued@example.com")
		errc <- err
	}()
	waitQueued(t, s, 1)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil && !errors.Is(err, errClosed) {
		t.Fatalf("write queued at Close: %v, want committed or %v", err, errClosed)
	}
	if _, err := newUser(t.Context(), s, "late@example.com"); !errors.Is(err, errClosed) {
		t.Fatalf("write after Close: %v, want %v", err, errClosed)
	}
}

// waitQueued waits until n requests wait in the writer's queue.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(s.w.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued after 10 s, want %d", len(s.w.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriterKeepsStatements: a transaction runs the statements earlier
// ones prepared twice without preparing them again; a statement prepared
// once takes no slot, and past maxStmts the least recently used gives way.
func TestWriterKeepsStatements(t *testing.T) {
	s := OpenTest(t)
	if _, err := newUser(t.Context(), s, "first@example.com"); err != nil {
		t.Fatal(err)
	}
	run := func(fn func(ctx context.Context, tx *wtx) error) {
		t.Helper()
		if err := s.inTx(t.Context(), fn); err != nil {
			t.Fatal(err)
		}
	}
	exec := func(queries ...string) {
		t.Helper()
		run(func(ctx context.Context, tx *wtx) error {
			for _, q := range queries {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		})
	}
	const hot = `SELECT 'hot'`
	for i := range maxStmts + 10 {
		exec(hot, fmt.Sprintf(`SELECT %d`, i))
	}
	common := func(i int) string { return fmt.Sprintf(`SELECT 'common', %d`, i) }
	for i := range maxStmts + 10 {
		exec(hot, common(i))
		exec(hot, common(i))
	}
	run(func(ctx context.Context, tx *wtx) error {
		if slices.Contains(tx.fresh, `SAVEPOINT request`) {
			t.Errorf("the transaction prepared %q again", tx.fresh)
		}
		for _, q := range []string{`SAVEPOINT request`, hot, common(maxStmts + 9)} {
			if _, ok := tx.w.stmts[q]; !ok {
				t.Errorf("the writer does not keep %q", q)
			}
		}
		for _, q := range []string{`SELECT 0`, `SELECT 1`, common(0)} {
			if _, ok := tx.w.stmts[q]; ok {
				t.Errorf("the writer keeps %q", q)
			}
		}
		if n := len(tx.w.stmts); n != maxStmts {
			t.Errorf("the writer keeps %d statements, want %d", n, maxStmts)
		}
		return nil
	})
}
