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

// RestaurantPatchInput is the body of PATCH /restaurants/{id}: the fields
// to change; lat and lng together.
type RestaurantPatchInput struct {
	Name        *string  `json:"name,omitempty"`
	Lat         *float64 `json:"lat,omitempty"`
	Lng         *float64 `json:"lng,omitempty"`
	PrepMinutes *int     `json:"prep_minutes,omitempty"`
}

// UpdateRestaurant changes the caller's own restaurant: its name, its
// place, its preparation estimate. Orders open now are estimated from the
// new values from their next position or change on.
func (s *Service) UpdateRestaurant(ctx context.Context, a delivery.Actor, id delivery.ID, in RestaurantPatchInput) (delivery.Restaurant, error) {
	if a.Role != delivery.RoleRestaurant || a.RestaurantID != id {
		return delivery.Restaurant{}, delivery.Errorf(delivery.EFORBIDDEN, "only this restaurant's staff change it")
	}
	if in.Name == nil && in.Lat == nil && in.Lng == nil && in.PrepMinutes == nil {
		return delivery.Restaurant{}, delivery.Errorf(delivery.EINVALID, "name, lat and lng, or prep_minutes: nothing to change")
	}
	var p delivery.RestaurantPatch
	if in.Name != nil {
		name, err := delivery.CheckText("name", *in.Name, delivery.TextRule{Max: delivery.MaxRestaurantNameLen, Required: true})
		if err != nil {
			return delivery.Restaurant{}, err
		}
		p.Name = &name
	}
	var err error
	if p.Place, err = delivery.CheckPlace("lat", "lng", in.Lat, in.Lng); err != nil {
		return delivery.Restaurant{}, err
	}
	if in.PrepMinutes != nil {
		if err := delivery.CheckPrepMinutes("prep_minutes", *in.PrepMinutes); err != nil {
			return delivery.Restaurant{}, err
		}
		p.PrepMinutes = in.PrepMinutes
	}
	r, err := s.store.UpdateRestaurant(ctx, id, p)
	if err == nil && (p.Place != nil || p.PrepMinutes != nil) {
		// The active orders of couriers hold the restaurant's place and
		// preparation time; which couriers is not worth a read.
		s.active.changedAll()
	}
	return r, err
}

// MenuRequest pages GET /restaurants/{id}/menu: Limit items (0: the
// whole menu, at most delivery.MaxMenuItems) after the item of Cursor.
type MenuRequest struct {
	Limit  int
	Cursor string
}

// Menu lists a page of a restaurant's items in id order, and the cursor
// of the next page ("" after the last); anyone may.
func (s *Service) Menu(ctx context.Context, restaurantID delivery.ID, req MenuRequest) ([]delivery.MenuItem, string, error) {
	if req.Limit == 0 {
		req.Limit = delivery.MaxMenuItems
	}
	if req.Limit < 1 || req.Limit > delivery.MaxMenuItems {
		return nil, "", delivery.Errorf(delivery.EINVALID, "limit: must be 1 to %d", delivery.MaxMenuItems)
	}
	var after delivery.ID
	if req.Cursor != "" {
		id, err := delivery.ParseID(req.Cursor)
		if err != nil {
			return nil, "", delivery.Errorf(delivery.EINVALID, "cursor: invalid")
		}
		after = id
	}
	if _, err := s.store.RestaurantByID(ctx, restaurantID); err != nil {
		return nil, "", err
	}
	items, err := s.store.ListMenu(ctx, restaurantID, after, req.Limit)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) == req.Limit {
		next = items[len(items)-1].ID.String()
	}
	return items, next, nil
}

// MenuItemPatchInput is the body of PATCH /restaurants/{id}/menu/{item_id}:
// the fields to change.
type MenuItemPatchInput struct {
	Name       *string `json:"name,omitempty"`
	PriceCents *int64  `json:"price_cents,omitempty"`
	Available  *bool   `json:"available,omitempty"`
}

// AddMenuItem adds an item to the menu of the caller's own restaurant.
func (s *Service) AddMenuItem(ctx context.Context, a delivery.Actor, restaurantID delivery.ID, in MenuItemInput) (delivery.MenuItem, error) {
	if err := mayEditMenu(a, restaurantID); err != nil {
		return delivery.MenuItem{}, err
	}
	name, err := checkItemName(in.Name)
	if err != nil {
		return delivery.MenuItem{}, err
	}
	if err := checkPrice(in.PriceCents); err != nil {
		return delivery.MenuItem{}, err
	}
	available := in.Available == nil || *in.Available
	return s.store.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: restaurantID, Name: name, PriceCents: in.PriceCents, Available: available})
}

// UpdateMenuItem changes an item of the caller's own restaurant, e.g. marks
// it unavailable; orders already placed keep the name and price they had.
func (s *Service) UpdateMenuItem(ctx context.Context, a delivery.Actor, restaurantID, itemID delivery.ID, in MenuItemPatchInput) (delivery.MenuItem, error) {
	if err := mayEditMenu(a, restaurantID); err != nil {
		return delivery.MenuItem{}, err
	}
	if in.Name == nil && in.PriceCents == nil && in.Available == nil {
		return delivery.MenuItem{}, delivery.Errorf(delivery.EINVALID, "name, price_cents or available: nothing to change")
	}
	p := delivery.MenuItemPatch{PriceCents: in.PriceCents, Available: in.Available}
	if in.Name != nil {
		name, err := checkItemName(*in.Name)
		if err != nil {
			return delivery.MenuItem{}, err
		}
		p.Name = &name
	}
	if in.PriceCents != nil {
		if err := checkPrice(*in.PriceCents); err != nil {
			return delivery.MenuItem{}, err
		}
	}
	return s.store.UpdateMenuItem(ctx, restaurantID, itemID, p)
}

func mayEditMenu(a delivery.Actor, restaurantID delivery.ID) error {
	if a.Role != delivery.RoleRestaurant || a.RestaurantID != restaurantID {
		return delivery.Errorf(delivery.EFORBIDDEN, "only this restaurant's staff manage its menu")
	}
	return nil
}

func checkItemName(name string) (string, error) {
	return delivery.CheckText("name", name, delivery.TextRule{Max: MaxItemNameLen, Required: true})
}

func checkPrice(cents int64) error {
	if cents < 0 || cents > MaxPriceCents {
		return delivery.Errorf(delivery.EINVALID, "price_cents: must be 0 to %d", MaxPriceCents)
	}
	return nil
}
