package orders_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/wire"
)

func TestPlaceValidation(t *testing.T) {
	e := newEnv(t)
	valid := func() orders.PlaceRequest {
		return orders.PlaceRequest{RestaurantID: e.w.r, Items: []orders.ItemInput{{MenuItemID: e.w.pizza.ID, Quantity: 1}}, DeliveryAddress: "Main Street 1"}
	}
	tooMany := make([]orders.ItemInput, orders.MaxItems+1)
	for i := range tooMany {
		tooMany[i] = orders.ItemInput{MenuItemID: e.w.pizza.ID, Quantity: 1}
	}
	tests := []struct {
		name  string
		edit  func(*orders.PlaceRequest)
		key   string
		code  string
		field string
	}{
		{"no key", nil, "", delivery.EINVALID, "Idempotency-Key"},
		{"long key", nil, strings.Repeat("k", orders.MaxIdempotencyKey+1), delivery.EINVALID, "Idempotency-Key"},
		{"no restaurant", func(r *orders.PlaceRequest) { r.RestaurantID = 0 }, "k", delivery.EINVALID, "restaurant_id"},
		{"no items", func(r *orders.PlaceRequest) { r.Items = nil }, "k", delivery.EINVALID, "items"},
		{"too many lines", func(r *orders.PlaceRequest) { r.Items = tooMany }, "k", delivery.EINVALID, "items"},
		{"no menu item", func(r *orders.PlaceRequest) { r.Items[0].MenuItemID = 0 }, "k", delivery.EINVALID, "items[0].menu_item_id"},
		{"zero quantity", func(r *orders.PlaceRequest) { r.Items[0].Quantity = 0 }, "k", delivery.EINVALID, "items[0].quantity"},
		{"quantity too high", func(r *orders.PlaceRequest) {
			r.Items = append(r.Items, orders.ItemInput{MenuItemID: e.w.pasta.ID, Quantity: orders.MaxQuantity + 1})
		}, "k", delivery.EINVALID, "items[1].quantity"},
		{"blank address", func(r *orders.PlaceRequest) { r.DeliveryAddress = "  " }, "k", delivery.EINVALID, "delivery_address"},
		{"long address", func(r *orders.PlaceRequest) { r.DeliveryAddress = strings.Repeat("a", orders.MaxAddressLen+1) }, "k", delivery.EINVALID, "delivery_address"},
		{"long notes", func(r *orders.PlaceRequest) { r.Notes = strings.Repeat("n", orders.MaxNotesLen+1) }, "k", delivery.EINVALID, "notes"},
		{"unknown restaurant", func(r *orders.PlaceRequest) { r.RestaurantID = 1 << 40 }, "k", delivery.EUNPROCESSABLE, "restaurant_id"},
		{"item of another restaurant", func(r *orders.PlaceRequest) { r.Items[0].MenuItemID = e.w.sushi.ID }, "k", delivery.EUNPROCESSABLE, "items[0].menu_item_id"},
		{"unavailable item", func(r *orders.PlaceRequest) {
			r.Items = append(r.Items, orders.ItemInput{MenuItemID: e.w.soldOut.ID, Quantity: 1})
		}, "k", delivery.EUNPROCESSABLE, "items[1]"},
		{"drop-off latitude alone", func(r *orders.PlaceRequest) { r.DeliveryLat = f64(52.5) }, "k", delivery.EINVALID, "delivery_lng"},
		{"drop-off longitude alone", func(r *orders.PlaceRequest) { r.DeliveryLng = f64(13.4) }, "k", delivery.EINVALID, "delivery_lat"},
		{"drop-off latitude out of range", func(r *orders.PlaceRequest) { r.DeliveryLat, r.DeliveryLng = f64(-90.5), f64(0) }, "k", delivery.EINVALID, "delivery_lat"},
		{"drop-off longitude out of range", func(r *orders.PlaceRequest) { r.DeliveryLat, r.DeliveryLng = f64(0), f64(180.5) }, "k", delivery.EINVALID, "delivery_lng"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := valid()
			if tt.edit != nil {
				tt.edit(&req)
			}
			_, _, err := e.svc.Place(t.Context(), e.w.customer, req, tt.key)
			wantField(t, err, tt.code, tt.field)
			e.outbox.wantNone(t)
		})
	}
}

func TestPlaceOnlyCustomers(t *testing.T) {
	e := newEnv(t)
	req := orders.PlaceRequest{RestaurantID: e.w.r, Items: []orders.ItemInput{{MenuItemID: e.w.pizza.ID, Quantity: 1}}, DeliveryAddress: "x"}
	for _, a := range []delivery.Actor{e.w.staff, e.w.courier, e.w.admin} {
		_, _, err := e.svc.Place(t.Context(), a, req, "k")
		wantCode(t, err, delivery.EFORBIDDEN)
	}
	e.outbox.wantNone(t)
}

// The client sends ids and quantities only: names and prices are the
// menu's, and the order.created event goes to the order's channel and
// the feeds of its customer and restaurant with seq 1.
func TestPlacePricedFromMenu(t *testing.T) {
	e := newEnv(t)
	req := orders.PlaceRequest{
		RestaurantID:    e.w.r,
		Items:           []orders.ItemInput{{MenuItemID: e.w.pizza.ID, Quantity: 2}, {MenuItemID: e.w.pasta.ID, Quantity: 1}},
		DeliveryAddress: "  Main Street 1 ",
		Notes:           "ring twice",
	}
	o, created, err := e.svc.Place(t.Context(), e.w.customer, req, "k1")
	must(t, err)
	if !created || o.ID == 0 || o.Seq != 1 || o.Status != delivery.StatusPlaced || o.CustomerID != e.w.customer.UserID ||
		o.RestaurantID != e.w.r || o.CourierID != nil || o.DeliveryAddress != "Main Street 1" || o.Notes != "ring twice" {
		t.Fatalf("Place = %+v, created=%v", o, created)
	}
	wantItems := []delivery.OrderItem{
		{MenuItemID: e.w.pizza.ID, Name: "Margherita", Quantity: 2, PriceCents: 850},
		{MenuItemID: e.w.pasta.ID, Name: "Carbonara", Quantity: 1, PriceCents: 1200},
	}
	if !slices.Equal(o.Items, wantItems) || o.TotalCents != 2*850+1200 {
		t.Fatalf("items %+v total %d, want %+v total %d", o.Items, o.TotalCents, wantItems, 2*850+1200)
	}

	c := e.outbox.takeOne(t)
	if c.ev.Type != delivery.EventOrderCreated || c.ev.OrderID != o.ID || c.ev.Seq != 1 {
		t.Fatalf("event %+v, want order.created of %s at seq 1", c.ev, o.ID)
	}
	want := []string{wire.OrderChannel(o.ID), wire.UserChannel(e.w.customer.UserID), wire.RestaurantChannel(e.w.r)}
	if got := channels(c.pubs); !slices.Equal(got, want) {
		t.Fatalf("channels %q, want %q", got, want)
	}
	for _, p := range c.pubs {
		if p.Event != delivery.EventOrderCreated || p.Seq != 1 || string(p.Data) != string(c.ev.Data) || p.Ts != c.ev.CreatedAt.UnixMilli() {
			t.Fatalf("publication %+v: want the event at seq 1", p)
		}
	}
}

func TestPlaceIdempotency(t *testing.T) {
	e := newEnv(t)
	req := orders.PlaceRequest{RestaurantID: e.w.r, Items: []orders.ItemInput{{MenuItemID: e.w.pizza.ID, Quantity: 1}}, DeliveryAddress: "Main Street 1"}
	first, created, err := e.svc.Place(t.Context(), e.w.customer, req, "k1")
	if err != nil || !created {
		t.Fatalf("first: created=%v, err=%v", created, err)
	}
	e.outbox.takeOne(t)

	// A retry differing only in surrounding spaces is the same request.
	retry := req
	retry.DeliveryAddress = " Main Street 1 "
	again, created, err := e.svc.Place(t.Context(), e.w.customer, retry, "k1")
	must(t, err)
	if created || again.ID != first.ID || again.Seq != first.Seq {
		t.Fatalf("retry = %+v, created=%v; want order %s, created=false", again, created, first.ID)
	}
	e.outbox.wantNone(t)

	other := req
	other.Items = []orders.ItemInput{{MenuItemID: e.w.pizza.ID, Quantity: 2}}
	_, _, err = e.svc.Place(t.Context(), e.w.customer, other, "k1")
	wantCode(t, err, delivery.EIDEMPOTENCY)
	e.outbox.wantNone(t)

	// The drop-off place is part of the request: placed with one, a
	// retry must send the same, and one elsewhere is another request.
	there := req
	there.DeliveryLat, there.DeliveryLng = f64(48.8584), f64(2.2945)
	withPlace, created, err := e.svc.Place(t.Context(), e.w.customer, there, "k2")
	must(t, err)
	if d := withPlace.Dropoff(); !created || d == nil || *d != (delivery.Place{Lat: 48.8584, Lng: 2.2945}) {
		t.Fatalf("placed with a drop-off: %+v (drop-off %+v), created=%v", withPlace, d, created)
	}
	e.outbox.takeOne(t)
	if again, created, err := e.svc.Place(t.Context(), e.w.customer, there, "k2"); err != nil || created || again.ID != withPlace.ID {
		t.Fatalf("retry with the drop-off: %+v, created=%v, %v", again, created, err)
	}
	for _, differs := range []orders.PlaceRequest{req, func() orders.PlaceRequest { r := there; r.DeliveryLng = f64(2.2946); return r }()} {
		_, _, err = e.svc.Place(t.Context(), e.w.customer, differs, "k2")
		wantCode(t, err, delivery.EIDEMPOTENCY)
	}
	e.outbox.wantNone(t)

	// Keys are the customer's own: another customer's k1 is a new order.
	o2, created, err := e.svc.Place(t.Context(), e.w.customer2, req, "k1")
	must(t, err)
	if !created || o2.ID == first.ID || o2.CustomerID != e.w.customer2.UserID {
		t.Fatalf("another customer's key: %+v created=%v", o2, created)
	}
	e.outbox.takeOne(t)
}

func f64(v float64) *float64 { return &v }
