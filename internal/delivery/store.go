package delivery

import (
	"context"
	"time"
)

// Store keeps users, restaurants, menus, orders and their event logs.
// Implementations: internal/store/sqlite and internal/store/postgres, both
// held to internal/store/storetest.
//
// Errors are *Error with ENOTFOUND, ECONFLICT, EEMAILTAKEN, ETOKENREUSED,
// EIDEMPOTENCY or EUNAUTHORIZED where the method says so; anything else is
// an internal failure. Times come back in UTC with microsecond precision.
type Store interface {
	ChatStore
	PushStore
	TrackStore
	// CreateUser inserts u (ID and CreatedAt are set by the store). For
	// role restaurant it first creates the restaurant r (its Name, Place
	// and PrepMinutes, 0 meaning DefaultPrepMinutes; other roles ignore
	// r) and sets u.RestaurantID, in the same transaction. An email
	// already registered (compared case-insensitively) is EEMAILTAKEN.
	CreateUser(ctx context.Context, u User, r Restaurant) (User, error)
	UserByID(ctx context.Context, id ID) (User, error)
	UserByEmail(ctx context.Context, email string) (User, error)

	// CreateRefreshToken stores a new token (only its hash) starting or
	// continuing the family t.FamilyID.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken spends the token with hash oldHash and stores next
	// in the same family for the same user, atomically; it returns the
	// token's user id and family (its session). An unknown, expired or
	// revoked token is EUNAUTHORIZED. A token already spent is
	// ETOKENREUSED, returned with the user and family: the session is
	// ended as by RevokeSession (committed, so that the thief's copy
	// dies). next.UserID and next.FamilyID are taken from the old token.
	RotateRefreshToken(ctx context.Context, oldHash string, next RefreshToken, now time.Time) (userID ID, sid string, err error)
	// RevokeSession ends the session sid (a refresh-token family) of
	// userID at now: it revokes the family's refresh tokens and records
	// the revocation, in one transaction. Ending a session twice, or one
	// with no token left, records it all the same.
	RevokeSession(ctx context.Context, userID ID, sid string, now time.Time) error
	// RevokeUserSessions ends, as RevokeSession, every session of userID
	// holding a refresh token that is neither revoked nor expired, and
	// returns their ids.
	RevokeUserSessions(ctx context.Context, userID ID, now time.Time) ([]string, error)
	// RevokedSessions returns the revocations recorded at since or later,
	// oldest first.
	RevokedSessions(ctx context.Context, since time.Time) ([]Revocation, error)
	// PurgeRevocations deletes at most limit revocations recorded before
	// before, and returns how many. The stores run it periodically
	// themselves, for those older than auth.RevocationHorizon.
	PurgeRevocations(ctx context.Context, before time.Time, limit int) (int, error)
	// PurgeRefreshTokens deletes at most limit refresh tokens of no more
	// use, and returns how many: those expired at now, spent or not, and
	// those revoked at least sqlutil.RevokedRefreshGrace before now. A
	// spent token of a live family is kept until it expires, since its
	// reuse is what tells of a theft and revokes the family. The stores
	// run it periodically themselves.
	PurgeRefreshTokens(ctx context.Context, now time.Time, limit int) (int, error)

	ListRestaurants(ctx context.Context) ([]Restaurant, error)
	RestaurantByID(ctx context.Context, id ID) (Restaurant, error)
	// UpdateRestaurant sets the fields p holds on the restaurant and
	// returns it; an unknown restaurant is ENOTFOUND. Orders read
	// afterwards carry the new name and place.
	UpdateRestaurant(ctx context.Context, id ID, p RestaurantPatch) (Restaurant, error)
	// ListMenu returns up to limit of a restaurant's items with an id
	// above afterID, in id order; a limit of zero or less, or above
	// MaxMenuItems, is MaxMenuItems.
	ListMenu(ctx context.Context, restaurantID, afterID ID, limit int) ([]MenuItem, error)
	// MenuItemsByID returns the restaurant's items among ids, in id order:
	// what an order placement reads, rather than the whole menu.
	MenuItemsByID(ctx context.Context, restaurantID ID, ids []ID) ([]MenuItem, error)
	// CreateMenuItem inserts item; an unknown restaurant is ENOTFOUND, one
	// that holds MaxMenuItems items already EUNPROCESSABLE (also under
	// concurrent inserts).
	CreateMenuItem(ctx context.Context, item MenuItem) (MenuItem, error)
	// UpdateMenuItem sets the fields p holds on the item itemID of the
	// restaurant restaurantID and returns it; any other item is ENOTFOUND.
	UpdateMenuItem(ctx context.Context, restaurantID, itemID ID, p MenuItemPatch) (MenuItem, error)

	// CreateOrder inserts o with status placed and seq 1 together with its
	// order.created event, in one transaction. With a non-empty key.Key,
	// a second call by the same customer with the same key returns the
	// first order and created=false; if key.RequestHash differs it is
	// EIDEMPOTENCY. Concurrent calls with one key create one order.
	CreateOrder(ctx context.Context, o Order, key IdempotencyKey) (order Order, created bool, err error)
	// OrderByID returns the order; every order the store returns carries
	// its restaurant's name and place (RestaurantName, RestaurantPlace).
	OrderByID(ctx context.Context, id ID) (Order, error)
	// UpdateOrder serializes changes to one order: it locks the order,
	// calls mutate on a copy, and if mutate returns no error writes the
	// order with the next seq and appends the change as the event with that
	// seq, in one transaction. mutate's error is returned as it is and
	// nothing is written. An unknown order is ENOTFOUND. FinishedAt is the
	// store's: set to the change's time when the status becomes terminal,
	// kept while it stays terminal, nil otherwise. So is AssignedAt: the
	// change's time when the courier changed to another (or from none),
	// kept while it stays, nil without a courier. AcceptedAt too: the
	// change's time when the status became accepted, kept afterwards. ETA
	// is the store's (StoreETA): kept, and nil once the status is
	// terminal. mutate may set PickupStay and DropoffStay (an arrival
	// does); a change of courier clears their From and Last, the new
	// courier's stay starting afresh. The drop-off place is not mutable.
	// With Change.MaxActive
	// set, a courier who would hold more active orders than that gets
	// ETOOMANYACTIVE and nothing is written, also under concurrent
	// changes of the courier's other orders. mutate must depend only on
	// the order it is given: a store may call it again, on the order read
	// anew, when it runs the transaction again (PostgreSQL's does after a
	// deadlock, or to take one call's failure out of a batch); only the
	// call whose writes commit counts. mutate must not block nor call the
	// store: it may run on a loop that other calls share (PostgreSQL's),
	// and an UpdateOrder from inside it would wait for that loop forever.
	UpdateOrder(ctx context.Context, id ID, mutate func(*Order) (Change, error)) (Order, Event, error)
	// ListOrders returns the orders f selects, newest first.
	ListOrders(ctx context.Context, f OrderFilter) ([]Order, error)
	// ActiveOrdersOfCourier returns the orders assigned to courierID that
	// are active (IsActiveDelivery), newest first, at most MaxActiveOrders
	// of them, as ActiveOrder: what routing a position needs, in one read.
	ActiveOrdersOfCourier(ctx context.Context, courierID ID) ([]ActiveOrder, error)
	// RecordStay writes next as the order's stay at place at, if the
	// stored one is still was, the order's courier is courierID and its
	// status is one that heads for at (ArrivalOf), and reports whether it
	// wrote: false, and nothing written, when another position changed
	// the stay first or the order moved on. It writes no event and leaves
	// seq and updated_at; an arrival (Arrived set) goes through
	// UpdateOrder with its courier.arrived event instead.
	RecordStay(ctx context.Context, orderID, courierID ID, at Arrival, was, next Stay) (bool, error)
	// StoreETA writes eta as the order's ETA, if the stored one's At is
	// still wasAt (0: none stored) and the order's status is still
	// status, an active one (accepted to picked_up), and reports whether
	// it wrote: of instances estimating at
	// once, one writes (and publishes) and the others learn that they
	// lost. It writes no event and leaves seq and updated_at.
	StoreETA(ctx context.Context, orderID ID, status Status, wasAt int64, eta ETA) (bool, error)
	// EventsAfter returns up to limit events of an order with seq > after,
	// in seq order.
	EventsAfter(ctx context.Context, orderID ID, after int64, limit int) ([]Event, error)

	// Ping checks that the store answers.
	Ping(ctx context.Context) error
	Close() error
}

// MaxMenuItems caps a restaurant's menu, and so what any menu read
// returns: a page of GET /restaurants/{id}/menu holds the whole menu
// unless a smaller limit is asked for.
const MaxMenuItems = 500

// MaxActiveOrders bounds ActiveOrdersOfCourier: a courier carries a few
// orders at once, and one position is never fanned out to more channels.
const MaxActiveOrders = 20

// DefaultMaxActivePerCourier is how many active orders a courier may hold
// unless configured otherwise (MAX_ACTIVE_PER_COURIER, at most
// MaxActiveOrders): one more claim is ETOOMANYACTIVE.
const DefaultMaxActivePerCourier = 3

// Page sizes of listings (orders, chat messages): a limit of zero or less
// is DefaultPageLimit; the service refuses more than MaxPageLimit, and the
// stores cap at it.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 200
)

// PageLimit returns the limit a store applies for a requested n.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return DefaultPageLimit
	case n > MaxPageLimit:
		return MaxPageLimit
	}
	return n
}

// RefreshToken is a stored refresh token: the SHA-256 of the opaque token
// the client holds, never the token itself.
type RefreshToken struct {
	Hash      string
	UserID    ID
	FamilyID  string
	ExpiresAt time.Time
}

// Revocation records an ended session: from RevokedAt on, the access
// tokens of session SessionID are refused.
type Revocation struct {
	SessionID string
	UserID    ID
	RevokedAt time.Time
}

// IdempotencyKey makes order placement safe to retry. RequestHash is a
// digest of the request body, to refuse a key reused for another order.
type IdempotencyKey struct {
	Key         string
	RequestHash string
}

// OrderFilter selects orders for a listing. The visibility fields are
// OR-ed: an order matches if it belongs to CustomerID, to RestaurantID, is
// assigned to CourierID, or (with Offered) is offered to couriers
// (IsOffered). All zero with All set lists every order (admins).
// Status, when set, narrows the result; BeforeID pages (id < BeforeID);
// Limit is applied as PageLimit(Limit).
type OrderFilter struct {
	CustomerID   ID
	RestaurantID ID
	CourierID    ID
	Offered      bool
	All          bool
	Status       Status
	BeforeID     ID
	Limit        int
}
