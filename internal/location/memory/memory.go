// Package memory is the in-process delivery.LocationStore of a single
// instance: one entry per courier, so its size is bounded by the number
// of couriers, and positions are lost on restart (they are seconds old
// by nature; the next update restores them).
package memory

import (
	"context"
	"sync"

	"github.com/ordercast/ordercast/internal/delivery"
)

var _ delivery.LocationStore = (*Store)(nil)

// Store keeps the last position of each courier in a map.
type Store struct {
	mu   sync.Mutex
	last map[delivery.ID]delivery.Location
}

// New returns an empty store.
func New() *Store {
	return &Store{last: make(map[delivery.ID]delivery.Location)}
}

// Put stores loc unless the courier's stored position is newer; the lock
// makes the comparison and the write one step.
func (s *Store) Put(_ context.Context, loc delivery.Location) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.last[loc.CourierID]; ok && prev.Ts > loc.Ts {
		return false, nil
	}
	s.last[loc.CourierID] = clone(loc)
	return true, nil
}

// Get returns the courier's last position.
func (s *Store) Get(_ context.Context, courierID delivery.ID) (delivery.Location, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	loc, ok := s.last[courierID]
	return clone(loc), ok, nil
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
