package delivery

import (
	"context"
	"time"
)

// TrackLink is a tracking link of one order (API.md, "Tracking links"):
// whoever holds its token sees the order's tracking view and nothing
// else. The store keeps only the token's SHA-256 (Hash).
type TrackLink struct {
	ID        ID        `json:"id"`
	OrderID   ID        `json:"order_id"`
	Hash      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
}

// MaxTrackLinks is how many links an order holds at once: one more is
// EUNPROCESSABLE until one is deleted.
const MaxTrackLinks = 10

// TooManyTrackLinks is the stores' refusal of a link beyond max.
func TooManyTrackLinks(max int) error {
	return Errorf(EUNPROCESSABLE, "an order holds at most %d tracking links: delete one first", max)
}

// TrackGrace is how long an order's links stay valid after it ended.
const TrackGrace = time.Hour

// TrackExpiry is when o's links expire: TrackGrace after it ended; the
// zero time while it is active.
func TrackExpiry(o Order) time.Time {
	if o.FinishedAt == nil {
		return time.Time{}
	}
	return o.FinishedAt.Add(TrackGrace)
}

// TrackSession is the session id of link's sockets and streams: deleting
// the link ends that session as a logout ends a user's (the revocation
// is recorded, every instance closes them with 4001). It holds a colon,
// which no session id of a login does.
func TrackSession(link ID) string { return "link:" + link.String() }

// TrackView is what a tracking link shows of its order: no person, no
// address, no notes, no items.
type TrackView struct {
	ID             ID     `json:"id"`
	Status         Status `json:"status"`
	RestaurantName string `json:"restaurant_name"`
	ETA            *ETA   `json:"eta"`
}

// Track returns the tracking view of o.
func Track(o Order) TrackView {
	return TrackView{ID: o.ID, Status: o.Status, RestaurantName: o.RestaurantName, ETA: o.ETA}
}

// TrackStore keeps tracking links; both stores implement it as part of
// Store.
type TrackStore interface {
	// CreateTrackLink stores a link of the order orderID with the token
	// hash hash, unless the order holds max links already: then
	// EUNPROCESSABLE, also under concurrent creations. An unknown order
	// is ENOTFOUND. ID and CreatedAt are the store's.
	CreateTrackLink(ctx context.Context, orderID ID, hash string, max int) (TrackLink, error)
	// TrackLinks returns the links of the order orderID, oldest first
	// (none is an empty list).
	TrackLinks(ctx context.Context, orderID ID) ([]TrackLink, error)
	// TrackLinkByHash returns the link whose token has the hash hash;
	// none is ENOTFOUND.
	TrackLinkByHash(ctx context.Context, hash string) (TrackLink, error)
	// DeleteTrackLink deletes the link linkID of the order orderID and
	// records the end of its session (TrackSession) for the order's
	// customer at now, as RevokeSession does, in one transaction; no such
	// link of that order is ENOTFOUND.
	DeleteTrackLink(ctx context.Context, orderID, linkID ID, now time.Time) error
}
