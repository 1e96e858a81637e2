package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

const pushColumns = `endpoint, user_id, role, restaurant_id, p256dh, auth, created_at, updated_at`

// SavePushSubscription stores sub under its endpoint for its user, and
// trims the user's subscriptions to maxPerUser. The user's row is locked
// first (FOR NO KEY UPDATE: inserts that reference the user go on), so
// that concurrent saves of one user trim one after the other and never
// leave more than maxPerUser.
func (s *Store) SavePushSubscription(ctx context.Context, sub delivery.PushSubscription, maxPerUser int) (delivery.PushSubscription, error) {
	now := sqlutil.Now()
	err := s.inTx(ctx, func(tx *txn) error {
		var rid *int64
		err := tx.QueryRow(ctx, `SELECT role, restaurant_id FROM users WHERE id = $1 FOR NO KEY UPDATE`, sub.UserID).Scan(&sub.Role, &rid)
		if errors.Is(err, pgx.ErrNoRows) {
			return delivery.Errorf(delivery.ENOTFOUND, "user %s not found", sub.UserID)
		}
		if err != nil {
			return fmt.Errorf("lock user: %w", err)
		}
		row := tx.QueryRow(ctx, `
			INSERT INTO push_subscriptions (`+pushColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
			ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, role = excluded.role,
				restaurant_id = excluded.restaurant_id, p256dh = excluded.p256dh, auth = excluded.auth,
				updated_at = excluded.updated_at
			RETURNING `+pushColumns,
			sub.Endpoint, sub.UserID, sub.Role, rid, sub.P256dh, sub.Auth, now)
		if sub, err = scanPush(row); err != nil {
			return fmt.Errorf("save push subscription: %w", err)
		}
		// The one saved stays; of the others the newest maxPerUser-1 do.
		if _, err := tx.Exec(ctx, `
			DELETE FROM push_subscriptions WHERE user_id = $1 AND endpoint <> $2 AND endpoint NOT IN (
				SELECT endpoint FROM push_subscriptions WHERE user_id = $1 AND endpoint <> $2
				ORDER BY updated_at DESC, endpoint LIMIT $3)`,
			sub.UserID, sub.Endpoint, maxPerUser-1); err != nil {
			return fmt.Errorf("trim push subscriptions: %w", err)
		}
		return nil
	})
	if err != nil {
		return delivery.PushSubscription{}, sqlutil.Wrap("postgres: save push subscription", err)
	}
	return sub, nil
}

// DeletePushSubscription deletes userID's subscription of endpoint.
func (s *Store) DeletePushSubscription(ctx context.Context, userID delivery.ID, endpoint string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM push_subscriptions WHERE endpoint = $1 AND user_id = $2`, endpoint, userID)
	if err != nil {
		return fmt.Errorf("postgres: delete push subscription: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return delivery.Errorf(delivery.ENOTFOUND, "no such push subscription")
	}
	return nil
}

// PushSubscriptions returns the subscriptions of a's audience.
func (s *Store) PushSubscriptions(ctx context.Context, a delivery.PushAudience) ([]delivery.PushSubscription, error) {
	if a.Limit <= 0 || (len(a.Users) == 0 && a.Restaurant == 0 && !a.Couriers) {
		return []delivery.PushSubscription{}, nil
	}
	users := make([]int64, len(a.Users))
	for i, id := range a.Users {
		users[i] = int64(id)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT `+pushColumns+` FROM push_subscriptions
		WHERE user_id = ANY($1) OR restaurant_id = $2 OR ($3 AND role = 'courier')
		ORDER BY updated_at DESC, endpoint LIMIT $4`, users, a.Restaurant, a.Couriers, a.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: push subscriptions: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.PushSubscription, error) { return scanPush(row) })
	if err != nil {
		return nil, fmt.Errorf("postgres: push subscriptions: %w", err)
	}
	if list == nil {
		list = []delivery.PushSubscription{}
	}
	return list, nil
}

func scanPush(row pgx.Row) (delivery.PushSubscription, error) {
	var p delivery.PushSubscription
	var rid *int64
	if err := row.Scan(&p.Endpoint, &p.UserID, &p.Role, &rid, &p.P256dh, &p.Auth, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return delivery.PushSubscription{}, err
	}
	if rid != nil {
		p.RestaurantID = delivery.ID(*rid)
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, nil
}
