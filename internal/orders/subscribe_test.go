package orders_test

import (
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// Every channel kind × role of API.md's "Channels".
func TestMaySubscribe(t *testing.T) {
	e := newEnv(t)
	w := e.w
	assigned := e.assigned() // w.courier's
	offered := e.accepted()
	ok, no := "", delivery.EFORBIDDEN
	viewer := delivery.Actor{Role: delivery.RoleViewer, Order: assigned.ID}
	tests := []struct {
		channel string
		who     string
		a       delivery.Actor
		code    string
		seq     int64
	}{
		{wire.OrderChannel(assigned.ID), "customer", w.customer, ok, assigned.Seq},
		{wire.OrderChannel(assigned.ID), "other customer", w.customer2, no, 0},
		{wire.OrderChannel(assigned.ID), "staff", w.staff, ok, assigned.Seq},
		{wire.OrderChannel(assigned.ID), "other staff", w.staff2, no, 0},
		{wire.OrderChannel(assigned.ID), "assigned courier", w.courier, ok, assigned.Seq},
		{wire.OrderChannel(assigned.ID), "other courier", w.courier2, no, 0},
		{wire.OrderChannel(assigned.ID), "admin", w.admin, ok, assigned.Seq},
		{wire.OrderChannel(offered.ID), "courier of an offered order", w.courier2, no, 0},
		{wire.OrderChannel(offered.ID), "staff of an offered order", w.staff, ok, offered.Seq},

		{wire.UserChannel(w.customer.UserID), "the user", w.customer, ok, 0},
		{wire.UserChannel(w.courier.UserID), "the courier", w.courier, ok, 0},
		{wire.UserChannel(w.customer.UserID), "other customer", w.customer2, no, 0},
		{wire.UserChannel(w.customer.UserID), "the order's staff", w.staff, no, 0},
		{wire.UserChannel(w.customer.UserID), "the order's courier", w.courier, no, 0},
		{wire.UserChannel(w.customer.UserID), "admin", w.admin, ok, 0},

		{wire.RestaurantChannel(w.r), "staff", w.staff, ok, 0},
		{wire.RestaurantChannel(w.r), "other staff", w.staff2, no, 0},
		{wire.RestaurantChannel(w.r), "customer", w.customer, no, 0},
		{wire.RestaurantChannel(w.r), "courier", w.courier, no, 0},
		{wire.RestaurantChannel(w.r), "admin", w.admin, ok, 0},

		{wire.DispatchChannel, "courier", w.courier, ok, 0},
		{wire.DispatchChannel, "other courier", w.courier2, ok, 0},
		{wire.DispatchChannel, "customer", w.customer, no, 0},
		{wire.DispatchChannel, "staff", w.staff, no, 0},
		{wire.DispatchChannel, "admin", w.admin, ok, 0},

		{wire.OpsChannel, "admin", w.admin, ok, 0},
		{wire.OpsChannel, "customer", w.customer, no, 0},
		{wire.OpsChannel, "staff", w.staff, no, 0},
		{wire.OpsChannel, "courier", w.courier, no, 0},

		// A track channel is its order's viewers' only; a viewer holds
		// no other channel, its order's included.
		{wire.TrackChannel(assigned.ID), "viewer", viewer, ok, 0},
		{wire.TrackChannel(offered.ID), "viewer of another order", viewer, no, 0},
		{wire.TrackChannel(assigned.ID), "customer", w.customer, no, 0},
		{wire.TrackChannel(assigned.ID), "staff", w.staff, no, 0},
		{wire.TrackChannel(assigned.ID), "courier", w.courier, no, 0},
		{wire.TrackChannel(assigned.ID), "admin", w.admin, no, 0},
		{wire.OrderChannel(assigned.ID), "viewer", viewer, no, 0},
		{wire.UserChannel(w.customer.UserID), "viewer", viewer, no, 0},
		{wire.RestaurantChannel(w.r), "viewer", viewer, no, 0},
		{wire.DispatchChannel, "viewer", viewer, no, 0},
		{wire.OpsChannel, "viewer", viewer, no, 0},

		{wire.OrderChannel(1 << 40), "customer", w.customer, delivery.ENOTFOUND, 0},
		{wire.OrderChannel(1 << 40), "admin", w.admin, delivery.ENOTFOUND, 0},
	}
	for _, tt := range tests {
		t.Run(tt.channel+" "+tt.who, func(t *testing.T) {
			seq, err := e.svc.MaySubscribe(t.Context(), tt.a, tt.channel)
			if tt.code != "" {
				wantCode(t, err, tt.code)
				return
			}
			if err != nil || seq != tt.seq {
				t.Fatalf("MaySubscribe = %d, %v; want seq %d", seq, err, tt.seq)
			}
		})
	}
}

// The order is read afresh: a courier assigned a moment ago is a party,
// one unassigned a moment ago no longer, and the seq is the latest.
func TestMaySubscribeFresh(t *testing.T) {
	e := newEnv(t)
	o := e.accepted()
	ch := wire.OrderChannel(o.ID)
	_, err := e.svc.MaySubscribe(t.Context(), e.w.courier, ch)
	wantCode(t, err, delivery.EFORBIDDEN)
	o = e.claim(e.w.courier, o.ID)
	if seq, err := e.svc.MaySubscribe(t.Context(), e.w.courier, ch); err != nil || seq != o.Seq {
		t.Fatalf("after the claim: %d, %v; want seq %d", seq, err, o.Seq)
	}
	_, err = e.svc.Unassign(t.Context(), e.w.staff, o.ID, "late")
	must(t, err)
	_, err = e.svc.MaySubscribe(t.Context(), e.w.courier, ch)
	wantCode(t, err, delivery.EFORBIDDEN)
}

func TestMaySubscribeMalformed(t *testing.T) {
	e := newEnv(t)
	for _, ch := range []string{"", "order", "order:", "order:x", "order:01", "order:-1", "order:+1", "order: 1", "orders:1",
		"user:", "restaurant:1.5", "dispatch:1", "Dispatch", "order:12345678901234567890123456789", "ops:1", "ops.revoke"} {
		_, err := e.svc.MaySubscribe(t.Context(), e.w.admin, ch)
		wantCode(t, err, delivery.EINVALID)
	}
}
