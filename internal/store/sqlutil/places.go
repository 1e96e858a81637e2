package sqlutil

import "github.com/ordercast/ordercast/internal/delivery"

// StayStatuses is, in SQL, the statuses in which a courier heads for
// place at (delivery.ArrivalOf): a stay is written only while they hold.
func StayStatuses(at delivery.Arrival) string {
	if at == delivery.AtDropoff {
		return `('picked_up')`
	}
	return `('accepted', 'preparing', 'ready')`
}

// StayColumns names the columns of the stay at place at: from, last and
// arrived.
func StayColumns(at delivery.Arrival) (from, last, arrived string) {
	if at == delivery.AtDropoff {
		return "dropoff_from", "dropoff_last", "dropoff_arrived"
	}
	return "pickup_from", "pickup_last", "pickup_arrived"
}

// ETAColumns holds the eta columns of an order row as scanned; At nil
// means the order has no estimate.
type ETAColumns struct {
	At, PickupAt, DeliverAt *int64
	Basis                   *string
}

// ETA returns the estimate the columns hold for orderID, nil for none.
func (c ETAColumns) ETA(orderID delivery.ID) *delivery.ETA {
	if c.At == nil || c.DeliverAt == nil || c.Basis == nil {
		return nil
	}
	e := &delivery.ETA{OrderID: orderID, DeliverAt: *c.DeliverAt, Basis: *c.Basis, At: *c.At}
	if c.PickupAt != nil {
		p := *c.PickupAt
		e.PickupAt = &p
	}
	return e
}

// ETAArgs returns the values of the eta columns for e (all nil for none):
// at, pickup_at, deliver_at, basis.
func ETAArgs(e *delivery.ETA) (at, pickup, deliver, basis any) {
	if e == nil {
		return nil, nil, nil, nil
	}
	var p any
	if e.PickupAt != nil {
		p = *e.PickupAt
	}
	return e.At, p, e.DeliverAt, e.Basis
}

// PrepMinutes is the preparation estimate a restaurant is created with.
func PrepMinutes(r delivery.Restaurant) int {
	if r.PrepMinutes == 0 {
		return delivery.DefaultPrepMinutes
	}
	return r.PrepMinutes
}

// PlaceArgs returns the values of a place's two columns (nil, nil for
// none).
func PlaceArgs(p *delivery.Place) (lat, lng any) {
	if p == nil {
		return nil, nil
	}
	return p.Lat, p.Lng
}

// PlaceOf returns the place two nullable columns hold.
func PlaceOf(lat, lng *float64) *delivery.Place {
	if lat == nil || lng == nil {
		return nil
	}
	return &delivery.Place{Lat: *lat, Lng: *lng}
}
