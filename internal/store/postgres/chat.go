package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

const messageColumns = `order_id, seq, author_id, author_role, text, client_msg_id, created_at`

func scanMessage(row pgx.Row) (delivery.Message, error) {
	var m delivery.Message
	err := row.Scan(&m.OrderID, &m.Seq, &m.AuthorID, &m.AuthorRole, &m.Text, &m.ClientMsgID, &m.CreatedAt)
	m.CreatedAt = m.CreatedAt.UTC()
	return m, err
}

// AppendMessage stores m as the order's next event under the order's row
// lock. Retries of one message queue on that lock, and each statement
// after it sees what the previous holder committed, so the
// client_msg_id lookup finds an earlier copy; UNIQUE (order_id,
// client_msg_id) stands behind that.
func (s *Store) AppendMessage(ctx context.Context, m delivery.Message, allow func(delivery.Order) error) (delivery.PostedMessage, error) {
	var p delivery.PostedMessage
	var allowErr error
	err := s.inTx(ctx, func(tx *txn) error {
		// The lookup is a statement of its own after the lock's: it
		// runs once the lock is held, in one round trip with it.
		var o delivery.Order
		var stored delivery.Message
		orderFound, storedFound := false, false
		b := &pgx.Batch{}
		queueOrder(b, m.OrderID, &o, &orderFound)
		b.Queue(`SELECT `+messageColumns+` FROM chat_messages WHERE order_id = $1 AND client_msg_id = $2`,
			m.OrderID, m.ClientMsgID).QueryRow(func(row pgx.Row) error {
			var err error
			stored, err = scanMessage(row)
			switch {
			case err == nil:
				storedFound = true
			case !errors.Is(err, pgx.ErrNoRows):
				return fmt.Errorf("look up client_msg_id: %w", err)
			}
			return nil
		})
		if err := tx.send(ctx, b); err != nil {
			return err
		}
		if !orderFound {
			return orderNotFound(m.OrderID)
		}
		if storedFound {
			p = delivery.PostedMessage{Order: o, Message: stored}
			return nil
		}
		if allowErr = allow(o); allowErr != nil {
			return allowErr
		}
		o, m, ev, err := sqlutil.MessageEvent(o, m, sqlutil.Now())
		if err != nil {
			return err
		}
		b = &pgx.Batch{}
		b.Queue(`UPDATE orders SET seq = $1 WHERE id = $2`, o.Seq, o.ID).Fn = execFn(wrapErr("advance seq"))
		queueEvent(b, ev)
		b.Queue(`INSERT INTO chat_messages (`+messageColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			m.OrderID, m.Seq, m.AuthorID, m.AuthorRole, m.Text, m.ClientMsgID, m.CreatedAt).Fn = execFn(func(err error) error {
			// The violation is the server's: it fails the batch whatever
			// this returns, which only words the error.
			if isForeignKey(err) {
				return delivery.Errorf(delivery.ENOTFOUND, "author not found")
			}
			return fmt.Errorf("insert message: %w", err)
		})
		if err := tx.commit(ctx, b); err != nil {
			return err
		}
		p = delivery.PostedMessage{Order: o, Message: m, Event: ev, Created: true}
		return nil
	})
	if allowErr != nil {
		return delivery.PostedMessage{}, allowErr
	}
	if err != nil {
		return delivery.PostedMessage{}, sqlutil.Wrap("postgres: append message", err)
	}
	return p, nil
}

// MessagesBefore reads the page newest first, so that LIMIT keeps the
// newest, and returns it in ascending order.
func (s *Store) MessagesBefore(ctx context.Context, orderID delivery.ID, before int64, limit int) ([]delivery.Message, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+messageColumns+` FROM chat_messages
		WHERE order_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
		orderID, sqlutil.BeforeBound(before), delivery.PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("postgres: messages: %w", err)
	}
	list, err := pgx.CollectRows(rows, rowTo(scanMessage))
	if err != nil {
		return nil, fmt.Errorf("postgres: messages: %w", err)
	}
	return sqlutil.Ascending(list), nil
}

// MarkRead upserts the mark only upward in one statement: the conflict
// update's WHERE makes a lower or equal seq return no row, which is how
// "moved" is known; the row lock of the upsert serializes racing marks.
func (s *Store) MarkRead(ctx context.Context, r delivery.ReadMark) (delivery.ReadMark, bool, error) {
	moved := true
	err := s.pool.QueryRow(ctx, `
		INSERT INTO chat_reads (order_id, user_id, seq, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (order_id, user_id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
		WHERE excluded.seq > chat_reads.seq
		RETURNING seq`, r.OrderID, r.UserID, r.Seq, sqlutil.Now()).Scan(&r.Seq)
	if errors.Is(err, pgx.ErrNoRows) {
		moved = false
		err = s.pool.QueryRow(ctx, `SELECT seq FROM chat_reads WHERE order_id = $1 AND user_id = $2`,
			r.OrderID, r.UserID).Scan(&r.Seq)
	}
	if isForeignKey(err) {
		return delivery.ReadMark{}, false, delivery.Errorf(delivery.ENOTFOUND, "order or user not found")
	}
	if err != nil {
		return delivery.ReadMark{}, false, fmt.Errorf("postgres: mark read: %w", err)
	}
	return r, moved, nil
}

// UnreadCounts counts, in one query for all of orderIDs, the messages of
// others above the user's mark (no mark: all of them).
func (s *Store) UnreadCounts(ctx context.Context, userID delivery.ID, orderIDs []delivery.ID) (map[delivery.ID]int, error) {
	counts := make(map[delivery.ID]int)
	if len(orderIDs) == 0 {
		return counts, nil
	}
	ids := make([]int64, len(orderIDs))
	for i, id := range orderIDs {
		ids[i] = int64(id)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT m.order_id, count(*) FROM chat_messages m
		LEFT JOIN chat_reads r ON r.order_id = m.order_id AND r.user_id = $1
		WHERE m.order_id = ANY($2) AND m.author_id <> $1 AND m.seq > coalesce(r.seq, 0)
		GROUP BY m.order_id`, userID, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres: unread counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id delivery.ID
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("postgres: unread counts: %w", err)
		}
		counts[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: unread counts: %w", err)
	}
	return counts, nil
}
