package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

const messageColumns = `order_id, seq, author_id, author_role, text, client_msg_id, created_at`

func scanMessage(row sqlutil.Scanner) (delivery.Message, error) {
	var m delivery.Message
	err := row.Scan(&m.OrderID, &m.Seq, &m.AuthorID, &m.AuthorRole, &m.Text, &m.ClientMsgID, timeCol{&m.CreatedAt})
	return m, err
}

// AppendMessage stores m as the order's next event under the write lock,
// which BEGIN IMMEDIATE takes before the client_msg_id lookup: two retries
// cannot both miss it. UNIQUE (order_id, client_msg_id) stands behind that.
func (s *Store) AppendMessage(ctx context.Context, m delivery.Message, allow func(delivery.Order) error) (delivery.PostedMessage, error) {
	var p delivery.PostedMessage
	var allowErr error
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		o, err := tx.order(ctx, m.OrderID)
		if err != nil {
			return err
		}
		stored, err := scanMessage(tx.QueryRowContext(ctx, `SELECT `+messageColumns+`
			FROM chat_messages WHERE order_id = ? AND client_msg_id = ?`, m.OrderID, m.ClientMsgID))
		if err == nil {
			p = delivery.PostedMessage{Order: o, Message: stored}
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("look up client_msg_id: %w", err)
		}
		if allowErr = allow(o); allowErr != nil {
			return allowErr
		}
		o, m, ev, err := sqlutil.MessageEvent(o, m, sqlutil.Now())
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE orders SET seq = ? WHERE id = ?`, o.Seq, o.ID); err != nil {
			return fmt.Errorf("advance seq: %w", err)
		}
		if err := insertEvent(ctx, tx, ev); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO chat_messages (`+messageColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			m.OrderID, m.Seq, m.AuthorID, m.AuthorRole, m.Text, m.ClientMsgID, sqlutil.FormatTime(m.CreatedAt))
		if isForeignKey(err) {
			return delivery.Errorf(delivery.ENOTFOUND, "author not found")
		}
		if err != nil {
			return fmt.Errorf("insert message: %w", err)
		}
		tx.putOrder(o)
		p = delivery.PostedMessage{Order: o, Message: m, Event: ev, Created: true}
		return nil
	})
	if allowErr != nil {
		return delivery.PostedMessage{}, allowErr
	}
	if err != nil {
		return delivery.PostedMessage{}, sqlutil.Wrap("sqlite: append message", err)
	}
	return p, nil
}

// MessagesBefore reads the page newest first, so that LIMIT keeps the
// newest, and returns it in ascending order.
func (s *Store) MessagesBefore(ctx context.Context, orderID delivery.ID, before int64, limit int) ([]delivery.Message, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+messageColumns+` FROM chat_messages
		WHERE order_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
		orderID, sqlutil.BeforeBound(before), delivery.PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("sqlite: messages: %w", err)
	}
	list, err := sqlutil.Collect(rows, scanMessage)
	if err != nil {
		return nil, fmt.Errorf("sqlite: messages: %w", err)
	}
	return sqlutil.Ascending(list), nil
}

// MarkRead upserts the mark only upward: the conflict update's WHERE makes
// a lower or equal seq change no row, which is how "moved" is known.
func (s *Store) MarkRead(ctx context.Context, r delivery.ReadMark) (delivery.ReadMark, bool, error) {
	moved := false
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `
			INSERT INTO chat_reads (order_id, user_id, seq, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (order_id, user_id) DO UPDATE SET seq = excluded.seq, updated_at = excluded.updated_at
			WHERE excluded.seq > chat_reads.seq`,
			r.OrderID, r.UserID, r.Seq, sqlutil.FormatTime(sqlutil.Now()))
		if isForeignKey(err) {
			return delivery.Errorf(delivery.ENOTFOUND, "order or user not found")
		}
		if err != nil {
			return fmt.Errorf("mark read: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("mark read: %w", err)
		}
		moved = n > 0
		return tx.QueryRowContext(ctx, `SELECT seq FROM chat_reads WHERE order_id = ? AND user_id = ?`,
			r.OrderID, r.UserID).Scan(&r.Seq)
	})
	if err != nil {
		return delivery.ReadMark{}, false, sqlutil.Wrap("sqlite: mark read", err)
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
	args := []any{userID, userID}
	for _, id := range orderIDs {
		args = append(args, id)
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT m.order_id, count(*) FROM chat_messages m
		LEFT JOIN chat_reads r ON r.order_id = m.order_id AND r.user_id = ?
		WHERE m.author_id <> ? AND m.seq > coalesce(r.seq, 0)
			AND m.order_id IN (?`+strings.Repeat(", ?", len(orderIDs)-1)+`)
		GROUP BY m.order_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: unread counts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id delivery.ID
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("sqlite: unread counts: %w", err)
		}
		counts[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: unread counts: %w", err)
	}
	return counts, nil
}
