package orders

import (
	"context"
	"time"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// Revoker is told of the sessions the store just ended, here a deleted
// link's (delivery.TrackSession): internal/sessions closes their sockets
// and streams on every instance. It must not fail the caller: the store
// holds the revocation, which every instance also reads periodically.
type Revoker interface {
	Announce(ctx context.Context, sids ...string)
}

// NewTrackLink is a link just created: its token is given once, here.
type NewTrackLink struct {
	Link      delivery.TrackLink
	Token     string
	ExpiresAt time.Time // zero while the order is active
}

// CreateTrackLink creates a tracking link of the order for its customer
// (POST /orders/{id}/track-links). Any other party, or anyone else, gets
// EFORBIDDEN; an order holding delivery.MaxTrackLinks links
// EUNPROCESSABLE; an order whose links expired already EUNPROCESSABLE too.
func (s *Service) CreateTrackLink(ctx context.Context, a delivery.Actor, orderID delivery.ID) (NewTrackLink, error) {
	o, err := s.customerOrder(ctx, a, orderID)
	if err != nil {
		return NewTrackLink{}, err
	}
	exp := delivery.TrackExpiry(o)
	if !exp.IsZero() && !s.now().Before(exp) {
		return NewTrackLink{}, delivery.Errorf(delivery.EUNPROCESSABLE, "the order ended over an hour ago: it can no longer be shared")
	}
	token, hash, err := auth.NewTrackToken()
	if err != nil {
		return NewTrackLink{}, err
	}
	link, err := s.store.CreateTrackLink(ctx, o.ID, hash, delivery.MaxTrackLinks)
	if err != nil {
		return NewTrackLink{}, err
	}
	return NewTrackLink{Link: link, Token: token, ExpiresAt: exp}, nil
}

// TrackLinks lists the tracking links of the order for its customer
// (GET /orders/{id}/track-links), oldest first, with when they expire
// (zero while the order is active). Their tokens are not kept: a link is
// listed to be deleted, not shared again.
func (s *Service) TrackLinks(ctx context.Context, a delivery.Actor, orderID delivery.ID) ([]delivery.TrackLink, time.Time, error) {
	o, err := s.customerOrder(ctx, a, orderID)
	if err != nil {
		return nil, time.Time{}, err
	}
	links, err := s.store.TrackLinks(ctx, o.ID)
	if err != nil {
		return nil, time.Time{}, err
	}
	return links, delivery.TrackExpiry(o), nil
}

// DeleteTrackLink deletes a tracking link of the order for its customer
// (DELETE /orders/{id}/track-links/{link_id}) and ends its session: its
// sockets and streams close with 4001 on every instance. A link of
// another order is ENOTFOUND.
func (s *Service) DeleteTrackLink(ctx context.Context, a delivery.Actor, orderID, linkID delivery.ID) error {
	if _, err := s.customerOrder(ctx, a, orderID); err != nil {
		return err
	}
	if err := s.store.DeleteTrackLink(ctx, orderID, linkID, s.now()); err != nil {
		return err
	}
	if s.revoker != nil {
		s.revoker.Announce(ctx, delivery.TrackSession(linkID))
	}
	return nil
}

// customerOrder reads the order for its customer: the other parties get
// EFORBIDDEN as anyone else does.
func (s *Service) customerOrder(ctx context.Context, a delivery.Actor, orderID delivery.ID) (delivery.Order, error) {
	o, err := s.store.OrderByID(ctx, orderID)
	if err != nil {
		return delivery.Order{}, err
	}
	if a.Role != delivery.RoleCustomer || o.CustomerID != a.UserID {
		return delivery.Order{}, delivery.Errorf(delivery.EFORBIDDEN, "only the order's customer shares it")
	}
	return o, nil
}

// errNoLink answers every token that opens nothing: unknown, deleted and
// expired alike, so that a holder learns nothing of links it has not.
var errNoLink = delivery.Errorf(delivery.ENOTFOUND, "no such tracking link, or it expired")

// Viewer checks a tracking-link token and returns its holder as a
// viewer, with the link and its order. Unknown, deleted and expired
// links are ENOTFOUND.
func (s *Service) Viewer(ctx context.Context, token string) (delivery.TrackLink, delivery.Order, error) {
	if !auth.LooksLikeTrackToken(token) {
		return delivery.TrackLink{}, delivery.Order{}, errNoLink
	}
	link, err := s.store.TrackLinkByHash(ctx, auth.HashTrackToken(token))
	if err != nil {
		if delivery.ErrorCode(err) == delivery.ENOTFOUND {
			err = errNoLink
		}
		return delivery.TrackLink{}, delivery.Order{}, err
	}
	o, err := s.store.OrderByID(ctx, link.OrderID)
	if err != nil {
		return delivery.TrackLink{}, delivery.Order{}, err
	}
	if exp := delivery.TrackExpiry(o); !exp.IsZero() && !s.now().Before(exp) {
		return delivery.TrackLink{}, delivery.Order{}, errNoLink
	}
	return link, o, nil
}

// Tracking is the answer of GET /track/{token}.
type Tracking struct {
	Order    delivery.TrackView `json:"order"`
	Location *delivery.Location `json:"location"`
}

// Track returns the tracking view of the token's order and the courier's
// last position while the order is active (by the rules of the order
// channel: after the assignment, not older than
// delivery.MaxLocationAge).
func (s *Service) Track(ctx context.Context, token string) (Tracking, error) {
	_, o, err := s.Viewer(ctx, token)
	if err != nil {
		return Tracking{}, err
	}
	out := Tracking{Order: delivery.Track(o)}
	loc, ok, err := s.lastLocation(ctx, o)
	if err != nil {
		return Tracking{}, err
	}
	if ok {
		out.Location = &loc
	}
	return out, nil
}
