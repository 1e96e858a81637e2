package orders_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/orders"
)

// unassignAfterRead is a store that takes the courier off the order just
// after the service read it: the unassign lands between the service's
// check and the store's lock.
type unassignAfterRead struct {
	delivery.Store
	armed atomic.Bool
}

func (s *unassignAfterRead) OrderByID(ctx context.Context, id delivery.ID) (delivery.Order, error) {
	o, err := s.Store.OrderByID(ctx, id)
	if err == nil && s.armed.CompareAndSwap(true, false) {
		_, _, err = s.Store.UpdateOrder(ctx, id, func(cur *delivery.Order) (delivery.Change, error) {
			cur.CourierID = nil
			return delivery.Change{Type: "test.unassigned"}, nil
		})
	}
	return o, err
}

// TestPostMessageRechecksThePartyUnderTheLock: a courier unassigned while
// its message was on the way posts nothing.
func TestPostMessageRechecksThePartyUnderTheLock(t *testing.T) {
	var racy *unassignAfterRead
	e := newEnvWith(t, func(cfg *orders.Config, _ *clock) {
		racy = &unassignAfterRead{Store: cfg.Store}
		cfg.Store = racy
	})
	o := e.assigned()
	racy.armed.Store(true)
	_, _, err := e.svc.PostMessage(t.Context(), e.w.courier, o.ID, delivery.MessageInput{Text: "on my way", ClientMsgID: "m1"})
	if delivery.ErrorCode(err) != delivery.EFORBIDDEN {
		t.Fatalf("post by the courier unassigned meanwhile: %v, want forbidden", err)
	}
	msgs, err := e.store.MessagesBefore(t.Context(), o.ID, 0, 10)
	if err != nil || len(msgs) != 0 {
		t.Fatalf("messages stored: %v %v", msgs, err)
	}
}
