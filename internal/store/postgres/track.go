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

// CreateTrackLink stores a link of orderID unless it holds max already.
// The order's row is locked first (FOR NO KEY UPDATE), so that concurrent
// creations count one after the other and never pass max.
func (s *Store) CreateTrackLink(ctx context.Context, orderID delivery.ID, hash string, max int) (delivery.TrackLink, error) {
	link := delivery.TrackLink{OrderID: orderID, Hash: hash}
	err := s.inTx(ctx, func(tx *txn) error {
		err := tx.QueryRow(ctx, `SELECT 1 FROM orders WHERE id = $1 FOR NO KEY UPDATE`, orderID).Scan(new(int))
		if errors.Is(err, pgx.ErrNoRows) {
			return delivery.Errorf(delivery.ENOTFOUND, "order %s not found", orderID)
		}
		if err != nil {
			return fmt.Errorf("lock order: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM track_links WHERE order_id = $1`, orderID).Scan(&n); err != nil {
			return fmt.Errorf("count track links: %w", err)
		}
		if n >= max {
			return delivery.TooManyTrackLinks(max)
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO track_links (order_id, token_hash, created_at) VALUES ($1, $2, $3) RETURNING id, created_at`,
			orderID, hash, sqlutil.Now()).Scan(&link.ID, &link.CreatedAt)
		link.CreatedAt = link.CreatedAt.UTC()
		return err
	})
	if err != nil {
		return delivery.TrackLink{}, sqlutil.Wrap("postgres: create track link", err)
	}
	return link, nil
}

// TrackLinks returns the links of orderID, oldest first.
func (s *Store) TrackLinks(ctx context.Context, orderID delivery.ID) ([]delivery.TrackLink, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, created_at FROM track_links WHERE order_id = $1 ORDER BY id`, orderID)
	if err != nil {
		return nil, fmt.Errorf("postgres: track links: %w", err)
	}
	links, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.TrackLink, error) {
		link := delivery.TrackLink{OrderID: orderID}
		err := row.Scan(&link.ID, &link.CreatedAt)
		link.CreatedAt = link.CreatedAt.UTC()
		return link, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: track links: %w", err)
	}
	return links, nil
}

// TrackLinkByHash returns the link of the token hash.
func (s *Store) TrackLinkByHash(ctx context.Context, hash string) (delivery.TrackLink, error) {
	link := delivery.TrackLink{Hash: hash}
	err := s.pool.QueryRow(ctx, `SELECT id, order_id, created_at FROM track_links WHERE token_hash = $1`, hash).
		Scan(&link.ID, &link.OrderID, &link.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.TrackLink{}, delivery.Errorf(delivery.ENOTFOUND, "no such tracking link")
	}
	if err != nil {
		return delivery.TrackLink{}, fmt.Errorf("postgres: track link: %w", err)
	}
	link.CreatedAt = link.CreatedAt.UTC()
	return link, nil
}

// DeleteTrackLink deletes the link and records the end of its session
// for the order's customer.
func (s *Store) DeleteTrackLink(ctx context.Context, orderID, linkID delivery.ID, now time.Time) error {
	err := s.inTx(ctx, func(tx *txn) error {
		var customer delivery.ID
		err := tx.QueryRow(ctx, `
			DELETE FROM track_links l USING orders o WHERE l.id = $1 AND l.order_id = $2 AND o.id = l.order_id
			RETURNING o.customer_id`, linkID, orderID).Scan(&customer)
		if errors.Is(err, pgx.ErrNoRows) {
			return delivery.Errorf(delivery.ENOTFOUND, "no such tracking link")
		}
		if err != nil {
			return fmt.Errorf("delete track link: %w", err)
		}
		return revokeSession(ctx, tx, customer, delivery.TrackSession(linkID), sqlutil.Time(now))
	})
	return sqlutil.Wrap("postgres: delete track link", err)
}
