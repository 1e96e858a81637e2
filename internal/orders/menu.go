package orders

import (
	"context"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Limits on menu items.
const (
	MaxItemNameLen = 100
	MaxPriceCents  = 10_000_000
)

// MenuItemInput is the body of POST /restaurants/{id}/menu.
type MenuItemInput struct {
	Name       string `json:"name"`
	PriceCents int64  `json:"price_cents"`
	Available  *bool  `json:"available,omitempty"`
}

// ListRestaurants lists every restaurant; anyone may.
func (s *Service) ListRestaurants(ctx context.Context) ([]delivery.Restaurant, error) {
	return s.store.ListRestaurants(ctx)
}

// Menu lists a restaurant's items; anyone may.
func (s *Service) Menu(ctx context.Context, restaurantID delivery.ID) ([]delivery.MenuItem, error) {
	if _, err := s.store.RestaurantByID(ctx, restaurantID); err != nil {
		return nil, err
	}
	return s.store.ListMenu(ctx, restaurantID)
}

// AddMenuItem adds an item to the menu of the caller's own restaurant.
func (s *Service) AddMenuItem(ctx context.Context, a delivery.Actor, restaurantID delivery.ID, in MenuItemInput) (delivery.MenuItem, error) {
	if a.Role != delivery.RoleRestaurant || a.RestaurantID != restaurantID {
		return delivery.MenuItem{}, delivery.Errorf(delivery.EFORBIDDEN, "only this restaurant's staff manage its menu")
	}
	name, err := delivery.CheckText("name", in.Name, delivery.TextRule{Max: MaxItemNameLen, Required: true})
	if err != nil {
		return delivery.MenuItem{}, err
	}
	if in.PriceCents < 0 || in.PriceCents > MaxPriceCents {
		return delivery.MenuItem{}, delivery.Errorf(delivery.EINVALID, "price_cents: must be 0 to %d", MaxPriceCents)
	}
	available := in.Available == nil || *in.Available
	return s.store.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: restaurantID, Name: name, PriceCents: in.PriceCents, Available: available})
}
