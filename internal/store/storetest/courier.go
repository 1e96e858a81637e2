package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// assign sets the order's courier (nil: none) through UpdateOrder with
// the change's MaxActive cap, as a claim or an unassign does.
func (f *fixture) assign(t *testing.T, id delivery.ID, courier *delivery.ID, maxActive int) (delivery.Order, error) {
	t.Helper()
	o, _, err := f.s.UpdateOrder(t.Context(), id, func(o *delivery.Order) (delivery.Change, error) {
		o.CourierID = courier
		return delivery.Change{Type: delivery.EventOrderAssigned, MaxActive: maxActive}, nil
	})
	return o, err
}

// accepted creates an order and accepts it, with no courier.
func (f *fixture) accepted(t *testing.T) delivery.Order {
	t.Helper()
	o := f.createOrder(t, f.customer.ID, f.r)
	return f.set(t, o.ID, delivery.StatusAccepted, nil)
}

// testAssignedAt: the store records when the courier was assigned, keeps
// it while that courier stays, renews it for another courier or a
// reassignment, clears it without a courier, and mutate cannot forge it.
func testAssignedAt(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.accepted(t)
	if o.AssignedAt != nil {
		t.Fatalf("AssignedAt = %v without a courier", o.AssignedAt)
	}
	forged := o.CreatedAt.Add(-time.Hour)
	got, _, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		cur.CourierID, cur.AssignedAt = ptr(f.courier.ID), &forged
		return delivery.Change{Type: delivery.EventOrderAssigned}, nil
	})
	must(t, err)
	if got.AssignedAt == nil || !got.AssignedAt.Equal(got.UpdatedAt) {
		t.Fatalf("AssignedAt = %v, want the assignment's time %v", got.AssignedAt, got.UpdatedAt)
	}
	wantUTCMicro(t, "AssignedAt", *got.AssignedAt)
	first := *got.AssignedAt
	stored, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	deepEqual(t, "stored", stored, got)

	later := f.set(t, o.ID, delivery.StatusPreparing, ptr(f.courier.ID))
	if later.AssignedAt == nil || !later.AssignedAt.Equal(first) {
		t.Fatalf("AssignedAt moved to %v on a status change, want %v", later.AssignedAt, first)
	}
	other := f.set(t, o.ID, delivery.StatusPreparing, ptr(f.courier2.ID))
	if other.AssignedAt == nil || !other.AssignedAt.Equal(other.UpdatedAt) {
		t.Fatalf("another courier: AssignedAt = %v, want %v", other.AssignedAt, other.UpdatedAt)
	}
	none := f.set(t, o.ID, delivery.StatusPreparing, nil)
	stored, err = s.OrderByID(ctx, o.ID)
	must(t, err)
	if none.AssignedAt != nil || stored.AssignedAt != nil {
		t.Fatalf("unassigned: AssignedAt = %v, stored %v; want none", none.AssignedAt, stored.AssignedAt)
	}
	again := f.set(t, o.ID, delivery.StatusPreparing, ptr(f.courier.ID))
	if again.AssignedAt == nil || !again.AssignedAt.Equal(again.UpdatedAt) || !again.AssignedAt.After(first) {
		t.Fatalf("reassigned: AssignedAt = %v, want the new assignment's time %v", again.AssignedAt, again.UpdatedAt)
	}
	list, err := s.ListOrders(ctx, delivery.OrderFilter{CourierID: f.courier.ID})
	must(t, err)
	if len(list) != 1 || list[0].AssignedAt == nil || !list[0].AssignedAt.Equal(*again.AssignedAt) {
		t.Fatalf("listed: %+v", list)
	}
}

// testMaxActive: a change with MaxActive refuses to give a courier more
// active orders than that, counting only the courier's active ones.
func testMaxActive(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	const max = 2
	var held []delivery.Order
	for range max {
		o, err := f.assign(t, f.accepted(t).ID, ptr(f.courier.ID), max)
		must(t, err)
		held = append(held, o)
	}
	extra := f.accepted(t)
	_, err := f.assign(t, extra.ID, ptr(f.courier.ID), max)
	wantCode(t, err, delivery.ETOOMANYACTIVE)
	stored, err := s.OrderByID(ctx, extra.ID)
	must(t, err)
	deepEqual(t, "refused order", stored, extra)
	evs, err := s.EventsAfter(ctx, extra.ID, extra.Seq, 0)
	must(t, err)
	if len(evs) != 0 {
		t.Fatalf("a refused claim appended %+v", evs)
	}
	// Other couriers, and changes without the cap, are not limited.
	_, err = f.assign(t, extra.ID, ptr(f.courier2.ID), max)
	must(t, err)
	// A change of an order the courier already holds counts that order once.
	_, _, err = s.UpdateOrder(ctx, held[0].ID, func(o *delivery.Order) (delivery.Change, error) {
		o.Status = delivery.StatusPreparing
		return delivery.Change{Type: delivery.EventOrderStatus, MaxActive: max}, nil
	})
	must(t, err)
	// Delivered (and cancelled) orders are not active: room again.
	f.set(t, held[1].ID, delivery.StatusDelivered, ptr(f.courier.ID))
	next := f.accepted(t)
	_, err = f.assign(t, next.ID, ptr(f.courier.ID), max)
	must(t, err)
	_, err = f.assign(t, f.accepted(t).ID, ptr(f.courier.ID), max)
	wantCode(t, err, delivery.ETOOMANYACTIVE)
}

// testMaxActiveConcurrent: one courier claiming many orders at once gets
// exactly MaxActive of them, however the claims interleave.
func testMaxActiveConcurrent(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	const n, max = 12, 3
	orders := make([]delivery.Order, n)
	for i := range orders {
		orders[i] = f.accepted(t)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, o := range orders {
		wg.Go(func() { _, errs[i] = f.assign(t, o.ID, ptr(f.courier.ID), max) })
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case delivery.ErrorCode(err) != delivery.ETOOMANYACTIVE:
			t.Fatalf("claim %d: %v", i, err)
		}
	}
	active, err := s.ActiveOrdersOfCourier(ctx, f.courier.ID)
	must(t, err)
	if won != max || len(active) != max {
		t.Fatalf("%d claims won, courier holds %d active orders; want %d", won, len(active), max)
	}
}

// testRestaurantName: every order the store returns names its restaurant.
func testRestaurantName(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	a := f.createOrder(t, f.customer.ID, f.r)
	b := f.createOrder(t, f.customer.ID, f.r2)
	if a.RestaurantName != "Pizza" || b.RestaurantName != "Sushi" {
		t.Fatalf("created: %q, %q", a.RestaurantName, b.RestaurantName)
	}
	got, err := s.OrderByID(ctx, b.ID)
	must(t, err)
	updated, _, err := s.UpdateOrder(ctx, b.ID, func(o *delivery.Order) (delivery.Change, error) {
		o.RestaurantName = "Forged"
		return delivery.Change{Type: delivery.EventOrderStatus}, nil
	})
	must(t, err)
	list, err := s.ListOrders(ctx, delivery.OrderFilter{CustomerID: f.customer.ID})
	must(t, err)
	if got.RestaurantName != "Sushi" || updated.RestaurantName != "Sushi" || len(list) != 2 ||
		list[0].RestaurantName != "Sushi" || list[1].RestaurantName != "Pizza" {
		t.Fatalf("OrderByID %q, UpdateOrder %q, ListOrders %+v", got.RestaurantName, updated.RestaurantName, list)
	}
}

// testChangePayload: Change.Payload makes the event's payload from the
// order after the change, its seq and times included.
func testChangePayload(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	o := f.createOrder(t, f.customer.ID, f.r)
	got, ev, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		cur.Status = delivery.StatusAccepted
		return delivery.Change{Type: "order.test", Payload: func(after delivery.Order) any {
			return delivery.Unassigned{Order: after, UnassignedCourierID: 77, Reason: "why"}
		}}, nil
	})
	must(t, err)
	var p delivery.Unassigned
	decodeInto(t, ev.Data, &p)
	if p.UnassignedCourierID != 77 || p.CourierID != nil || p.Reason != "why" || p.Seq != got.Seq || p.Status != delivery.StatusAccepted || !p.UpdatedAt.Equal(got.UpdatedAt) {
		t.Fatalf("payload %s for order %+v", ev.Data, got)
	}
}
