package geo

import (
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// An arrival (courier.arrived): the assigned courier's positions stay
// within ArrivalRadius of the place for at least ArrivalDwell by their ts;
// two or more positions, none between the first and the last outside.
const (
	ArrivalRadius = 50.0 // metres
	ArrivalDwell  = 5 * time.Second
)

// StayStep is what one position does to a stay.
type StayStep struct {
	Next delivery.Stay
	// Write: Next differs from the stay, and the store must record it
	// over the stay it was made from (compare and set).
	Write bool
	// Arrived: Next completes the stay (Next.Arrived is set): the store
	// records it with the courier.arrived event.
	Arrived bool
}

// Step applies a position of the courier at pos, taken at ts, to stay,
// the record of the courier's positions near place. prevTs is the ts of
// the courier's position before this one, as the position store had it (0:
// none), which tells whether the record holds every position since its run
// began: positions reach different instances, and one that another
// instance has not recorded yet (or never will: it failed, it lost a race)
// may have been outside. A run goes on only over an unbroken chain; any
// doubt starts a new run at this position, which may delay an arrival by
// a position or two, never make one up.
//
// A position far from the place while no run is going changes nothing and
// costs no write; neither does one no newer than the last recorded (out
// of order, or sent twice), nor any after the arrival.
func Step(stay delivery.Stay, place, pos delivery.Place, ts, prevTs int64) StayStep {
	if stay.Arrived || ts <= stay.Last {
		return StayStep{Next: stay}
	}
	if Distance(place, pos) > ArrivalRadius {
		if stay.From == 0 {
			return StayStep{Next: stay}
		}
		return StayStep{Next: delivery.Stay{Last: ts}, Write: true}
	}
	next := delivery.Stay{From: ts, Last: ts}
	if stay.From != 0 && stay.Last == prevTs {
		next.From = stay.From
	}
	next.Arrived = ts-next.From >= ArrivalDwell.Milliseconds()
	return StayStep{Next: next, Write: true, Arrived: next.Arrived}
}
