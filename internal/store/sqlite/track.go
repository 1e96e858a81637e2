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

// CreateTrackLink stores a link of orderID unless it holds max already;
// the one writer serializes the count and the insert.
func (s *Store) CreateTrackLink(ctx context.Context, orderID delivery.ID, hash string, max int) (delivery.TrackLink, error) {
	link := delivery.TrackLink{OrderID: orderID, Hash: hash}
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		var n int
		err := tx.QueryRowContext(ctx, `
			SELECT (SELECT COUNT(*) FROM track_links WHERE order_id = o.id) FROM orders o WHERE o.id = ?`, orderID).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return delivery.Errorf(delivery.ENOTFOUND, "order %s not found", orderID)
		}
		if err != nil {
			return fmt.Errorf("count track links: %w", err)
		}
		if n >= max {
			return delivery.TooManyTrackLinks(max)
		}
		return tx.QueryRowContext(ctx, `
			INSERT INTO track_links (order_id, token_hash, created_at) VALUES (?, ?, ?) RETURNING id, created_at`,
			orderID, hash, sqlutil.FormatTime(sqlutil.Now())).Scan(&link.ID, timeCol{&link.CreatedAt})
	})
	if err != nil {
		return delivery.TrackLink{}, sqlutil.Wrap("sqlite: create track link", err)
	}
	return link, nil
}

// TrackLinks returns the links of orderID, oldest first.
func (s *Store) TrackLinks(ctx context.Context, orderID delivery.ID) ([]delivery.TrackLink, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, created_at FROM track_links WHERE order_id = ? ORDER BY id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: track links: %w", err)
	}
	defer rows.Close()
	links := []delivery.TrackLink{}
	for rows.Next() {
		link := delivery.TrackLink{OrderID: orderID}
		if err := rows.Scan(&link.ID, timeCol{&link.CreatedAt}); err != nil {
			return nil, fmt.Errorf("sqlite: track links: %w", err)
		}
		links = append(links, link)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: track links: %w", err)
	}
	return links, nil
}

// TrackLinkByHash returns the link of the token hash.
func (s *Store) TrackLinkByHash(ctx context.Context, hash string) (delivery.TrackLink, error) {
	link := delivery.TrackLink{Hash: hash}
	err := s.read.QueryRowContext(ctx, `SELECT id, order_id, created_at FROM track_links WHERE token_hash = ?`, hash).
		Scan(&link.ID, &link.OrderID, timeCol{&link.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.TrackLink{}, delivery.Errorf(delivery.ENOTFOUND, "no such tracking link")
	}
	if err != nil {
		return delivery.TrackLink{}, fmt.Errorf("sqlite: track link: %w", err)
	}
	return link, nil
}

// DeleteTrackLink deletes the link and records the end of its session
// for the order's customer.
func (s *Store) DeleteTrackLink(ctx context.Context, orderID, linkID delivery.ID, now time.Time) error {
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		var customer delivery.ID
		err := tx.QueryRowContext(ctx, `
			DELETE FROM track_links WHERE id = ? AND order_id = ?
			RETURNING (SELECT customer_id FROM orders WHERE id = order_id)`, linkID, orderID).Scan(&customer)
		if errors.Is(err, sql.ErrNoRows) {
			return delivery.Errorf(delivery.ENOTFOUND, "no such tracking link")
		}
		if err != nil {
			return fmt.Errorf("delete track link: %w", err)
		}
		return revokeSession(ctx, tx, customer, delivery.TrackSession(linkID), now)
	})
	return sqlutil.Wrap("sqlite: delete track link", err)
}
