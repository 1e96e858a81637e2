package orders

import (
	"context"
	"encoding/json"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Get returns the order if a may view it (delivery.CanView).
func (s *Service) Get(ctx context.Context, a delivery.Actor, id delivery.ID) (delivery.Order, error) {
	o, err := s.store.OrderByID(ctx, id)
	if err != nil {
		return delivery.Order{}, err
	}
	if !delivery.CanView(o, a) {
		return delivery.Order{}, forbidden()
	}
	return o, nil
}

// forbidden is the one answer to a non-party, whatever it asked.
func forbidden() error {
	return delivery.Errorf(delivery.EFORBIDDEN, "not a party of this order")
}

// ListRequest pages through the orders visible to the caller.
type ListRequest struct {
	Status delivery.Status
	Limit  int
	Cursor string
}

// List returns the orders a may see, newest first, and the cursor of the
// next page ("" on the last page).
func (s *Service) List(ctx context.Context, a delivery.Actor, req ListRequest) ([]delivery.Order, string, error) {
	f := delivery.OrderFilter{Status: req.Status, Limit: req.Limit}
	if f.Status != "" && !f.Status.Valid() {
		return nil, "", delivery.Errorf(delivery.EINVALID, "status: unknown status")
	}
	if f.Limit == 0 {
		f.Limit = delivery.DefaultPageLimit
	}
	if f.Limit < 1 || f.Limit > delivery.MaxPageLimit {
		return nil, "", delivery.Errorf(delivery.EINVALID, "limit: must be 1 to %d", delivery.MaxPageLimit)
	}
	if req.Cursor != "" {
		id, err := delivery.ParseID(req.Cursor)
		if err != nil {
			return nil, "", delivery.Errorf(delivery.EINVALID, "cursor: invalid")
		}
		f.BeforeID = id
	}
	switch a.Role {
	case delivery.RoleCustomer:
		f.CustomerID = a.UserID
	case delivery.RoleRestaurant:
		f.RestaurantID = a.RestaurantID
	case delivery.RoleCourier:
		f.CourierID, f.Offered = a.UserID, true
	case delivery.RoleAdmin:
		f.All = true
	default:
		return nil, "", delivery.Errorf(delivery.EFORBIDDEN, "unknown role")
	}
	list, err := s.store.ListOrders(ctx, f)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) == f.Limit {
		next = list[len(list)-1].ID.String()
	}
	return list, next, nil
}

// SetStatus moves the order to status to if a may (delivery.CheckTransition).
// With ifMatch set, the change applies only if the order's seq is still
// *ifMatch (EPRECONDITION otherwise).
func (s *Service) SetStatus(ctx context.Context, a delivery.Actor, id delivery.ID, to delivery.Status, reason string, ifMatch *int64) (delivery.Order, error) {
	rule := delivery.TextRule{Max: MaxReasonLen, Multiline: true}
	if a.Role == delivery.RoleAdmin {
		rule.Max = MaxAdminReasonLen
	}
	reason, err := delivery.CheckText("reason", reason, rule)
	if err != nil {
		return delivery.Order{}, err
	}
	return s.updateEstimated(ctx, id, func(o *delivery.Order) (delivery.Change, error) {
		if !delivery.IsParty(*o, a) {
			return delivery.Change{}, forbidden()
		}
		if ifMatch != nil && *ifMatch != o.Seq {
			return delivery.Change{}, delivery.Errorf(delivery.EPRECONDITION, "order is at seq %d, not %d", o.Seq, *ifMatch)
		}
		if err := delivery.CheckTransition(*o, a, to, reason); err != nil {
			return delivery.Change{}, err
		}
		o.Status = to
		if to == delivery.StatusCancelled || to == delivery.StatusRejected {
			o.Reason = reason
		}
		return delivery.Change{Type: delivery.EventOrderStatus}, nil
	})
}

// Claim assigns courier a to the order. Of two concurrent claims one wins;
// the other sees the courier set and gets EALREADYASSIGNED.
func (s *Service) Claim(ctx context.Context, a delivery.Actor, id delivery.ID) (delivery.Order, error) {
	if a.Role != delivery.RoleCourier {
		return delivery.Order{}, delivery.Errorf(delivery.EFORBIDDEN, "only couriers claim orders")
	}
	return s.updateEstimated(ctx, id, func(o *delivery.Order) (delivery.Change, error) {
		if err := delivery.CheckClaim(*o, a); err != nil {
			return delivery.Change{}, err
		}
		courier := a.UserID
		o.CourierID = &courier
		return delivery.Change{Type: delivery.EventOrderAssigned, MaxActive: s.maxActive}, nil
	})
}

// MaxUnassignReasonLen bounds the reason of an unassign (API.md).
const MaxUnassignReasonLen = 200

// Unassign takes the courier off the order, for the order's restaurant or
// an admin (delivery.CheckUnassign), which offers it to couriers again.
// The order.unassigned event carries the order (no courier), the courier
// removed and the reason;
// the hub ends that courier's subscriptions to the order with it.
func (s *Service) Unassign(ctx context.Context, a delivery.Actor, id delivery.ID, reason string) (delivery.Order, error) {
	reason, err := delivery.CheckText("reason", reason, delivery.TextRule{Max: MaxUnassignReasonLen, Required: true, Multiline: true})
	if err != nil {
		return delivery.Order{}, err
	}
	return s.updateEstimated(ctx, id, func(o *delivery.Order) (delivery.Change, error) {
		if !delivery.IsParty(*o, a) {
			return delivery.Change{}, forbidden()
		}
		if err := delivery.CheckUnassign(*o, a); err != nil {
			return delivery.Change{}, err
		}
		removed := *o.CourierID
		o.CourierID = nil
		return delivery.Change{Type: delivery.EventOrderUnassigned, Payload: func(after delivery.Order) any {
			return delivery.Unassigned{Order: after, UnassignedCourierID: removed, Reason: reason}
		}}, nil
	})
}

// AppendEvent records a durable event of a trusted backend caller (the
// publish API) on the order, with the next seq; the order itself is
// unchanged but for its seq and updated_at.
func (s *Service) AppendEvent(ctx context.Context, id delivery.ID, eventType string, data json.RawMessage) (delivery.Order, delivery.Event, error) {
	o, ev, err := s.store.UpdateOrder(ctx, id, func(*delivery.Order) (delivery.Change, error) {
		return delivery.Change{Type: eventType, Data: data}, nil
	})
	if err != nil {
		return delivery.Order{}, delivery.Event{}, err
	}
	s.publish(ctx, o, ev)
	return o, ev, nil
}

// update runs mutate in the store's transaction and publishes the event it
// committed.
func (s *Service) update(ctx context.Context, id delivery.ID, mutate func(*delivery.Order) (delivery.Change, error)) (delivery.Order, error) {
	o, ev, err := s.store.UpdateOrder(ctx, id, mutate)
	if err != nil {
		return delivery.Order{}, err
	}
	s.publish(ctx, o, ev)
	return o, nil
}

// updateEstimated is update for a change of the lifecycle, which moves
// the order's ETA (reestimate): the order comes back with it.
func (s *Service) updateEstimated(ctx context.Context, id delivery.ID, mutate func(*delivery.Order) (delivery.Change, error)) (delivery.Order, error) {
	o, err := s.update(ctx, id, mutate)
	if err != nil {
		return delivery.Order{}, err
	}
	return s.reestimate(ctx, o), nil
}

// Events replays the order's durable events after seq after, for parties.
func (s *Service) Events(ctx context.Context, a delivery.Actor, id delivery.ID, after int64, limit int) ([]delivery.Event, error) {
	if after < 0 {
		return nil, delivery.Errorf(delivery.EINVALID, "after: must not be negative")
	}
	if limit == 0 {
		limit = DefaultEventLimit
	}
	if limit < 1 || limit > MaxEventLimit {
		return nil, delivery.Errorf(delivery.EINVALID, "limit: must be 1 to %d", MaxEventLimit)
	}
	o, err := s.store.OrderByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if !delivery.IsParty(o, a) {
		return nil, forbidden()
	}
	return s.store.EventsAfter(ctx, id, after, limit)
}
