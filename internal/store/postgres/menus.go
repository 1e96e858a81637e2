package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// ListMenu returns a page of a restaurant's menu items in id order; an
// unknown restaurant has an empty menu.
func (s *Store) ListMenu(ctx context.Context, restaurantID, afterID delivery.ID, limit int) ([]delivery.MenuItem, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, restaurant_id, name, price_cents, available
		FROM menu_items WHERE restaurant_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
		restaurantID, afterID, sqlutil.MenuLimit(limit))
	return menuItems(rows, err, "list menu")
}

// MenuItemsByID returns the restaurant's items among ids.
func (s *Store) MenuItemsByID(ctx context.Context, restaurantID delivery.ID, ids []delivery.ID) ([]delivery.MenuItem, error) {
	keys := make([]int64, len(ids))
	for i, id := range ids {
		keys[i] = int64(id)
	}
	rows, err := s.pool.Query(ctx, `
		SELECT id, restaurant_id, name, price_cents, available
		FROM menu_items WHERE restaurant_id = $1 AND id = ANY($2) ORDER BY id`, restaurantID, keys)
	return menuItems(rows, err, "menu items")
}

func menuItems(rows pgx.Rows, err error, what string) ([]delivery.MenuItem, error) {
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.MenuItem, error) {
		var m delivery.MenuItem
		err := row.Scan(&m.ID, &m.RestaurantID, &m.Name, &m.PriceCents, &m.Available)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", what, err)
	}
	return items, nil
}

// UpdateMenuItem sets the fields p holds.
func (s *Store) UpdateMenuItem(ctx context.Context, restaurantID, itemID delivery.ID, p delivery.MenuItemPatch) (delivery.MenuItem, error) {
	var m delivery.MenuItem
	err := s.pool.QueryRow(ctx, `
		UPDATE menu_items SET name = COALESCE($3, name), price_cents = COALESCE($4, price_cents),
			available = COALESCE($5, available)
		WHERE id = $1 AND restaurant_id = $2
		RETURNING id, restaurant_id, name, price_cents, available`,
		itemID, restaurantID, p.Name, p.PriceCents, p.Available).
		Scan(&m.ID, &m.RestaurantID, &m.Name, &m.PriceCents, &m.Available)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.MenuItem{}, delivery.Errorf(delivery.ENOTFOUND, "menu item %s not found", itemID)
	}
	if err != nil {
		return delivery.MenuItem{}, sqlutil.Wrap("postgres: update menu item", err)
	}
	return m, nil
}

// CreateMenuItem inserts item; an unknown restaurant is ENOTFOUND, a
// full menu EUNPROCESSABLE. The restaurant's row is locked first, so that
// concurrent inserts count one after the other; the count is a statement
// of its own, whose snapshot is taken once the lock is held.
func (s *Store) CreateMenuItem(ctx context.Context, item delivery.MenuItem) (delivery.MenuItem, error) {
	err := s.inTx(ctx, func(tx *txn) error {
		_, err := tx.Exec(ctx, `SELECT 1 FROM restaurants WHERE id = $1 FOR UPDATE`, item.RestaurantID)
		if err != nil {
			return fmt.Errorf("lock restaurant: %w", err)
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM menu_items WHERE restaurant_id = $1`, item.RestaurantID).Scan(&n); err != nil {
			return fmt.Errorf("count menu items: %w", err)
		}
		if n >= delivery.MaxMenuItems {
			return sqlutil.MenuFull()
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO menu_items (restaurant_id, name, price_cents, available)
			VALUES ($1, $2, $3, $4) RETURNING id`,
			item.RestaurantID, item.Name, item.PriceCents, item.Available).Scan(&item.ID)
		if isForeignKey(err) {
			return delivery.Errorf(delivery.ENOTFOUND, "restaurant %s not found", item.RestaurantID)
		}
		return err
	})
	if err != nil {
		return delivery.MenuItem{}, sqlutil.Wrap("postgres: create menu item", err)
	}
	return item, nil
}
