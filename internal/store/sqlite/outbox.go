package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// The outbox side of the event log (internal/outbox, migration 00003).
// Write transactions are serialized (BEGIN IMMEDIATE), which is what keeps
// two relays from publishing one event twice.

// RelayPending hands publish, oldest first, up to limit events that are
// still unpublished and were created in [from, to), and marks published
// those publish accepted, stopping at its first error (returned).
func (s *Store) RelayPending(ctx context.Context, from, to time.Time, limit int, publish func(delivery.Event) error) (int, error) {
	relayed := 0
	var publishErr error
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		rows, err := tx.QueryContext(ctx, `
			SELECT `+eventColumns+` FROM order_events
			WHERE published = 0 AND created_at >= ? AND created_at < ?
			ORDER BY id LIMIT ?`, sqlutil.FormatTime(from), sqlutil.FormatTime(to), limit)
		if err != nil {
			return err
		}
		events, err := sqlutil.Collect(rows, scanEvent)
		if err != nil {
			return err
		}
		var done []delivery.Event
		for _, ev := range events {
			if publishErr = publish(ev); publishErr != nil {
				break
			}
			done = append(done, ev)
		}
		relayed = len(done)
		return markPublished(ctx, tx, done)
	})
	if err != nil {
		return 0, sqlutil.Wrap("sqlite: relay pending events", err)
	}
	return relayed, publishErr
}

// MarkPublished marks events (by OrderID and Seq; nothing else is read)
// as published.
func (s *Store) MarkPublished(ctx context.Context, events []delivery.Event) error {
	if len(events) == 0 {
		return nil
	}
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error { return markPublished(ctx, tx, events) })
	return sqlutil.Wrap("sqlite: mark events published", err)
}

// markPublished marks each event by its own run of one statement, which
// the writer keeps prepared: a statement listing the batch's events would
// be another statement to parse for each batch size.
func markPublished(ctx context.Context, tx *wtx, events []delivery.Event) error {
	for _, ev := range events {
		_, err := tx.ExecContext(ctx, `UPDATE order_events SET published = 1
			WHERE order_id = ? AND seq = ? AND published = 0`, int64(ev.OrderID), ev.Seq)
		if err != nil {
			return fmt.Errorf("mark published %s/%d: %w", ev.OrderID, ev.Seq, err)
		}
	}
	return nil
}

// ExpirePending marks up to limit unpublished events created before
// before as published without publishing them, and returns how many.
func (s *Store) ExpirePending(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `UPDATE order_events SET published = 1 WHERE id IN (
			SELECT id FROM order_events WHERE published = 0 AND created_at < ? ORDER BY id LIMIT ?)`,
			sqlutil.FormatTime(before), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sqlite: expire pending events: %w", err)
	}
	return int(n), nil
}

// OldestUnpublished returns when the oldest unpublished event was
// created, and false when every event is published.
func (s *Store) OldestUnpublished(ctx context.Context) (time.Time, bool, error) {
	var created string
	// By id, on the partial index of unpublished events: ids follow
	// creation.
	err := s.read.QueryRowContext(ctx, `SELECT created_at FROM order_events WHERE published = 0 ORDER BY id LIMIT 1`).Scan(&created)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: oldest unpublished event: %w", err)
	}
	t, err := sqlutil.ParseTime(created)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("sqlite: oldest unpublished event: %w", err)
	}
	return t, true, nil
}
