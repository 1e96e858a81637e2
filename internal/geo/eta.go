package geo

import (
	"math"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// DefaultSpeed is the courier's speed when no usable measure is at hand:
// 15 km/h, in metres per second.
const DefaultSpeed = 15 / 3.6

// A measured speed outside MinSpeed..MaxSpeed (m/s) is no measure: a
// courier standing at a light is expected to move on at DefaultSpeed, and
// a jump of the GPS is no speed. Successive positions more than
// SpeedWindow apart tell nothing of the recent speed.
const (
	MinSpeed    = 1.0
	MaxSpeed    = 40.0
	SpeedWindow = 2 * time.Minute
)

// Speed returns the courier's recent speed at loc in m/s: loc's own speed
// if the device gave a usable one, else the distance from prev (the
// courier's position before, nil if none) over the time between them, else
// DefaultSpeed.
func Speed(loc delivery.Location, prev *delivery.Location) float64 {
	if loc.Speed != nil && usable(*loc.Speed) {
		return *loc.Speed
	}
	if prev != nil {
		dt := time.Duration(loc.Ts-prev.Ts) * time.Millisecond
		if dt >= time.Second && dt <= SpeedWindow {
			v := Distance(delivery.Place{Lat: prev.Lat, Lng: prev.Lng}, delivery.Place{Lat: loc.Lat, Lng: loc.Lng}) / dt.Seconds()
			if usable(v) {
				return v
			}
		}
	}
	return DefaultSpeed
}

func usable(v float64) bool { return v >= MinSpeed && v <= MaxSpeed }

// Trip is what an estimate starts from: the order as the store has it
// and where its courier is.
type Trip struct {
	OrderID delivery.ID
	Status  delivery.Status
	// AcceptedAt and PrepMinutes say when the food is expected: zero
	// AcceptedAt (not recorded) counts from now.
	AcceptedAt  time.Time
	PrepMinutes int
	// Pickup is the restaurant's place, Dropoff the order's; a leg to or
	// from a place that is not set takes no time.
	Pickup, Dropoff *delivery.Place
	// Courier is the assigned courier's position, nil when there is none
	// to go by (no courier, or no position since the assignment).
	Courier *delivery.Place
	// Speed is the courier's recent speed in m/s (Speed); 0 is
	// DefaultSpeed.
	Speed float64
}

// TripOf returns the trip of an active order with its courier at courier
// (nil: none to go by) moving at speed.
func TripOf(o delivery.ActiveOrder, courier *delivery.Place, speed float64) Trip {
	return Trip{
		OrderID: o.ID, Status: o.Status, AcceptedAt: o.AcceptedAt, PrepMinutes: o.PrepMinutes,
		Pickup: o.Pickup, Dropoff: o.Dropoff, Courier: courier, Speed: speed,
	}
}

// Estimate returns the ETA of trip made at now, and false for an order
// with none (placed, or ended). The model:
//
//   - The food is ready PrepMinutes after the accept (now once the
//     order is ready, and never before now).
//   - Before the pickup, with a courier position and a restaurant place
//     (basis to_pickup), the courier reaches the restaurant after the
//     distance to it at the courier's speed and takes the food when both
//     are there; otherwise (basis prep) the pickup is when the food is
//     ready.
//   - The delivery follows the pickup after the distance from the
//     restaurant to the drop-off at the same speed (basis to_dropoff once
//     picked up: from the courier's position, or the restaurant's without
//     one).
//
// Distances are straight lines (haversine): it knows nothing of roads,
// traffic, the kitchen's real load or the courier's other orders.
func Estimate(trip Trip, now time.Time) (delivery.ETA, bool) {
	v := trip.Speed
	if v <= 0 {
		v = DefaultSpeed
	}
	leg := func(from, to *delivery.Place) int64 {
		if from == nil || to == nil {
			return 0
		}
		return int64(math.Round(Distance(*from, *to) / v * 1000))
	}
	at := now.UnixMilli()
	eta := delivery.ETA{OrderID: trip.OrderID, At: at}
	switch trip.Status {
	case delivery.StatusPickedUp:
		from := trip.Courier
		if from == nil {
			from = trip.Pickup
		}
		eta.DeliverAt, eta.Basis = at+leg(from, trip.Dropoff), delivery.BasisToDropoff
		return eta, true
	case delivery.StatusAccepted, delivery.StatusPreparing, delivery.StatusReady:
	default:
		return delivery.ETA{}, false
	}
	ready := at
	if trip.Status != delivery.StatusReady {
		prep := time.Duration(trip.PrepMinutes) * time.Minute
		accepted := trip.AcceptedAt
		if accepted.IsZero() {
			accepted = now
		}
		ready = max(at, accepted.Add(prep).UnixMilli())
	}
	pickup, basis := ready, delivery.BasisPrep
	if trip.Courier != nil && trip.Pickup != nil {
		pickup, basis = max(ready, at+leg(trip.Courier, trip.Pickup)), delivery.BasisToPickup
	}
	eta.PickupAt, eta.DeliverAt, eta.Basis = &pickup, pickup+leg(trip.Pickup, trip.Dropoff), basis
	return eta, true
}

// An order's estimates are sent at most every ETAInterval, and only when
// one moved by ETAMove or more (either time, or its basis changed).
const (
	ETAInterval = 10 * time.Second
	ETAMove     = time.Minute
)

// Due reports whether next, made after last (nil: none yet), is to be
// stored and sent: the first always; a later one at least ETAInterval
// after last (by their At) and moved from it.
func Due(last *delivery.ETA, next delivery.ETA) bool {
	if last == nil {
		return true
	}
	if next.At-last.At < ETAInterval.Milliseconds() {
		return false
	}
	if next.Basis != last.Basis || moved(last.DeliverAt, next.DeliverAt) || (last.PickupAt == nil) != (next.PickupAt == nil) {
		return true
	}
	return next.PickupAt != nil && moved(*last.PickupAt, *next.PickupAt)
}

func moved(a, b int64) bool {
	d := a - b
	return d >= ETAMove.Milliseconds() || -d >= ETAMove.Milliseconds()
}
