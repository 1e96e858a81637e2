package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// The outbox side of the event log (internal/outbox, migration 00003).

// RelayPending hands publish, oldest first, up to limit events that are
// still unpublished and were created in [from, to), and marks published
// those publish accepted, stopping at its first error (returned). The
// events stay locked (FOR UPDATE SKIP LOCKED) until then, so that the
// relays of other instances skip them instead of publishing them twice.
func (s *Store) RelayPending(ctx context.Context, from, to time.Time, limit int, publish func(delivery.Event) error) (int, error) {
	relayed := 0
	var publishErr error
	err := s.inTx(ctx, func(tx *txn) error {
		var events []delivery.Event
		b := &pgx.Batch{}
		b.Queue(`
			SELECT order_id, seq, type, data, created_at FROM order_events
			WHERE NOT published AND created_at >= $1 AND created_at < $2
			ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`, from, to, limit).Query(func(rows pgx.Rows) error {
			var err error
			events, err = pgx.CollectRows(rows, scanEvent)
			return err
		})
		if err := tx.send(ctx, b); err != nil {
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
		// The marks and the COMMIT in one round trip.
		b = &pgx.Batch{}
		if len(done) > 0 {
			b.Queue(markPublishedSQL, publishedKeys(done)...).Fn = execFn(wrapErr("mark published"))
		}
		return tx.commit(ctx, b)
	})
	if err != nil {
		return 0, sqlutil.Wrap("postgres: relay pending events", err)
	}
	return relayed, publishErr
}

func scanEvent(row pgx.CollectableRow) (delivery.Event, error) {
	var ev delivery.Event
	var data []byte
	if err := row.Scan(&ev.OrderID, &ev.Seq, &ev.Type, &data, &ev.CreatedAt); err != nil {
		return ev, err
	}
	ev.Data, ev.CreatedAt = data, ev.CreatedAt.UTC()
	return ev, nil
}

// MarkPublished marks events (by OrderID and Seq; nothing else is read)
// as published.
func (s *Store) MarkPublished(ctx context.Context, events []delivery.Event) error {
	if len(events) == 0 {
		return nil
	}
	if _, err := s.pool.Exec(ctx, markPublishedSQL, publishedKeys(events)...); err != nil {
		return fmt.Errorf("postgres: mark events published: %w", err)
	}
	return nil
}

// markPublishedSQL marks published the events whose order IDs and seqs
// publishedKeys returns.
const markPublishedSQL = `
	UPDATE order_events SET published = true
	WHERE (order_id, seq) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[])) AND NOT published`

func publishedKeys(events []delivery.Event) []any {
	orders, seqs := make([]int64, len(events)), make([]int64, len(events))
	for i, ev := range events {
		orders[i], seqs[i] = int64(ev.OrderID), ev.Seq
	}
	return []any{orders, seqs}
}

// ExpirePending marks up to limit unpublished events created before
// before as published without publishing them, and returns how many: past
// the relay's horizon, subscribers have resumed from the log long since,
// and a late push would only be noise.
func (s *Store) ExpirePending(ctx context.Context, before time.Time, limit int) (int, error) {
	tag, err := s.pool.Exec(ctx, `
		UPDATE order_events SET published = true WHERE id IN (
			SELECT id FROM order_events WHERE NOT published AND created_at < $1
			ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: expire pending events: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// OldestUnpublished returns when the oldest unpublished event was
// created, and false when every event is published.
func (s *Store) OldestUnpublished(ctx context.Context) (time.Time, bool, error) {
	var created time.Time
	// By id, on the partial index of unpublished events: ids follow
	// creation.
	err := s.pool.QueryRow(ctx, `SELECT created_at FROM order_events WHERE NOT published ORDER BY id LIMIT 1`).Scan(&created)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("postgres: oldest unpublished event: %w", err)
	}
	return created.UTC(), true, nil
}
