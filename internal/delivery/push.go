package delivery

import (
	"context"
	"time"
)

// PushSubscription is a browser's Web Push subscription (its
// PushSubscription: the push service's endpoint and the keys that encrypt
// messages to it) registered by one user. Role and RestaurantID are the
// user's, kept with it so that a restaurant's staff or every courier is
// one indexed read.
type PushSubscription struct {
	UserID       ID
	Role         Role
	RestaurantID ID
	Endpoint     string
	// P256dh and Auth are the subscription's keys as base64url without
	// padding: a P-256 public key (uncompressed point) and 16 bytes.
	P256dh    string
	Auth      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// PushAudience selects push subscriptions: those of Users, of the staff of
// Restaurant (when not 0) and, with Couriers, of every courier, up to
// Limit of them.
type PushAudience struct {
	Users      []ID
	Restaurant ID
	Couriers   bool
	Limit      int
}

// PushStore keeps push subscriptions; both stores implement it as part of
// Store.
type PushStore interface {
	// SavePushSubscription stores s (by Endpoint, which belongs to one
	// user: saving it again updates its keys and user, moving it from
	// whoever held it) and keeps at most maxPerUser subscriptions of
	// s.UserID, deleting those updated longest ago. CreatedAt and
	// UpdatedAt are the store's. An unknown user is ENOTFOUND.
	SavePushSubscription(ctx context.Context, s PushSubscription, maxPerUser int) (PushSubscription, error)
	// DeletePushSubscription deletes userID's subscription of endpoint;
	// none is ENOTFOUND (another user's counts as none).
	DeletePushSubscription(ctx context.Context, userID ID, endpoint string) error
	// PushSubscriptions returns up to a.Limit of the subscriptions a
	// selects, most recently updated first (then by endpoint); a Limit of
	// 0 or less returns none.
	PushSubscriptions(ctx context.Context, a PushAudience) ([]PushSubscription, error)
}
