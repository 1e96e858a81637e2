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

// ListMenu returns a page of a restaurant's menu items in id order; an
// unknown restaurant has an empty menu.
func (s *Store) ListMenu(ctx context.Context, restaurantID, afterID delivery.ID, limit int) ([]delivery.MenuItem, error) {
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, restaurant_id, name, price_cents, available
		FROM menu_items WHERE restaurant_id = ? AND id > ? ORDER BY id LIMIT ?`,
		restaurantID, afterID, sqlutil.MenuLimit(limit))
	return menuItems(rows, err, "list menu")
}

// MenuItemsByID returns the restaurant's items among ids.
func (s *Store) MenuItemsByID(ctx context.Context, restaurantID delivery.ID, ids []delivery.ID) ([]delivery.MenuItem, error) {
	if len(ids) == 0 {
		return []delivery.MenuItem{}, nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, restaurantID)
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.read.QueryContext(ctx, `
		SELECT id, restaurant_id, name, price_cents, available
		FROM menu_items WHERE restaurant_id = ? AND id IN (?`+strings.Repeat(",?", len(ids)-1)+`) ORDER BY id`, args...)
	return menuItems(rows, err, "menu items")
}

func menuItems(rows *sql.Rows, err error, what string) ([]delivery.MenuItem, error) {
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	items, err := sqlutil.Collect(rows, func(row sqlutil.Scanner) (delivery.MenuItem, error) {
		var m delivery.MenuItem
		return m, row.Scan(&m.ID, &m.RestaurantID, &m.Name, &m.PriceCents, &m.Available)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return items, nil
}

// UpdateMenuItem sets the fields p holds.
func (s *Store) UpdateMenuItem(ctx context.Context, restaurantID, itemID delivery.ID, p delivery.MenuItemPatch) (delivery.MenuItem, error) {
	var m delivery.MenuItem
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		return tx.QueryRowContext(ctx, `
			UPDATE menu_items SET name = COALESCE(?, name), price_cents = COALESCE(?, price_cents),
				available = COALESCE(?, available)
			WHERE id = ? AND restaurant_id = ?
			RETURNING id, restaurant_id, name, price_cents, available`,
			p.Name, p.PriceCents, p.Available, itemID, restaurantID).
			Scan(&m.ID, &m.RestaurantID, &m.Name, &m.PriceCents, &m.Available)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return delivery.MenuItem{}, delivery.Errorf(delivery.ENOTFOUND, "menu item %s not found", itemID)
	}
	if err != nil {
		return delivery.MenuItem{}, sqlutil.Wrap("sqlite: update menu item", err)
	}
	return m, nil
}

// CreateMenuItem inserts item; an unknown restaurant is ENOTFOUND, a
// full menu EUNPROCESSABLE (write transactions are serialized, so the
// count holds until the insert).
func (s *Store) CreateMenuItem(ctx context.Context, item delivery.MenuItem) (delivery.MenuItem, error) {
	err := s.inOrderTx(ctx, func(ctx context.Context, tx *wtx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM menu_items WHERE restaurant_id = ?`, item.RestaurantID).Scan(&n); err != nil {
			return fmt.Errorf("count menu items: %w", err)
		}
		if n >= delivery.MaxMenuItems {
			return sqlutil.MenuFull()
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO menu_items (restaurant_id, name, price_cents, available)
			VALUES (?, ?, ?, ?) RETURNING id`,
			item.RestaurantID, item.Name, item.PriceCents, item.Available).Scan(&item.ID)
		if isForeignKey(err) {
			return delivery.Errorf(delivery.ENOTFOUND, "restaurant %s not found", item.RestaurantID)
		}
		return err
	})
	if err != nil {
		return delivery.MenuItem{}, sqlutil.Wrap("sqlite: create menu item", err)
	}
	return item, nil
}
