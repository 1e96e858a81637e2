package delivery

import "slices"

// Status is a state of the order lifecycle (API.md, "Order lifecycle").
type Status string

const (
	StatusPlaced    Status = "placed"
	StatusAccepted  Status = "accepted"
	StatusRejected  Status = "rejected"
	StatusPreparing Status = "preparing"
	StatusReady     Status = "ready"
	StatusPickedUp  Status = "picked_up"
	StatusDelivered Status = "delivered"
	StatusCancelled Status = "cancelled"
)

// Statuses lists every status, in lifecycle order.
var Statuses = []Status{
	StatusPlaced, StatusAccepted, StatusRejected, StatusPreparing,
	StatusReady, StatusPickedUp, StatusDelivered, StatusCancelled,
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s Status) Terminal() bool {
	return s == StatusDelivered || s == StatusRejected || s == StatusCancelled
}

// mover is who may make a transition.
type mover int

const (
	byCustomer mover = iota
	byRestaurant
	byCourier
	byAdmin
)

// transition is one row of the lifecycle table: mover may move an order
// from one of from to to.
type transition struct {
	to   Status
	by   mover
	from []Status
}

// transitions is the table of API.md, and the only place it is written.
var transitions = []transition{
	{StatusAccepted, byRestaurant, []Status{StatusPlaced}},
	{StatusRejected, byRestaurant, []Status{StatusPlaced}},
	{StatusPreparing, byRestaurant, []Status{StatusAccepted}},
	{StatusReady, byRestaurant, []Status{StatusPreparing}},
	{StatusPickedUp, byCourier, []Status{StatusReady}},
	{StatusDelivered, byCourier, []Status{StatusPickedUp}},
	{StatusCancelled, byCustomer, []Status{StatusPlaced}},
	{StatusCancelled, byRestaurant, []Status{StatusAccepted, StatusPreparing, StatusReady}},
	{StatusCancelled, byAdmin, []Status{StatusPlaced, StatusAccepted, StatusPreparing, StatusReady, StatusPickedUp}},
}

// moverOf says which of the order's movers a is, if any.
func moverOf(o Order, a Actor) (mover, bool) {
	switch {
	case a.Role == RoleCustomer && o.CustomerID == a.UserID:
		return byCustomer, true
	case a.Role == RoleRestaurant && a.RestaurantID != 0 && o.RestaurantID == a.RestaurantID:
		return byRestaurant, true
	case a.Role == RoleCourier && o.CourierID != nil && *o.CourierID == a.UserID:
		return byCourier, true
	case a.Role == RoleAdmin:
		return byAdmin, true
	}
	return 0, false
}

// CheckTransition decides whether a may move o to status to.
// It returns EINVALID for an unknown status or a cancel by a restaurant or
// an admin without a reason, EFORBIDDEN when a may never make that move on
// this order, and
// EINVALIDTRANSITION when a may make it but not from the order's status.
func CheckTransition(o Order, a Actor, to Status, reason string) error {
	if !to.Valid() {
		return Errorf(EINVALID, "status: unknown status %q", Truncate(string(to), 32))
	}
	m, ok := moverOf(o, a)
	if !ok {
		return Errorf(EFORBIDDEN, "not allowed to change this order")
	}
	permitted := false
	for _, t := range transitions {
		if t.to != to || t.by != m {
			continue
		}
		permitted = true
		for _, f := range t.from {
			if f == o.Status {
				if to == StatusCancelled && (m == byRestaurant || m == byAdmin) && reason == "" {
					return Errorf(EINVALID, "reason: required when a restaurant or an admin cancels")
				}
				return nil
			}
		}
	}
	if !permitted {
		return Errorf(EFORBIDDEN, "not allowed to set status %s", to)
	}
	return Errorf(EINVALIDTRANSITION, "cannot move order from %s to %s", o.Status, to)
}

// CheckClaim decides whether courier a may claim o: the order must be
// between accepted and picked_up and have no courier yet.
func CheckClaim(o Order, a Actor) error {
	if a.Role != RoleCourier {
		return Errorf(EFORBIDDEN, "only couriers claim orders")
	}
	if o.CourierID != nil {
		return Errorf(EALREADYASSIGNED, "order already has a courier")
	}
	if !IsOffered(o) {
		return Errorf(EINVALIDTRANSITION, "order in status %s cannot be claimed", o.Status)
	}
	return nil
}

// CheckUnassign decides whether a may take the courier off o: the order's
// restaurant or an admin, while the order is accepted, preparing or ready
// (not once the courier has the food) and has a courier.
func CheckUnassign(o Order, a Actor) error {
	if m, ok := moverOf(o, a); a.Role != RoleAdmin && (!ok || m != byRestaurant) {
		return Errorf(EFORBIDDEN, "only the order's restaurant or an admin unassigns its courier")
	}
	if o.CourierID == nil {
		return Errorf(EINVALIDTRANSITION, "order has no courier")
	}
	switch o.Status {
	case StatusAccepted, StatusPreparing, StatusReady:
		return nil
	}
	return Errorf(EINVALIDTRANSITION, "cannot unassign the courier of an order in status %s", o.Status)
}

// StatusSetter returns the role of the party that moved o to its status,
// as far as the order alone tells it (the transition table): ok is false
// for placed, and for a cancel with a reason, which either party may give
// (a restaurant must; a customer may). A cancel without one is the
// customer's.
func StatusSetter(o Order) (role Role, ok bool) {
	roles := map[mover]Role{byCustomer: RoleCustomer, byRestaurant: RoleRestaurant, byCourier: RoleCourier}
	var movers []mover
	for _, t := range transitions {
		if t.to == o.Status && !slices.Contains(movers, t.by) {
			movers = append(movers, t.by)
		}
	}
	switch {
	case len(movers) == 1:
		return roles[movers[0]], true
	case o.Status == StatusCancelled && o.Reason == "":
		return RoleCustomer, true
	}
	return "", false
}
