package storetest

import (
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/outbox"
)

// OutboxStore is a store with the outbox side of its event log.
type OutboxStore interface {
	delivery.Store
	outbox.Store
}

// RunOutbox runs the contract of the outbox side of the event log; open
// is as Run's.
func RunOutbox(t *testing.T, open func(t *testing.T) OutboxStore) {
	t.Run("OldestUnpublished", func(t *testing.T) {
		t.Parallel()
		testOldestUnpublished(t, open(t))
	})
}

// testOldestUnpublished: the creation time of the oldest event not yet
// marked published, the zero time when there is none.
func testOldestUnpublished(t *testing.T, s OutboxStore) {
	ctx := t.Context()
	oldest := func() time.Time {
		t.Helper()
		at, err := s.OldestUnpublished(ctx)
		must(t, err)
		return at
	}
	if at := oldest(); !at.IsZero() {
		t.Fatalf("empty log: oldest unpublished %v, want zero", at)
	}
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	f.set(t, o.ID, delivery.StatusAccepted, nil)
	events, err := s.EventsAfter(ctx, o.ID, 0, 0)
	must(t, err)
	if len(events) != 2 {
		t.Fatalf("events %+v, want order.created and order.status", events)
	}
	if at := oldest(); !at.Equal(events[0].CreatedAt) {
		t.Fatalf("oldest unpublished %v, want order.created's %v", at, events[0].CreatedAt)
	}
	wantUTCMicro(t, "OldestUnpublished", oldest())
	must(t, s.MarkPublished(ctx, events[:1]))
	if at := oldest(); !at.Equal(events[1].CreatedAt) {
		t.Fatalf("after marking the first: oldest unpublished %v, want order.status's %v", at, events[1].CreatedAt)
	}
	must(t, s.MarkPublished(ctx, events[1:]))
	if at := oldest(); !at.IsZero() {
		t.Fatalf("every event marked: oldest unpublished %v, want zero", at)
	}
}
