// Package orders is the order service: it validates requests, applies the
// lifecycle rules of internal/delivery through the Store in one transaction
// per change, and is the only code that creates events and decides where
// they go (route.go): committed events through the outbox, ephemeral ones
// (read marks, positions) to the publisher. The hub asks it who may
// subscribe and serves the websocket's commands through it.
package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
)

// Limits on what a client may send.
const (
	MaxItems          = 50
	MaxQuantity       = 99
	MaxAddressLen     = 500
	MaxNotesLen       = 500
	MaxReasonLen      = 500
	MaxAdminReasonLen = 200 // an admin's cancel (API.md)
	MaxIdempotencyKey = 200
	DefaultEventLimit = 100
	MaxEventLimit     = 1000
)

// Outbox takes every committed event with its publications: it publishes
// them at once and relays them later if that failed (internal/outbox). It
// must not block on the database or on sockets.
type Outbox interface {
	Committed(ctx context.Context, ev delivery.Event, pubs []delivery.Publication)
}

// Config is what a Service is built from.
type Config struct {
	Store delivery.Store // required
	// Outbox gets committed events, Publisher ephemeral ones (read marks,
	// positions); nil publishes nothing (benchmarks of the store path).
	Outbox    Outbox
	Publisher delivery.Publisher
	// Locations keeps the last courier positions; required (the Redis one
	// when several instances serve).
	Locations delivery.LocationStore
	// Limits are the per-user budgets of chat messages and positions,
	// spent alike by REST and the websocket; nil limits nothing.
	Limits *limits.Limits
	// MaxActivePerCourier is how many active orders a courier may hold (1
	// to delivery.MaxActiveOrders; MAX_ACTIVE_PER_COURIER): one claim more
	// is ETOOMANYACTIVE. 0: delivery.DefaultMaxActivePerCourier.
	MaxActivePerCourier int
	// Active keeps the couriers' active orders for their positions; give
	// the hub the bus its Bus returns, so that the instances forget alike.
	// nil: a cache of this instance's own.
	Active *ActiveCache
	// Sessions is told of the deleted tracking links' sessions; nil:
	// their sockets close when the instances read the store.
	Sessions Revoker
	// Now decides when a chat closes and whether a position's ts lies in
	// the future (time.Now when nil): tests move it instead of sleeping.
	Now func() time.Time
	Log zerolog.Logger
}

// Service runs the order lifecycle.
type Service struct {
	store     delivery.Store
	outbox    Outbox
	pub       delivery.Publisher
	locations delivery.LocationStore
	active    *ActiveCache
	limits    *limits.Limits
	now       func() time.Time
	maxActive int // active orders a courier may hold
	revoker   Revoker
	log       zerolog.Logger
}

// New returns the service of cfg.
func New(cfg Config) *Service {
	s := &Service{
		store: cfg.Store, outbox: cfg.Outbox, pub: cfg.Publisher, locations: cfg.Locations, active: cfg.Active, limits: cfg.Limits,
		now: cfg.Now, maxActive: cfg.MaxActivePerCourier, revoker: cfg.Sessions, log: cfg.Log.With().Str("component", "orders").Logger(),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxActive == 0 {
		s.maxActive = delivery.DefaultMaxActivePerCourier
	}
	if s.active == nil {
		s.active = NewActiveCache(s.now, cfg.Log)
	}
	return s
}

// publish routes a committed event and hands it to the outbox. The
// order's courier, and the one an unassign removed, are forgotten by
// every instance's ActiveCache: the event moved the order's seq, and may
// have changed what their positions do.
func (s *Service) publish(ctx context.Context, o delivery.Order, ev delivery.Event) {
	pubs, err := Route(o, ev)
	if err != nil {
		// The service wrote the payload: cannot happen. The relay retries.
		s.log.Error().Err(err).Str("order_id", o.ID.String()).Int64("seq", ev.Seq).Msg("route event")
		s.active.changedAll() // which courier it concerns is not known
		return
	}
	var couriers []delivery.ID
	if o.CourierID != nil {
		couriers = append(couriers, *o.CourierID)
	}
	if removed := pubs[0].Revoke; removed != 0 {
		couriers = append(couriers, removed)
	}
	if s.outbox != nil {
		s.outbox.Committed(ctx, ev, pubs)
	}
	s.active.changed(couriers...)
}

// publishEphemeral hands ephemeral publications to the publisher; a
// failure loses them (nothing to replay), so it is only logged.
func (s *Service) publishEphemeral(ctx context.Context, pubs []delivery.Publication) {
	if s.pub == nil || len(pubs) == 0 {
		return
	}
	if err := s.pub.Publish(ctx, pubs...); err != nil {
		s.log.Warn().Err(err).Str("channel", pubs[0].Channel).Str("event", pubs[0].Event).Msg("publish")
	}
}

// PlaceRequest is the body of POST /orders.
type PlaceRequest struct {
	RestaurantID    delivery.ID `json:"restaurant_id"`
	Items           []ItemInput `json:"items"`
	DeliveryAddress string      `json:"delivery_address"`
	// The drop-off place, both or neither. Absent ones are left out of
	// the request's hash, so that the hashes of requests made before
	// places existed stay the same.
	DeliveryLat *float64 `json:"delivery_lat,omitempty"`
	DeliveryLng *float64 `json:"delivery_lng,omitempty"`
	Notes       string   `json:"notes,omitempty"`
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
		DeliveryLat:     req.DeliveryLat,
		DeliveryLng:     req.DeliveryLng,
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
	if _, err := delivery.CheckPlace("delivery_lat", "delivery_lng", r.DeliveryLat, r.DeliveryLng); err != nil {
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
