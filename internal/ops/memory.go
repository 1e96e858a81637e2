package ops

import (
	"context"
	"sync"
	"time"
)

// Memory is Heartbeats in process: without Redis the fleet is this
// instance (and, in tests, the instances sharing one Memory).
type Memory struct {
	mu    sync.Mutex
	beats map[string]memoryBeat
}

type memoryBeat struct {
	hb      Heartbeat
	expires time.Time
}

var _ Heartbeats = (*Memory)(nil)

// NewMemory returns an empty Memory.
func NewMemory() *Memory { return &Memory{beats: make(map[string]memoryBeat)} }

func (m *Memory) Put(_ context.Context, hb Heartbeat, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.beats[hb.ID] = memoryBeat{hb: hb, expires: time.Now().Add(ttl)}
	return nil
}

func (m *Memory) List(context.Context) ([]Heartbeat, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	out := make([]Heartbeat, 0, len(m.beats))
	for id, b := range m.beats {
		if !now.Before(b.expires) {
			delete(m.beats, id)
			continue
		}
		out = append(out, b.hb)
	}
	return out, nil
}

func (m *Memory) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.beats, id)
	return nil
}
