// Package memory is the in-process Bus: one instance, or several hubs in
// one process sharing a Broker (as the tests of multi-instance behaviour
// do before Redis is involved).
package memory

import (
	"context"
	"errors"
	"sync"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Broker connects the Buses of one process, as Redis connects instances.
type Broker struct {
	mu   sync.RWMutex
	subs map[string]map[*Bus]struct{} // channel → subscribed buses
}

// NewBroker returns an empty broker.
func NewBroker() *Broker {
	return &Broker{subs: make(map[string]map[*Bus]struct{})}
}

// New returns a Bus on a broker of its own: a single instance.
func New() *Bus { return NewBroker().NewBus() }

// Bus is one instance's connection to a Broker. Publish calls the
// subscribed handlers synchronously, in the publisher's goroutine, which is
// what makes the per-publisher order of delivery.Bus hold; handlers must
// not block (the hub's only queue).
type Bus struct {
	broker *Broker
	// mu is held for reading while the handler runs, so that Close, which
	// takes it for writing, returns only after the last call ended.
	mu      sync.RWMutex
	handler delivery.BusHandler
	closed  bool
}

var _ delivery.Bus = (*Bus)(nil)

// NewBus returns a Bus on b.
func (b *Broker) NewBus() *Bus { return &Bus{broker: b} }

var errClosed = errors.New("memory bus: closed")

// Start sets the handler.
func (m *Bus) Start(h delivery.BusHandler) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.handler != nil {
		return errors.New("memory bus: started twice")
	}
	m.handler = h
	return nil
}

// Publish hands msgs, in order, to every subscribed bus's handler before
// it returns.
func (m *Bus) Publish(_ context.Context, msgs ...delivery.BusMessage) error {
	if m.isClosed() {
		return errClosed
	}
	b := m.broker
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, msg := range msgs {
		for sub := range b.subs[msg.Channel] {
			sub.deliver(msg)
		}
	}
	return nil
}

func (m *Bus) deliver(msg delivery.BusMessage) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if !m.closed && m.handler != nil {
		m.handler.HandleMessage(msg)
	}
}

func (m *Bus) isClosed() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.closed
}

// Subscribe is effective at once; subscribing twice is a no-op.
func (m *Bus) Subscribe(_ context.Context, channel string) error {
	if m.isClosed() {
		return errClosed
	}
	b := m.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	set := b.subs[channel]
	if set == nil {
		set = make(map[*Bus]struct{}, 1)
		b.subs[channel] = set
	}
	set[m] = struct{}{}
	return nil
}

// Unsubscribe is effective at once.
func (m *Bus) Unsubscribe(_ context.Context, channel string) error {
	b := m.broker
	b.mu.Lock()
	defer b.mu.Unlock()
	m.unsubscribeLocked(channel)
	return nil
}

func (m *Bus) unsubscribeLocked(channel string) {
	set := m.broker.subs[channel]
	delete(set, m)
	if len(set) == 0 {
		delete(m.broker.subs, channel)
	}
}

// Close unsubscribes from everything and waits for handler calls in
// progress to end.
func (m *Bus) Close() error {
	b := m.broker
	b.mu.Lock()
	for ch, set := range b.subs {
		if _, ok := set[m]; ok {
			m.unsubscribeLocked(ch)
		}
	}
	b.mu.Unlock()
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}
