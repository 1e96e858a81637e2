package postgres

import (
	"context"
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT order_id, seq, type, data, created_at FROM order_events
			WHERE NOT published AND created_at >= $1 AND created_at < $2
			ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED`, from, to, limit)
		if err != nil {
			return err
		}
		events, err := pgx.CollectRows(rows, scanEvent)
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
	return sqlutil.Wrap("postgres: mark events published", markPublished(ctx, s.pool, events))
}

func markPublished(ctx context.Context, q queryer, events []delivery.Event) error {
	if len(events) == 0 {
		return nil
	}
	orders, seqs := make([]int64, len(events)), make([]int64, len(events))
	for i, ev := range events {
		orders[i], seqs[i] = int64(ev.OrderID), ev.Seq
	}
	_, err := q.Exec(ctx, `
		UPDATE order_events SET published = true
		WHERE (order_id, seq) IN (SELECT * FROM unnest($1::bigint[], $2::bigint[])) AND NOT published`,
		orders, seqs)
	if err != nil {
		return fmt.Errorf("mark published: %w", err)
	}
	return nil
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
