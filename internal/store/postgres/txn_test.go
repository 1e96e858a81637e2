package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
)

// TestTxn: whatever ends a pipelined transaction early (a statement's
// error in the batch that carries the COMMIT, an error the function let
// pass, a failed COMMIT it let pass, a panic, a cancelled context)
// commits nothing, and the connection goes back to the pool rolled back
// rather than dropped; nothing runs after the COMMIT.
func TestTxn(t *testing.T) {
	s := openTest(t, 1)
	ctx := context.Background()
	if _, err := s.pool.Exec(ctx, `CREATE TABLE txn_test (id int PRIMARY KEY); INSERT INTO txn_test VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	rows := func(t *testing.T) int {
		t.Helper()
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM txn_test`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// lockAndInsert locks row 1 (with BEGIN, in one round trip) and
	// queues in b an insert of id, the next statement.
	lockAndInsert := func(ctx context.Context, tx *txn, b *pgx.Batch, id int) error {
		lock := &pgx.Batch{}
		lock.Queue(`SELECT 1 FROM txn_test WHERE id = 1 FOR UPDATE`).Fn = execFn(wrapErr("lock"))
		if err := tx.send(ctx, lock); err != nil {
			return err
		}
		b.Queue(`INSERT INTO txn_test VALUES ($1)`, id).Fn = execFn(wrapErr("insert"))
		return nil
	}
	conns := s.pool.Stat().NewConnsCount()
	check := func(t *testing.T) {
		t.Helper()
		if n := rows(t); n != 1 {
			t.Errorf("%d rows, want 1: something committed", n)
		}
		if n := s.pool.Stat().NewConnsCount(); n != conns {
			t.Errorf("%d connections opened, want %d: the connection was not rolled back", n, conns)
		}
	}
	errDup := errors.New("duplicate")
	// queueDuplicate adds an insert of the row that is already there,
	// whose unique violation comes back as errDup.
	queueDuplicate := func(b *pgx.Batch) {
		b.Queue(`INSERT INTO txn_test VALUES (1)`).Fn = execFn(func(err error) error {
			if isUnique(err) {
				return errDup
			}
			return err
		})
	}

	t.Run("error in the last batch", func(t *testing.T) {
		err := s.inTx(ctx, func(tx *txn) error {
			b := &pgx.Batch{}
			if err := lockAndInsert(ctx, tx, b, 2); err != nil {
				return err
			}
			queueDuplicate(b)
			return tx.commit(ctx, b)
		})
		if !errors.Is(err, errDup) {
			t.Fatalf("got %v, want the unique violation", err)
		}
		check(t)
	})
	t.Run("error let pass", func(t *testing.T) {
		err := s.inTx(ctx, func(tx *txn) error {
			_, _ = tx.Exec(ctx, `INSERT INTO txn_test VALUES (1)`)
			return nil
		})
		if !errors.Is(err, pgx.ErrTxCommitRollback) {
			t.Fatalf("got %v, want ErrTxCommitRollback", err)
		}
		check(t)
	})
	t.Run("failed commit let pass", func(t *testing.T) {
		err := s.inTx(ctx, func(tx *txn) error {
			b := &pgx.Batch{}
			if err := lockAndInsert(ctx, tx, b, 6); err != nil {
				return err
			}
			queueDuplicate(b)
			_ = tx.commit(ctx, b)
			return nil
		})
		if !errors.Is(err, errDup) {
			t.Fatalf("got %v, want the commit's unique violation", err)
		}
		check(t)
	})
	t.Run("panic", func(t *testing.T) {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			_ = s.inTx(ctx, func(tx *txn) error {
				b := &pgx.Batch{}
				if err := lockAndInsert(ctx, tx, b, 3); err != nil {
					return err
				}
				if err := tx.send(ctx, b); err != nil {
					return err
				}
				panic("in the transaction")
			})
		}()
		check(t)
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		err := s.inTx(ctx, func(tx *txn) error {
			b := &pgx.Batch{}
			if err := lockAndInsert(ctx, tx, b, 4); err != nil {
				return err
			}
			cancel()
			return tx.commit(ctx, b)
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		check(t)
	})
	t.Run("statements after commit", func(t *testing.T) {
		err := s.inTx(ctx, func(tx *txn) error {
			if err := tx.commit(ctx, nil); err != nil {
				return err
			}
			b := &pgx.Batch{}
			b.Queue(`INSERT INTO txn_test VALUES (7)`).Fn = execFn(wrapErr("insert"))
			if err := tx.send(ctx, b); !errors.Is(err, errCommitted) {
				t.Errorf("send after commit: got %v, want errCommitted", err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO txn_test VALUES (8)`); !errors.Is(err, errCommitted) {
				t.Errorf("Exec after commit: got %v, want errCommitted", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		check(t)
	})
	t.Run("committed", func(t *testing.T) {
		err := s.inTx(ctx, func(tx *txn) error {
			b := &pgx.Batch{}
			if err := lockAndInsert(ctx, tx, b, 5); err != nil {
				return err
			}
			return tx.commit(ctx, b)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := rows(t); n != 2 {
			t.Fatalf("%d rows, want 2", n)
		}
	})
}

// TestNotFoundKeepsStatements: an order that does not exist fails the
// write with ENOTFOUND but not its batch, whose error would make pgx
// drop the batch's prepared statements (and prepare them again on the
// next write). One connection: the statement is looked for where it ran.
func TestNotFoundKeepsStatements(t *testing.T) {
	s := openTest(t, 1)
	ctx := context.Background()
	const missing = delivery.ID(1 << 40)
	prepared := func(t *testing.T, query string) bool {
		t.Helper()
		// A cached statement that was dropped is deallocated before the
		// connection's next query, this one.
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement = $1`,
			query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	wantNotFound := func(t *testing.T, err error) {
		t.Helper()
		want := "order " + missing.String() + " not found"
		if delivery.ErrorCode(err) != delivery.ENOTFOUND || delivery.ErrorMessage(err) != want {
			t.Fatalf("got %v, want ENOTFOUND %q", err, want)
		}
	}
	_, _, err := s.UpdateOrder(ctx, missing, func(*delivery.Order) (delivery.Change, error) {
		t.Error("mutate called for an order that does not exist")
		return delivery.Change{}, nil
	})
	wantNotFound(t, err)
	if !prepared(t, ordersForUpdateQuery) {
		t.Error("UpdateOrder: the orders' locking read is no longer prepared")
	}
	_, err = s.AppendMessage(ctx, delivery.Message{OrderID: missing, ClientMsgID: "m1", Text: "hi"},
		func(delivery.Order) error {
			t.Error("allow called for an order that does not exist")
			return nil
		})
	wantNotFound(t, err)
	if !prepared(t, orderForUpdateQuery) {
		t.Error("AppendMessage: the order's locking read is no longer prepared")
	}
}
