package orders_test

import (
	"slices"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/orders"
)

func ids(list []delivery.Order) []delivery.ID {
	out := make([]delivery.ID, len(list))
	for i, o := range list {
		out[i] = o.ID
	}
	return out
}

func TestList(t *testing.T) {
	e := newEnv(t)
	w := e.w
	placed := e.place()
	offered := e.accepted()
	mine := e.assigned() // w.courier's
	theirs := e.claim(w.courier2, e.setStatus(w.staff, e.placeAs(w.customer2).ID, delivery.StatusAccepted).ID)
	elsewhere, _, err := e.svc.Place(t.Context(), w.customer2, orders.PlaceRequest{
		RestaurantID: w.r2, Items: []orders.ItemInput{{MenuItemID: w.sushi.ID, Quantity: 1}}, DeliveryAddress: "Side Street 2",
	}, "k")
	must(t, err)

	tests := []struct {
		who  string
		a    delivery.Actor
		want []delivery.Order // newest first
	}{
		{"customer", w.customer, []delivery.Order{mine, offered, placed}},
		{"other customer", w.customer2, []delivery.Order{elsewhere, theirs}},
		{"staff", w.staff, []delivery.Order{theirs, mine, offered, placed}},
		{"other staff", w.staff2, []delivery.Order{elsewhere}},
		{"courier: own and offered", w.courier, []delivery.Order{mine, offered}},
		{"other courier", w.courier2, []delivery.Order{theirs, offered}},
		{"admin", w.admin, []delivery.Order{elsewhere, theirs, mine, offered, placed}},
	}
	for _, tt := range tests {
		t.Run(tt.who, func(t *testing.T) {
			list, next, err := e.svc.List(t.Context(), tt.a, orders.ListRequest{})
			must(t, err)
			if got, want := ids(list), ids(tt.want); !slices.Equal(got, want) || next != "" {
				t.Fatalf("List = %v next %q, want %v and no next page", got, next, want)
			}
		})
	}

	list, _, err := e.svc.List(t.Context(), w.staff, orders.ListRequest{Status: delivery.StatusPlaced})
	must(t, err)
	if got := ids(list); !slices.Equal(got, []delivery.ID{placed.ID}) {
		t.Fatalf("placed orders of staff: %v, want %v", got, placed.ID)
	}
}

func TestListPaging(t *testing.T) {
	e := newEnv(t)
	var want []delivery.ID
	for range 5 {
		want = slices.Insert(want, 0, e.place().ID)
	}
	var got []delivery.ID
	req := orders.ListRequest{Limit: 2}
	for pages := 0; ; pages++ {
		if pages > len(want) {
			t.Fatalf("paging does not end: %v", got)
		}
		list, next, err := e.svc.List(t.Context(), e.w.customer, req)
		must(t, err)
		got = append(got, ids(list)...)
		if next == "" {
			break
		}
		req.Cursor = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages gave %v, want %v", got, want)
	}

	for _, req := range []orders.ListRequest{
		{Status: "eaten"}, {Limit: -1}, {Limit: delivery.MaxPageLimit + 1}, {Cursor: "x"}, {Cursor: "-3"},
	} {
		_, _, err := e.svc.List(t.Context(), e.w.customer, req)
		wantCode(t, err, delivery.EINVALID)
	}
	_, _, err := e.svc.List(t.Context(), delivery.Actor{UserID: e.w.customer.UserID, Role: "guest"}, orders.ListRequest{})
	wantCode(t, err, delivery.EFORBIDDEN)
}

// Get shows an offered order to every courier; everything else of an
// order stays with its parties.
func TestGet(t *testing.T) {
	e := newEnv(t)
	o := e.accepted()
	for _, a := range []delivery.Actor{e.w.customer, e.w.staff, e.w.courier, e.w.courier2, e.w.admin} {
		if got, err := e.svc.Get(t.Context(), a, o.ID); err != nil || got.ID != o.ID {
			t.Fatalf("Get as %s = %+v, %v", a.Role, got, err)
		}
	}
	for _, a := range []delivery.Actor{e.w.customer2, e.w.staff2} {
		_, err := e.svc.Get(t.Context(), a, o.ID)
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	e.claim(e.w.courier, o.ID)
	_, err := e.svc.Get(t.Context(), e.w.courier2, o.ID)
	wantCode(t, err, delivery.EFORBIDDEN)
	_, err = e.svc.Get(t.Context(), e.w.admin, 1<<40)
	wantCode(t, err, delivery.ENOTFOUND)
}

func TestEvents(t *testing.T) {
	e := newEnv(t)
	offered := e.accepted()
	o := e.assigned() // created, accepted, assigned
	all, err := e.svc.Events(t.Context(), e.w.customer, o.ID, 0, 0)
	must(t, err)
	var types []string
	for i, ev := range all {
		if ev.OrderID != o.ID || ev.Seq != int64(i+1) {
			t.Fatalf("event %d = %+v", i, ev)
		}
		types = append(types, ev.Type)
	}
	if want := []string{delivery.EventOrderCreated, delivery.EventOrderStatus, delivery.EventOrderAssigned}; !slices.Equal(types, want) {
		t.Fatalf("events %q, want %q", types, want)
	}
	for _, a := range []delivery.Actor{e.w.staff, e.w.courier, e.w.admin} {
		page, err := e.svc.Events(t.Context(), a, o.ID, 1, 1)
		if err != nil || len(page) != 1 || page[0].Seq != 2 {
			t.Fatalf("Events(after 1, limit 1) as %s = %+v, %v", a.Role, page, err)
		}
	}

	for _, a := range []delivery.Actor{e.w.customer2, e.w.staff2, e.w.courier2} {
		_, err := e.svc.Events(t.Context(), a, o.ID, 0, 0)
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	// Couriers see an offered order, not its events.
	_, err = e.svc.Events(t.Context(), e.w.courier2, offered.ID, 0, 0)
	wantCode(t, err, delivery.EFORBIDDEN)
	_, err = e.svc.Events(t.Context(), e.w.admin, 1<<40, 0, 0)
	wantCode(t, err, delivery.ENOTFOUND)
	_, err = e.svc.Events(t.Context(), e.w.customer, o.ID, -1, 0)
	wantField(t, err, delivery.EINVALID, "after")
	for _, limit := range []int{-1, orders.MaxEventLimit + 1} {
		_, err = e.svc.Events(t.Context(), e.w.customer, o.ID, 0, limit)
		wantField(t, err, delivery.EINVALID, "limit")
	}
}
