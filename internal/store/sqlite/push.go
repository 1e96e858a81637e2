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

const pushColumns = `endpoint, user_id, role, restaurant_id, p256dh, auth, created_at, updated_at`

// SavePushSubscription stores sub under its endpoint for its user, and
// trims the user's subscriptions to maxPerUser.
func (s *Store) SavePushSubscription(ctx context.Context, sub delivery.PushSubscription, maxPerUser int) (delivery.PushSubscription, error) {
	now := sqlutil.FormatTime(sqlutil.Now())
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		var rid sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT role, restaurant_id FROM users WHERE id = ?`, sub.UserID).Scan(&sub.Role, &rid)
		if errors.Is(err, sql.ErrNoRows) {
			return delivery.Errorf(delivery.ENOTFOUND, "user %s not found", sub.UserID)
		}
		if err != nil {
			return fmt.Errorf("load user: %w", err)
		}
		sub.RestaurantID = delivery.ID(rid.Int64)
		row := tx.QueryRowContext(ctx, `
			INSERT INTO push_subscriptions (`+pushColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, role = excluded.role,
				restaurant_id = excluded.restaurant_id, p256dh = excluded.p256dh, auth = excluded.auth,
				updated_at = excluded.updated_at
			RETURNING `+pushColumns,
			sub.Endpoint, sub.UserID, sub.Role, rid, sub.P256dh, sub.Auth, now, now)
		if sub, err = scanPush(row); err != nil {
			return fmt.Errorf("save push subscription: %w", err)
		}
		// The one saved stays; of the others the newest maxPerUser-1 do.
		if _, err := tx.ExecContext(ctx, `
			DELETE FROM push_subscriptions WHERE user_id = ? AND endpoint <> ? AND endpoint NOT IN (
				SELECT endpoint FROM push_subscriptions WHERE user_id = ? AND endpoint <> ?
				ORDER BY updated_at DESC, endpoint LIMIT ?)`,
			sub.UserID, sub.Endpoint, sub.UserID, sub.Endpoint, maxPerUser-1); err != nil {
			return fmt.Errorf("trim push subscriptions: %w", err)
		}
		return nil
	})
	if err != nil {
		return delivery.PushSubscription{}, sqlutil.Wrap("sqlite: save push subscription", err)
	}
	return sub, nil
}

// DeletePushSubscription deletes userID's subscription of endpoint.
func (s *Store) DeletePushSubscription(ctx context.Context, userID delivery.ID, endpoint string) error {
	var n int64
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE endpoint = ? AND user_id = ?`, endpoint, userID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: delete push subscription: %w", err)
	}
	if n == 0 {
		return delivery.Errorf(delivery.ENOTFOUND, "no such push subscription")
	}
	return nil
}

// PushSubscriptions returns the subscriptions of a's audience.
func (s *Store) PushSubscriptions(ctx context.Context, a delivery.PushAudience) ([]delivery.PushSubscription, error) {
	var where []string
	var args []any
	if len(a.Users) > 0 {
		where = append(where, `user_id IN (?`+strings.Repeat(",?", len(a.Users)-1)+`)`)
		for _, id := range a.Users {
			args = append(args, id)
		}
	}
	if a.Restaurant != 0 {
		where = append(where, `restaurant_id = ?`)
		args = append(args, a.Restaurant)
	}
	if a.Couriers {
		where = append(where, `role = 'courier'`)
	}
	if len(where) == 0 || a.Limit <= 0 {
		return []delivery.PushSubscription{}, nil
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+pushColumns+` FROM push_subscriptions WHERE `+strings.Join(where, " OR ")+`
		ORDER BY updated_at DESC, endpoint LIMIT ?`, append(args, a.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: push subscriptions: %w", err)
	}
	list, err := sqlutil.Collect(rows, scanPush)
	if err != nil {
		return nil, fmt.Errorf("sqlite: push subscriptions: %w", err)
	}
	return list, nil
}

func scanPush(row sqlutil.Scanner) (delivery.PushSubscription, error) {
	var p delivery.PushSubscription
	var rid sql.NullInt64
	err := row.Scan(&p.Endpoint, &p.UserID, &p.Role, &rid, &p.P256dh, &p.Auth, timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt})
	p.RestaurantID = delivery.ID(rid.Int64)
	return p, err
}
