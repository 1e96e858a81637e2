package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlutil"
)

// ListRestaurants returns every restaurant in id order.
func (s *Store) ListRestaurants(ctx context.Context) ([]delivery.Restaurant, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, created_at FROM restaurants ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list restaurants: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.Restaurant, error) {
		var r delivery.Restaurant
		err := row.Scan(&r.ID, &r.Name, &r.CreatedAt)
		r.CreatedAt = r.CreatedAt.UTC()
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list restaurants: %w", err)
	}
	return list, nil
}

// RestaurantByID returns the restaurant with id, or ENOTFOUND.
func (s *Store) RestaurantByID(ctx context.Context, id delivery.ID) (delivery.Restaurant, error) {
	var r delivery.Restaurant
	err := s.pool.QueryRow(ctx, `SELECT id, name, created_at FROM restaurants WHERE id = $1`, id).
		Scan(&r.ID, &r.Name, &r.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return delivery.Restaurant{}, delivery.Errorf(delivery.ENOTFOUND, "restaurant %s not found", id)
	}
	if err != nil {
		return delivery.Restaurant{}, fmt.Errorf("postgres: load restaurant: %w", err)
	}
	r.CreatedAt = r.CreatedAt.UTC()
	return r, nil
}

// ListMenu returns a restaurant's menu items in id order; an unknown
// restaurant has an empty menu.
func (s *Store) ListMenu(ctx context.Context, restaurantID delivery.ID) ([]delivery.MenuItem, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT id, restaurant_id, name, price_cents, available
		FROM menu_items WHERE restaurant_id = $1 ORDER BY id`, restaurantID)
	if err != nil {
		return nil, fmt.Errorf("postgres: list menu: %w", err)
	}
	items, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (delivery.MenuItem, error) {
		var m delivery.MenuItem
		err := row.Scan(&m.ID, &m.RestaurantID, &m.Name, &m.PriceCents, &m.Available)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list menu: %w", err)
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

// CreateMenuItem inserts item; an unknown restaurant is ENOTFOUND.
func (s *Store) CreateMenuItem(ctx context.Context, item delivery.MenuItem) (delivery.MenuItem, error) {
	err := s.pool.QueryRow(ctx, `
		INSERT INTO menu_items (restaurant_id, name, price_cents, available)
		VALUES ($1, $2, $3, $4) RETURNING id`,
		item.RestaurantID, item.Name, item.PriceCents, item.Available).Scan(&item.ID)
	if isForeignKey(err) {
		return delivery.MenuItem{}, delivery.Errorf(delivery.ENOTFOUND, "restaurant %s not found", item.RestaurantID)
	}
	if err != nil {
		return delivery.MenuItem{}, sqlutil.Wrap("postgres: create menu item", err)
	}
	return item, nil
}
