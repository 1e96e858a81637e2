package delivery

import (
	"context"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// EventCourierLocation is the ephemeral event carrying a courier's
// position to the channels of the courier's active orders.
const EventCourierLocation = "courier.location"

// MaxLocationSkew is how far in the future a position's ts may lie: phone
// clocks drift, but a position from the future would block every real one
// after it (ts may not go back).
const MaxLocationSkew = time.Minute

// MaxLocationAge is how old (by its ts) a position may be and still be
// shown to anyone; LocationStores keep none longer.
const MaxLocationAge = 10 * time.Minute

// LocationUpdate is a position as a courier sends it (REST body and the
// websocket location frame alike). Pointers tell absent from zero; Ts is
// milliseconds since the epoch, 0 when absent.
type LocationUpdate struct {
	Lat     *float64 `json:"lat"`
	Lng     *float64 `json:"lng"`
	Heading *float64 `json:"heading,omitempty"`
	Speed   *float64 `json:"speed,omitempty"`
	Ts      int64    `json:"ts"`
}

// Location is an accepted position of a courier: the payload of
// courier.location and what a party gets on subscribe.
type Location struct {
	CourierID ID       `json:"courier_id"`
	Lat       float64  `json:"lat"`
	Lng       float64  `json:"lng"`
	Heading   *float64 `json:"heading,omitempty"`
	Speed     *float64 `json:"speed,omitempty"`
	Ts        int64    `json:"ts"`
}

// AppendJSON appends l as JSON to b, byte for byte what json.Marshal
// makes of it, without the reflection: a courier's position is encoded
// every second for its orders' channels and the shared store. A
// coordinate that is NaN or infinite is refused, as json.Marshal refuses
// it. It is no MarshalJSON: encoding/json would check such a method's
// output again, which costs more than its reflection saved.
func (l Location) AppendJSON(b []byte) ([]byte, error) {
	b = slices.Grow(b, 128)
	b = append(b, `{"courier_id":"`...)
	b = strconv.AppendInt(b, int64(l.CourierID), 10) // ID's own encoding, a string
	b = append(b, `","lat":`...)
	b, err := appendFloat(b, l.Lat)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"lng":`...)
	if b, err = appendFloat(b, l.Lng); err != nil {
		return nil, err
	}
	if l.Heading != nil {
		b = append(b, `,"heading":`...)
		if b, err = appendFloat(b, *l.Heading); err != nil {
			return nil, err
		}
	}
	if l.Speed != nil {
		b = append(b, `,"speed":`...)
		if b, err = appendFloat(b, *l.Speed); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, l.Ts, 10)
	return append(b, '}'), nil
}

// appendFloat appends f as encoding/json encodes a float64 (its
// floatEncoder, as ES6 formats numbers): the shortest decimal, in
// exponent form for a magnitude below 1e-6 or from 1e21 up, the exponent
// without a padding zero ("1e-7", "1e+21").
func appendFloat(b []byte, f float64) ([]byte, error) {
	if !finite(f) {
		return nil, &json.UnsupportedValueError{Value: reflect.ValueOf(f), Str: strconv.FormatFloat(f, 'g', -1, 64)}
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1]
		b = b[:n-1]
	}
	return b, nil
}

// CheckLocation validates u as a position of courierID at now and returns
// it as a Location. Errors are EINVALID and name the field. Whether ts is
// older than the courier's last position is the LocationStore's to decide,
// atomically with storing it.
func CheckLocation(courierID ID, u LocationUpdate, now time.Time) (Location, error) {
	if err := checkCoord("lat", u.Lat, 90); err != nil {
		return Location{}, err
	}
	if err := checkCoord("lng", u.Lng, 180); err != nil {
		return Location{}, err
	}
	if u.Heading != nil && (!finite(*u.Heading) || *u.Heading < 0 || *u.Heading > 360) {
		return Location{}, Errorf(EINVALID, "heading: must be a number from 0 to 360")
	}
	if u.Speed != nil && (!finite(*u.Speed) || *u.Speed < 0) {
		return Location{}, Errorf(EINVALID, "speed: must be a number of at least 0")
	}
	switch {
	case u.Ts == 0:
		return Location{}, Errorf(EINVALID, "ts: required (milliseconds since the epoch)")
	case u.Ts < 0:
		return Location{}, Errorf(EINVALID, "ts: must be milliseconds since the epoch")
	case time.UnixMilli(u.Ts).After(now.Add(MaxLocationSkew)):
		return Location{}, Errorf(EINVALID, "ts: more than %s in the future", MaxLocationSkew)
	}
	return Location{CourierID: courierID, Lat: *u.Lat, Lng: *u.Lng, Heading: u.Heading, Speed: u.Speed, Ts: u.Ts}, nil
}

func checkCoord(field string, v *float64, limit float64) error {
	if v == nil {
		return Errorf(EINVALID, "%s: required", field)
	}
	if !finite(*v) || *v < -limit || *v > limit {
		return Errorf(EINVALID, "%s: must be a number from %g to %g", field, -limit, limit)
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// IsActiveDelivery reports whether o is one of its courier's active
// orders: assigned, and accepted but not yet delivered (or cancelled). Its
// parties see the courier's position exactly while this holds.
func IsActiveDelivery(o Order) bool {
	if o.CourierID == nil {
		return false
	}
	switch o.Status {
	case StatusAccepted, StatusPreparing, StatusReady, StatusPickedUp:
		return true
	}
	return false
}

// ShowsLocation reports whether the parties of o may be given loc at now:
// o is an active delivery of loc's courier, loc was taken after that
// courier was assigned to o (not from home, nor during an earlier
// assignment), and loc is at most MaxLocationAge old.
func ShowsLocation(o Order, loc Location, now time.Time) bool {
	if !IsActiveDelivery(o) || *o.CourierID != loc.CourierID || o.AssignedAt == nil {
		return false
	}
	return ShowsLocationOf(ActiveOrder{ID: o.ID, Seq: o.Seq, AssignedAt: *o.AssignedAt}, loc, now)
}

// LocationStore keeps the last accepted position of each courier, one
// entry per courier. Implementations: internal/location/memory (one
// instance) and a Redis one shared by instances, both held to
// internal/location/locationtest.
type LocationStore interface {
	// Put stores loc as the last position of loc.CourierID unless the
	// stored one has a later Ts, atomically (two concurrent Puts never
	// leave the older one stored). It reports whether loc was stored; a
	// Ts equal to the stored one is stored (a resend is no error). The
	// entry expires MaxLocationAge after loc.Ts. prev is the position loc
	// replaced, in the same step: nil when there was none (or it had
	// expired) or loc was not stored. Of racing Puts, each stored one is
	// told of the one it replaced, so that the chain of a courier's
	// positions is known across instances (arrival detection relies on
	// it).
	Put(ctx context.Context, loc Location) (prev *Location, stored bool, err error)
	// Get returns the last position of courierID, if any that has not
	// expired.
	Get(ctx context.Context, courierID ID) (Location, bool, error)
}

// ActiveOrder is an active delivery of a courier as a position is routed
// by it: the order's seq when it was read (the position goes to no
// subscriber given a later event, which may have ended the delivery) and
// when the courier was assigned (an older position is not shown), and what
// arrival detection and the ETA need of it, read in the same query.
type ActiveOrder struct {
	ID           ID
	Seq          int64
	AssignedAt   time.Time
	Status       Status
	CustomerID   ID
	RestaurantID ID
	CourierID    ID // 0 when none (an order's ETA before a claim)
	// AcceptedAt is zero if unknown (an order accepted before it was
	// recorded); PrepMinutes is the restaurant's.
	AcceptedAt  time.Time
	PrepMinutes int
	// Pickup is the restaurant's place, Dropoff the order's; nil when not
	// set.
	Pickup, Dropoff         *Place
	PickupStay, DropoffStay Stay
	ETA                     *ETA
}

// ActiveOf returns o as ActiveOrder, with its restaurant's prepMinutes:
// what the ETA of a change of the order starts from, as that of a
// position does.
func ActiveOf(o Order, prepMinutes int) ActiveOrder {
	a := ActiveOrder{
		ID: o.ID, Seq: o.Seq, Status: o.Status, CustomerID: o.CustomerID, RestaurantID: o.RestaurantID,
		PrepMinutes: prepMinutes, Pickup: o.RestaurantPlace, Dropoff: o.Dropoff(),
		PickupStay: o.PickupStay, DropoffStay: o.DropoffStay, ETA: o.ETA.Clone(),
	}
	if o.CourierID != nil {
		a.CourierID = *o.CourierID
	}
	if o.AssignedAt != nil {
		a.AssignedAt = *o.AssignedAt
	}
	if o.AcceptedAt != nil {
		a.AcceptedAt = *o.AcceptedAt
	}
	return a
}

// Stay returns the stay record at place at.
func (o ActiveOrder) Stay(at Arrival) Stay {
	if at == AtDropoff {
		return o.DropoffStay
	}
	return o.PickupStay
}

// Place returns the place at, nil when it is not set.
func (o ActiveOrder) Place(at Arrival) *Place {
	if at == AtDropoff {
		return o.Dropoff
	}
	return o.Pickup
}

// ShowsLocationOf is ShowsLocation for an ActiveOrder of loc's courier.
func ShowsLocationOf(o ActiveOrder, loc Location, now time.Time) bool {
	taken := time.UnixMilli(loc.Ts)
	return taken.After(o.AssignedAt) && !taken.Before(now.Add(-MaxLocationAge))
}
