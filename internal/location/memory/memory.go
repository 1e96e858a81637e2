// Package memory is the in-process delivery.LocationStore of a single
// instance: one entry per courier, so its size is bounded by the number
// of couriers who sent a position in the last delivery.MaxLocationAge,
// and positions are lost on restart (they are seconds old by nature; the
// next update restores them).
package memory

import (
	"context"
	"sync"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

var _ delivery.LocationStore = (*Store)(nil)

// sweepEvery is how often Put drops the expired entries of every courier:
// a courier who stopped sending is never read again to be dropped.
const sweepEvery = delivery.MaxLocationAge / 10

// Store keeps the last position of each courier in a map.
type Store struct {
	now     func() time.Time
	mu      sync.Mutex
	last    map[delivery.ID]delivery.Location
	sweepAt time.Time // the next sweep is due
}

// New returns an empty store on the real clock.
func New() *Store { return NewWithClock(time.Now) }

// NewWithClock returns an empty store that expires positions by now;
// tests move it instead of waiting.
func NewWithClock(now func() time.Time) *Store {
	return &Store{now: now, last: make(map[delivery.ID]delivery.Location)}
}

// Put stores loc unless the courier's stored position is newer; the lock
// makes the comparison and the write one step.
func (s *Store) Put(_ context.Context, loc delivery.Location) (*delivery.Location, bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !now.Before(s.sweepAt) {
		for id, l := range s.last {
			if expired(l, now) {
				delete(s.last, id)
			}
		}
		s.sweepAt = now.Add(sweepEvery)
	}
	prev, ok := s.last[loc.CourierID]
	if ok && prev.Ts > loc.Ts {
		return nil, false, nil
	}
	s.last[loc.CourierID] = clone(loc)
	if !ok || expired(prev, now) {
		return nil, true, nil
	}
	return &prev, true, nil
}

// Get returns the courier's last position unless it expired.
func (s *Store) Get(_ context.Context, courierID delivery.ID) (delivery.Location, bool, error) {
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	loc, ok := s.last[courierID]
	if ok && expired(loc, now) {
		delete(s.last, courierID)
		return delivery.Location{}, false, nil
	}
	return clone(loc), ok, nil
}

func expired(loc delivery.Location, now time.Time) bool {
	return time.UnixMilli(loc.Ts).Before(now.Add(-delivery.MaxLocationAge))
}

// clone copies the optional fields, so that no caller shares them with
// the map.
func clone(loc delivery.Location) delivery.Location {
	if loc.Heading != nil {
		v := *loc.Heading
		loc.Heading = &v
	}
	if loc.Speed != nil {
		v := *loc.Speed
		loc.Speed = &v
	}
	return loc
}
