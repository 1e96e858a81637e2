package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

func testListOrdersFilters(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	// One order per status without a courier, alternating customers and
	// restaurants, then a few assigned to couriers.
	var all []delivery.Order
	for i, st := range delivery.Statuses {
		customer, restaurant := f.customer.ID, f.r
		if i%2 == 1 {
			customer, restaurant = f.customer2.ID, f.r2
		}
		o := f.createOrder(t, customer, restaurant)
		if st != delivery.StatusPlaced {
			o = f.set(t, o.ID, st, nil)
		}
		all = append(all, o)
	}
	for _, a := range []struct {
		st      delivery.Status
		courier delivery.ID
	}{
		{delivery.StatusAccepted, f.courier.ID},
		{delivery.StatusReady, f.courier.ID},
		{delivery.StatusPickedUp, f.courier2.ID},
	} {
		o := f.createOrder(t, f.customer.ID, f.r2)
		all = append(all, f.set(t, o.ID, a.st, ptr(a.courier)))
	}
	slices.Reverse(all) // newest first

	where := func(keep func(o delivery.Order) bool) []delivery.ID {
		out := []delivery.ID{}
		for _, o := range all {
			if keep(o) {
				out = append(out, o.ID)
			}
		}
		return out
	}
	courierOf := func(o delivery.Order) delivery.ID {
		if o.CourierID == nil {
			return 0
		}
		return *o.CourierID
	}
	cases := []struct {
		name string
		f    delivery.OrderFilter
		want []delivery.ID
	}{
		{"nothing selected", delivery.OrderFilter{}, []delivery.ID{}},
		{"status alone selects nothing", delivery.OrderFilter{Status: delivery.StatusPlaced}, []delivery.ID{}},
		{"all", delivery.OrderFilter{All: true}, where(func(delivery.Order) bool { return true })},
		{"all by status", delivery.OrderFilter{All: true, Status: delivery.StatusAccepted},
			where(func(o delivery.Order) bool { return o.Status == delivery.StatusAccepted })},
		{"customer", delivery.OrderFilter{CustomerID: f.customer.ID},
			where(func(o delivery.Order) bool { return o.CustomerID == f.customer.ID })},
		{"restaurant", delivery.OrderFilter{RestaurantID: f.r2},
			where(func(o delivery.Order) bool { return o.RestaurantID == f.r2 })},
		{"courier", delivery.OrderFilter{CourierID: f.courier.ID},
			where(func(o delivery.Order) bool { return courierOf(o) == f.courier.ID })},
		{"offered", delivery.OrderFilter{Offered: true}, where(delivery.IsOffered)},
		{"courier or offered", delivery.OrderFilter{CourierID: f.courier2.ID, Offered: true},
			where(func(o delivery.Order) bool { return courierOf(o) == f.courier2.ID || delivery.IsOffered(o) })},
		{"courier or offered, ready", delivery.OrderFilter{CourierID: f.courier.ID, Offered: true, Status: delivery.StatusReady},
			where(func(o delivery.Order) bool {
				return (courierOf(o) == f.courier.ID || delivery.IsOffered(o)) && o.Status == delivery.StatusReady
			})},
		{"customer or restaurant", delivery.OrderFilter{CustomerID: f.customer2.ID, RestaurantID: f.r},
			where(func(o delivery.Order) bool { return o.CustomerID == f.customer2.ID || o.RestaurantID == f.r })},
		{"restaurant by status", delivery.OrderFilter{RestaurantID: f.r, Status: delivery.StatusPlaced},
			where(func(o delivery.Order) bool { return o.RestaurantID == f.r && o.Status == delivery.StatusPlaced })},
		{"unknown customer", delivery.OrderFilter{CustomerID: f.courier.ID}, []delivery.ID{}},
		{"before", delivery.OrderFilter{All: true, BeforeID: all[3].ID},
			where(func(o delivery.Order) bool { return o.ID < all[3].ID })},
		{"limit", delivery.OrderFilter{All: true, Limit: 2}, []delivery.ID{all[0].ID, all[1].ID}},
	}
	for _, tc := range cases {
		got, err := s.ListOrders(ctx, tc.f)
		must(t, err)
		if got == nil {
			t.Fatalf("%s: nil slice, want an empty one", tc.name)
		}
		deepEqual(t, tc.name, ids(got), tc.want)
	}
	// Listed orders are whole: the same as OrderByID.
	got, err := s.ListOrders(ctx, delivery.OrderFilter{All: true})
	must(t, err)
	deepEqual(t, "listed orders", got, all)
}

func testListOrdersPaging(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	var want []delivery.ID
	for range 7 {
		want = append(want, f.createOrder(t, f.customer.ID, f.r).ID)
		f.createOrder(t, f.customer2.ID, f.r) // interleaved, not listed
	}
	slices.Reverse(want)
	var got []delivery.ID
	filter := delivery.OrderFilter{CustomerID: f.customer.ID, Limit: 3}
	for page := 0; ; page++ {
		list, err := s.ListOrders(ctx, filter)
		must(t, err)
		if len(list) > 3 || page > 5 {
			t.Fatalf("page %d has %d orders", page, len(list))
		}
		if len(list) == 0 {
			break
		}
		got = append(got, ids(list)...)
		filter.BeforeID = list[len(list)-1].ID
	}
	deepEqual(t, "paged ids", got, want)
}

func testListOrdersLimit(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	for range 201 {
		f.createOrder(t, f.customer.ID, f.r)
	}
	for _, tc := range []struct{ limit, want int }{{0, 50}, {-1, 50}, {1, 1}, {200, 200}, {201, 200}, {10000, 200}} {
		list, err := s.ListOrders(ctx, delivery.OrderFilter{All: true, Limit: tc.limit})
		must(t, err)
		if len(list) != tc.want {
			t.Fatalf("Limit %d: %d orders, want %d", tc.limit, len(list), tc.want)
		}
	}
}

// testTimeRoundTrip: every time the store hands out is UTC with
// microsecond precision and comes back from a read exactly as it was
// returned by the write.
func testTimeRoundTrip(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	u, err := s.UserByID(ctx, f.staff.ID)
	must(t, err)
	if u.CreatedAt != f.staff.CreatedAt {
		t.Fatalf("user CreatedAt %v, stored %v", f.staff.CreatedAt, u.CreatedAt)
	}
	o := f.createOrder(t, f.customer.ID, f.r)
	o2, ev, err := s.UpdateOrder(ctx, o.ID, func(cur *delivery.Order) (delivery.Change, error) {
		return delivery.Change{Type: delivery.EventOrderStatus}, nil
	})
	must(t, err)
	for _, tm := range []time.Time{u.CreatedAt, o.CreatedAt, o.UpdatedAt, o2.UpdatedAt, ev.CreatedAt} {
		wantUTCMicro(t, "time", tm)
	}
	got, err := s.OrderByID(ctx, o.ID)
	must(t, err)
	if got.CreatedAt != o.CreatedAt || got.UpdatedAt != o2.UpdatedAt {
		t.Fatalf("order times read back as %v/%v, written %v/%v", got.CreatedAt, got.UpdatedAt, o.CreatedAt, o2.UpdatedAt)
	}
	list, err := s.ListOrders(ctx, delivery.OrderFilter{All: true})
	must(t, err)
	if list[0].CreatedAt != o.CreatedAt || list[0].UpdatedAt != o2.UpdatedAt {
		t.Fatal("listed order times differ from the written ones")
	}
	evs, err := s.EventsAfter(ctx, o.ID, 0, 0)
	must(t, err)
	if evs[1].CreatedAt != ev.CreatedAt {
		t.Fatalf("event time read back as %v, written %v", evs[1].CreatedAt, ev.CreatedAt)
	}
	// The order.created payload carries the same instants as the row.
	if data := decodeOrder(t, evs[0].Data); !data.CreatedAt.Equal(o.CreatedAt) {
		t.Fatalf("order.created shows CreatedAt %v, order has %v", data.CreatedAt, o.CreatedAt)
	}
}
