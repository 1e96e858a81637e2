// Package orders is the order service: it validates requests, applies the
// lifecycle rules of internal/delivery through the Store in one transaction
// per change, and is the only code that creates order events and hands
// them to the publisher.
package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/location/memory"
)

// Limits on what a client may send.
const (
	MaxItems          = 50
	MaxQuantity       = 99
	MaxAddressLen     = 500
	MaxNotesLen       = 500
	MaxReasonLen      = 500
	MaxIdempotencyKey = 200
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// Service runs the order lifecycle.
type Service struct {
	store     delivery.Store
	pub       delivery.EventPublisher
	readPub   delivery.ReadPublisher     // nil: read marks are not pushed
	locPub    delivery.LocationPublisher // nil: positions are not pushed
	locations delivery.LocationStore
	now       func() time.Time
	maxActive int // active orders a courier may hold
}

// New returns a service writing through store and publishing committed
// events to pub (nil: no live delivery). Courier positions are kept in
// memory until SetLocationStore names a shared store.
func New(store delivery.Store, pub delivery.EventPublisher) *Service {
	return &Service{store: store, pub: pub, locations: memory.New(), now: time.Now, maxActive: delivery.DefaultMaxActivePerCourier}
}

// SetMaxActivePerCourier sets how many active orders a courier may hold
// (1 to delivery.MaxActiveOrders; MAX_ACTIVE_PER_COURIER): one claim more
// is ETOOMANYACTIVE. Call it before serving.
func (s *Service) SetMaxActivePerCourier(n int) { s.maxActive = n }

// SetClock replaces the clock that decides when a chat closes and whether
// a position's ts lies in the future; tests move it instead of sleeping.
// Call it before serving.
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// SetLocationStore sets where the last courier positions are kept (the
// Redis one when several instances serve). Call it before serving.
func (s *Service) SetLocationStore(ls delivery.LocationStore) { s.locations = ls }

// SetRealtime sets where moved read marks and accepted courier positions
// go live (the hub); nil leaves either unpublished. Call it before serving.
func (s *Service) SetRealtime(reads delivery.ReadPublisher, locations delivery.LocationPublisher) {
	s.readPub, s.locPub = reads, locations
}

// SetPublisher sets where committed events go; the hub is built after the
// service in some wirings. Call it before serving.
func (s *Service) SetPublisher(pub delivery.EventPublisher) { s.pub = pub }

func (s *Service) publish(ctx context.Context, o delivery.Order, ev delivery.Event) {
	if s.pub != nil {
		s.pub.PublishEvent(ctx, o, ev)
	}
}

// PlaceRequest is the body of POST /orders.
type PlaceRequest struct {
	RestaurantID    delivery.ID `json:"restaurant_id"`
	Items           []ItemInput `json:"items"`
	DeliveryAddress string      `json:"delivery_address"`
	Notes           string      `json:"notes,omitempty"`
}

// ItemInput is one requested line: which menu item and how many.
type ItemInput struct {
	MenuItemID delivery.ID `json:"menu_item_id"`
	Quantity   int         `json:"quantity"`
}

// Place creates an order for customer a, priced from the restaurant's
// menu. A retry with the same idempotency key returns the first order and
// created=false.
func (s *Service) Place(ctx context.Context, a delivery.Actor, req PlaceRequest, idempotencyKey string) (delivery.Order, bool, error) {
	if a.Role != delivery.RoleCustomer {
		return delivery.Order{}, false, delivery.Errorf(delivery.EFORBIDDEN, "only customers place orders")
	}
	if err := validateKey(idempotencyKey); err != nil {
		return delivery.Order{}, false, err
	}
	if err := req.normalize(); err != nil {
		return delivery.Order{}, false, err
	}
	if _, err := s.store.RestaurantByID(ctx, req.RestaurantID); err != nil {
		if delivery.ErrorCode(err) == delivery.ENOTFOUND {
			return delivery.Order{}, false, delivery.Errorf(delivery.EUNPROCESSABLE, "restaurant_id: no such restaurant")
		}
		return delivery.Order{}, false, err
	}
	// Only the items ordered: a menu may hold hundreds.
	ids := make([]delivery.ID, len(req.Items))
	for i, it := range req.Items {
		ids[i] = it.MenuItemID
	}
	menu, err := s.store.MenuItemsByID(ctx, req.RestaurantID, ids)
	if err != nil {
		return delivery.Order{}, false, err
	}
	items, total, err := price(req.Items, menu)
	if err != nil {
		return delivery.Order{}, false, err
	}
	o := delivery.Order{
		Status:          delivery.StatusPlaced,
		CustomerID:      a.UserID,
		RestaurantID:    req.RestaurantID,
		Items:           items,
		TotalCents:      total,
		DeliveryAddress: req.DeliveryAddress,
		Notes:           req.Notes,
	}
	order, created, err := s.store.CreateOrder(ctx, o, delivery.IdempotencyKey{Key: idempotencyKey, RequestHash: req.hash()})
	if err != nil {
		return delivery.Order{}, false, err
	}
	if created {
		ev, err := delivery.CreatedEvent(order)
		if err != nil {
			return delivery.Order{}, false, err
		}
		s.publish(ctx, order, ev)
	}
	return order, created, nil
}

func validateKey(key string) error {
	switch {
	case key == "":
		return delivery.Errorf(delivery.EINVALID, "Idempotency-Key: header required")
	case len(key) > MaxIdempotencyKey:
		return delivery.Errorf(delivery.EINVALID, "Idempotency-Key: at most %d characters", MaxIdempotencyKey)
	}
	return nil
}

// normalize validates the request and trims its text fields, so that a
// retry differing only in surrounding spaces is the same request.
func (r *PlaceRequest) normalize() error {
	if r.RestaurantID <= 0 {
		return delivery.Errorf(delivery.EINVALID, "restaurant_id: required")
	}
	if len(r.Items) == 0 {
		return delivery.Errorf(delivery.EINVALID, "items: at least one item required")
	}
	if len(r.Items) > MaxItems {
		return delivery.Errorf(delivery.EINVALID, "items: at most %d lines", MaxItems)
	}
	for i, it := range r.Items {
		if it.MenuItemID <= 0 {
			return delivery.Errorf(delivery.EINVALID, "items[%d].menu_item_id: required", i)
		}
		if it.Quantity < 1 || it.Quantity > MaxQuantity {
			return delivery.Errorf(delivery.EINVALID, "items[%d].quantity: must be 1 to %d", i, MaxQuantity)
		}
	}
	var err error
	if r.DeliveryAddress, err = delivery.CheckText("delivery_address", r.DeliveryAddress, delivery.TextRule{Max: MaxAddressLen, Required: true, Multiline: true}); err != nil {
		return err
	}
	r.Notes, err = delivery.CheckText("notes", r.Notes, delivery.TextRule{Max: MaxNotesLen, Multiline: true})
	return err
}

// hash digests the request so that a key reused for a different order is
// refused rather than silently answered with the first one.
func (r PlaceRequest) hash() string {
	b, _ := json.Marshal(r) // cannot fail: plain fields only
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// price builds the order lines from the menu; the client never sets a price.
func price(in []ItemInput, menu []delivery.MenuItem) ([]delivery.OrderItem, int64, error) {
	byID := make(map[delivery.ID]delivery.MenuItem, len(menu))
	for _, m := range menu {
		byID[m.ID] = m
	}
	items := make([]delivery.OrderItem, 0, len(in))
	var total int64
	for i, it := range in {
		m, ok := byID[it.MenuItemID]
		if !ok {
			return nil, 0, delivery.Errorf(delivery.EUNPROCESSABLE, "items[%d].menu_item_id: not on this restaurant's menu", i)
		}
		if !m.Available {
			return nil, 0, delivery.Errorf(delivery.EUNPROCESSABLE, "items[%d]: %s is not available", i, m.Name)
		}
		items = append(items, delivery.OrderItem{MenuItemID: m.ID, Name: m.Name, Quantity: it.Quantity, PriceCents: m.PriceCents})
		total += m.PriceCents * int64(it.Quantity)
	}
	return items, total, nil
}
