package delivery

import (
	"encoding/json"
	"fmt"
	"time"
)

// Role is what a user is to the service; it decides which orders and
// channels the user may see and which transitions the user may make.
type Role string

const (
	RoleCustomer   Role = "customer"
	RoleRestaurant Role = "restaurant"
	RoleCourier    Role = "courier"
	RoleAdmin      Role = "admin"
	// RoleViewer holds a tracking link: no account, no token of ours, one
	// order's tracking view. It is no user's role, so Valid refuses it: no
	// access token can carry it.
	RoleViewer Role = "viewer"
)

// Valid reports whether r is one of the roles of users.
func (r Role) Valid() bool {
	switch r {
	case RoleCustomer, RoleRestaurant, RoleCourier, RoleAdmin:
		return true
	}
	return false
}

// Actor is the authenticated caller of an operation, taken from a verified
// access token. RestaurantID is set only for restaurant staff. A viewer
// (a tracking link's holder, RoleViewer) has no user: its UserID is 0 and
// Order is the order its link shows.
type Actor struct {
	UserID       ID
	Role         Role
	RestaurantID ID
	Order        ID
}

// User is an account. PasswordHash never leaves the service.
type User struct {
	ID           ID        `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	RestaurantID ID        `json:"restaurant_id,omitempty"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
}

// Actor returns the user as the caller of an operation.
func (u User) Actor() Actor {
	return Actor{UserID: u.ID, Role: u.Role, RestaurantID: u.RestaurantID}
}

// Restaurant is created with its first staff account. Its place (lat,
// lng in the JSON) is nil until set; PrepMinutes is how long its kitchen
// takes for an order, DefaultPrepMinutes unless set.
type Restaurant struct {
	ID   ID     `json:"id"`
	Name string `json:"name"`
	*Place
	PrepMinutes int       `json:"prep_minutes"`
	CreatedAt   time.Time `json:"created_at"`
}

// MenuItemPatch holds the fields of a menu item to change; nil ones stay.
type MenuItemPatch struct {
	Name       *string
	PriceCents *int64
	Available  *bool
}

// MenuItem is something a restaurant sells; orders are priced from it.
type MenuItem struct {
	ID           ID     `json:"id"`
	RestaurantID ID     `json:"restaurant_id"`
	Name         string `json:"name"`
	PriceCents   int64  `json:"price_cents"`
	Available    bool   `json:"available"`
}

// OrderItem is one line of an order, priced by the server when the order
// was placed; later menu changes do not touch it.
type OrderItem struct {
	MenuItemID ID     `json:"menu_item_id"`
	Name       string `json:"name"`
	Quantity   int    `json:"quantity"`
	PriceCents int64  `json:"price_cents"`
}

// Order is the state of one order. Seq is the seq of its latest event, so
// it doubles as the version for If-Match.
type Order struct {
	ID           ID     `json:"id"`
	Status       Status `json:"status"`
	Seq          int64  `json:"seq"`
	CustomerID   ID     `json:"customer_id"`
	RestaurantID ID     `json:"restaurant_id"`
	// RestaurantName is the restaurant's name as the store read it with
	// the order; it is not the order's to change.
	RestaurantName  string      `json:"restaurant_name"`
	CourierID       *ID         `json:"courier_id"`
	Items           []OrderItem `json:"items"`
	TotalCents      int64       `json:"total_cents"`
	DeliveryAddress string      `json:"delivery_address"`
	// DeliveryLat and DeliveryLng are the drop-off place (Dropoff), both
	// or neither, set when the order is placed.
	DeliveryLat *float64  `json:"delivery_lat,omitempty"`
	DeliveryLng *float64  `json:"delivery_lng,omitempty"`
	Notes       string    `json:"notes,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// FinishedAt is when the order became delivered, rejected or
	// cancelled; nil before. The store sets it (Store.UpdateOrder).
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// AssignedAt is when the courier was assigned; nil without one. The
	// store sets it (Store.UpdateOrder): its parties get only positions
	// the courier took after it (ShowsLocation).
	AssignedAt *time.Time `json:"assigned_at,omitempty"`
	// AcceptedAt is when the restaurant accepted the order, from which its
	// food is expected PrepMinutes later; nil before. The store sets it.
	AcceptedAt *time.Time `json:"accepted_at,omitempty"`
	// ETA is the latest estimate (order.eta), nil until the order is
	// accepted and once it ended. The store keeps it (Store.StoreETA).
	ETA *ETA `json:"eta,omitempty"`
	// RestaurantPlace is the restaurant's place as the store read it with
	// the order (for the offer view), like RestaurantName.
	RestaurantPlace *Place `json:"-"`
	// PickupStay and DropoffStay are the store's records of the assigned
	// courier's positions near the two places (Stay).
	PickupStay  Stay `json:"-"`
	DropoffStay Stay `json:"-"`
}

// Durable event types: each is one row of an order's event log with a seq.
const (
	EventOrderCreated    = "order.created"
	EventOrderStatus     = "order.status"
	EventOrderAssigned   = "order.assigned"
	EventOrderUnassigned = "order.unassigned"
)

// Event is one entry of an order's durable event log. Seq numbers an
// order's events 1, 2, 3, … with no gaps; Data is the JSON payload given to
// subscribers (for order.* events, the order as it was after the change).
type Event struct {
	OrderID   ID              `json:"order_id"`
	Seq       int64           `json:"seq"`
	Type      string          `json:"event"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
}

// CreatedEvent returns the order.created event of a newly stored order:
// its first event, carrying the order as placed.
func CreatedEvent(o Order) (Event, error) {
	data, err := json.Marshal(o)
	if err != nil {
		return Event{}, fmt.Errorf("encode order.created: %w", err)
	}
	return Event{OrderID: o.ID, Seq: o.Seq, Type: EventOrderCreated, Data: data, CreatedAt: o.CreatedAt}, nil
}

// Change is what an order mutation records: the event type and, when Data
// and Payload are nil, the order snapshot after the change as its payload.
type Change struct {
	Type string
	Data any
	// Payload, when set, makes the payload from the order after the change
	// (seq and times included), for events that say more than the order.
	Payload func(Order) any
	// MaxActive, above 0, caps the active orders (IsActiveDelivery) of
	// the order's courier after the change, this one included: the store
	// counts them in the change's transaction, serialized with that
	// courier's other changes, and refuses with ETOOMANYACTIVE.
	MaxActive int
}

// Unassigned is the payload of order.unassigned: the order after the
// change, as every order event carries it (courier_id null, so a client
// merging payloads into its orders sees no courier), plus the courier it
// removed and why.
type Unassigned struct {
	Order
	UnassignedCourierID ID     `json:"unassigned_courier_id"`
	Reason              string `json:"reason"`
}

// UnassignedCourier returns the courier an order.unassigned event removed.
func UnassignedCourier(ev Event) (ID, error) {
	var p struct {
		UnassignedCourierID ID `json:"unassigned_courier_id"`
	}
	if err := json.Unmarshal(ev.Data, &p); err != nil {
		return 0, fmt.Errorf("decode %s %s/%d: %w", ev.Type, ev.OrderID, ev.Seq, err)
	}
	return p.UnassignedCourierID, nil
}

// IsParty reports whether a is one of the order's parties: its customer,
// its restaurant's staff or its assigned courier. Admins see everything.
func IsParty(o Order, a Actor) bool {
	switch a.Role {
	case RoleAdmin:
		return true
	case RoleCustomer:
		return o.CustomerID == a.UserID
	case RoleRestaurant:
		return a.RestaurantID != 0 && o.RestaurantID == a.RestaurantID
	case RoleCourier:
		return o.CourierID != nil && *o.CourierID == a.UserID
	}
	return false
}

// IsOffered reports whether couriers may claim the order now: accepted by
// the restaurant, not yet picked up, and no courier assigned.
func IsOffered(o Order) bool {
	if o.CourierID != nil {
		return false
	}
	switch o.Status {
	case StatusAccepted, StatusPreparing, StatusReady:
		return true
	}
	return false
}

// OfferView is what a courier who is no party sees of an offered order
// (API.md, "Offer view"): enough to decide on a claim, nothing of the
// customer.
type OfferView struct {
	ID             ID        `json:"id"`
	Status         Status    `json:"status"`
	Seq            int64     `json:"seq"`
	RestaurantID   ID        `json:"restaurant_id"`
	RestaurantName string    `json:"restaurant_name"`
	ItemsCount     int       `json:"items_count"`
	TotalCents     int64     `json:"total_cents"`
	CreatedAt      time.Time `json:"created_at"`
	// The restaurant's place (lat, lng), when it has one: where to go.
	*Place
}

// Offer returns the offer view of o; ItemsCount counts every piece.
func Offer(o Order) OfferView {
	n := 0
	for _, it := range o.Items {
		n += it.Quantity
	}
	return OfferView{ID: o.ID, Status: o.Status, Seq: o.Seq, RestaurantID: o.RestaurantID, RestaurantName: o.RestaurantName,
		ItemsCount: n, TotalCents: o.TotalCents, CreatedAt: o.CreatedAt, Place: o.RestaurantPlace}
}

// SeesOffer reports whether a may see only the offer view of o: a
// courier who is not its party, while it is offered.
func SeesOffer(o Order, a Actor) bool {
	return a.Role == RoleCourier && !IsParty(o, a) && IsOffered(o)
}

// CanChat reports whether a may post and mark read in o's chat: its
// parties but admins, who read everything but are no voice in an order's
// conversation (they have the publish API for notices).
func CanChat(o Order, a Actor) bool {
	return a.Role != RoleAdmin && IsParty(o, a)
}

// CanView reports whether a may read the order itself: its parties, and
// any courier while the order is offered (so that couriers can decide to
// claim it). Events, chat and location stay with the parties.
func CanView(o Order, a Actor) bool {
	return IsParty(o, a) || (a.Role == RoleCourier && IsOffered(o))
}
