package delivery

// Place is a point on the map, in degrees (WGS 84): a restaurant's, or an
// order's drop-off.
type Place struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// Restaurant preparation estimates, in minutes (API.md, "Where the courier
// is").
const (
	DefaultPrepMinutes = 15
	MaxPrepMinutes     = 240
)

// MaxRestaurantNameLen bounds a restaurant's name, at registration and
// when it changes.
const MaxRestaurantNameLen = 100

// CheckPlace validates an optional place given as two coordinates named
// latField and lngField: both or neither (nil), latitude -90..90 and
// longitude -180..180. Errors are EINVALID naming the field.
func CheckPlace(latField, lngField string, lat, lng *float64) (*Place, error) {
	switch {
	case lat == nil && lng == nil:
		return nil, nil
	case lat == nil:
		return nil, Errorf(EINVALID, "%s: required with %s", latField, lngField)
	case lng == nil:
		return nil, Errorf(EINVALID, "%s: required with %s", lngField, latField)
	}
	if err := checkCoord(latField, lat, 90); err != nil {
		return nil, err
	}
	if err := checkCoord(lngField, lng, 180); err != nil {
		return nil, err
	}
	return &Place{Lat: *lat, Lng: *lng}, nil
}

// CheckPrepMinutes validates a restaurant's preparation estimate.
func CheckPrepMinutes(field string, m int) error {
	if m < 1 || m > MaxPrepMinutes {
		return Errorf(EINVALID, "%s: must be 1 to %d", field, MaxPrepMinutes)
	}
	return nil
}

// RestaurantPatch holds the fields of a restaurant to change; nil ones stay.
type RestaurantPatch struct {
	Name        *string
	Place       *Place
	PrepMinutes *int
}

// Arrival places: where a courier.arrived says the courier is.
type Arrival string

const (
	AtPickup  Arrival = "pickup"  // the restaurant, while the order is accepted, preparing or ready
	AtDropoff Arrival = "dropoff" // the drop-off, while it is picked up
)

// ArrivalOf returns the place a courier on order status s heads for, and
// false for a status with none (placed, and the terminal ones).
func ArrivalOf(s Status) (Arrival, bool) {
	switch s {
	case StatusAccepted, StatusPreparing, StatusReady:
		return AtPickup, true
	case StatusPickedUp:
		return AtDropoff, true
	}
	return "", false
}

// EventCourierArrived is the durable event of an assigned courier's
// arrival at one of the order's places, once per order and place.
const EventCourierArrived = "courier.arrived"

// Arrived is the payload of courier.arrived; Ts is the ts of the position
// that completed the stay.
type Arrived struct {
	OrderID   ID      `json:"order_id"`
	CourierID ID      `json:"courier_id"`
	At        Arrival `json:"at"`
	Ts        int64   `json:"ts"`
}

// Stay is the store's record of the assigned courier's positions near one
// place of an order, what internal/geo decides arrivals from: kept in the
// store, not in one instance's memory, so that positions reaching
// different instances make one stay.
type Stay struct {
	// From is the ts of the first position of the current run within
	// reach of the place, 0 when there is none; Last the ts of the last
	// position applied to the record, 0 when none was.
	From, Last int64
	// Arrived: courier.arrived was appended for this place; nothing
	// changes the stay afterwards.
	Arrived bool
}

// EventOrderETA is the ephemeral, latest-value estimate of an order's
// pickup and delivery times.
const EventOrderETA = "order.eta"

// ETA bases: what the estimate starts from.
const (
	BasisPrep      = "prep"       // the restaurant's preparation time; no courier position used
	BasisToPickup  = "to_pickup"  // the courier's way to the restaurant, then to the drop-off
	BasisToDropoff = "to_dropoff" // the courier's way to the drop-off, the food on board
)

// ETA is an order's estimate, the payload of order.eta and the order's
// eta: times in milliseconds since the epoch, PickupAt nil once picked up.
// At is when the server made it (ms), which spaces estimates apart; it is
// the store's record, not sent.
type ETA struct {
	OrderID   ID     `json:"order_id"`
	PickupAt  *int64 `json:"pickup_at,omitempty"`
	DeliverAt int64  `json:"deliver_at"`
	Basis     string `json:"basis"`
	At        int64  `json:"-"`
}

// Clone returns a copy of e that shares nothing with it; nil stays nil.
func (e *ETA) Clone() *ETA {
	if e == nil {
		return nil
	}
	c := *e
	if e.PickupAt != nil {
		p := *e.PickupAt
		c.PickupAt = &p
	}
	return &c
}

// Dropoff returns the order's drop-off place, nil when it has none.
func (o Order) Dropoff() *Place {
	if o.DeliveryLat == nil || o.DeliveryLng == nil {
		return nil
	}
	return &Place{Lat: *o.DeliveryLat, Lng: *o.DeliveryLng}
}

// StayAt returns the order's stay record at place a.
func (o Order) StayAt(a Arrival) Stay {
	if a == AtDropoff {
		return o.DropoffStay
	}
	return o.PickupStay
}

// SetStayAt sets the order's stay record at place a.
func (o *Order) SetStayAt(a Arrival, st Stay) {
	if a == AtDropoff {
		o.DropoffStay = st
	} else {
		o.PickupStay = st
	}
}
