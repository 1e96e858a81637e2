package delivery_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// TestCheckUnassignEveryStatusAndRole: only the order's restaurant and
// admins unassign, only from accepted to ready, only with a courier.
func TestCheckUnassignEveryStatusAndRole(t *testing.T) {
	courier := delivery.ID(30)
	actors := map[string]delivery.Actor{
		"customer":         {UserID: 10, Role: delivery.RoleCustomer},
		"restaurant":       {UserID: 20, Role: delivery.RoleRestaurant, RestaurantID: 2},
		"other restaurant": {UserID: 21, Role: delivery.RoleRestaurant, RestaurantID: 3},
		"courier":          {UserID: courier, Role: delivery.RoleCourier},
		"other courier":    {UserID: 31, Role: delivery.RoleCourier},
		"admin":            {UserID: 1, Role: delivery.RoleAdmin},
	}
	between := map[delivery.Status]bool{delivery.StatusAccepted: true, delivery.StatusPreparing: true, delivery.StatusReady: true}
	for _, st := range delivery.Statuses {
		for _, assigned := range []bool{true, false} {
			o := delivery.Order{ID: 1, Status: st, CustomerID: 10, RestaurantID: 2}
			if assigned {
				o.CourierID = &courier
			}
			for name, a := range actors {
				t.Run(fmt.Sprintf("%s:%s:assigned=%v", name, st, assigned), func(t *testing.T) {
					want := ""
					switch {
					case name != "restaurant" && name != "admin":
						want = delivery.EFORBIDDEN
					case !assigned || !between[st]:
						want = delivery.EINVALIDTRANSITION
					}
					err := delivery.CheckUnassign(o, a)
					if got := delivery.ErrorCode(err); (want == "" && err != nil) || (want != "" && got != want) {
						t.Fatalf("got %v, want %q", err, want)
					}
				})
			}
		}
	}
}

// TestShowsLocation: a position goes to the order's parties only while
// the order is an active delivery of its courier, taken after the
// assignment, and at most MaxLocationAge old.
func TestShowsLocation(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	assigned := now.Add(-5 * time.Minute).Add(500 * time.Microsecond)
	courier := delivery.ID(7)
	order := func(st delivery.Status, c *delivery.ID, at *time.Time) delivery.Order {
		return delivery.Order{ID: 1, Status: st, CourierID: c, AssignedAt: at}
	}
	early := now.Add(-time.Hour) // for the age cases
	other := delivery.ID(8)
	at := func(d time.Duration) int64 { return assigned.Add(d).UnixMilli() }
	for _, tc := range []struct {
		name string
		o    delivery.Order
		loc  delivery.Location
		want bool
	}{
		{"taken after the assignment", order(delivery.StatusPreparing, &courier, &assigned), delivery.Location{CourierID: 7, Ts: at(time.Millisecond)}, true},
		{"the assignment's millisecond, before its microsecond", order(delivery.StatusPreparing, &courier, &assigned), delivery.Location{CourierID: 7, Ts: at(0)}, false},
		{"taken before the assignment", order(delivery.StatusReady, &courier, &assigned), delivery.Location{CourierID: 7, Ts: at(-time.Minute)}, false},
		{"another courier's", order(delivery.StatusReady, &courier, &assigned), delivery.Location{CourierID: other, Ts: at(time.Minute)}, false},
		{"no courier", order(delivery.StatusAccepted, nil, nil), delivery.Location{CourierID: 7, Ts: at(time.Minute)}, false},
		{"no assignment time", order(delivery.StatusAccepted, &courier, nil), delivery.Location{CourierID: 7, Ts: at(time.Minute)}, false},
		{"delivered", order(delivery.StatusDelivered, &courier, &assigned), delivery.Location{CourierID: 7, Ts: now.UnixMilli()}, false},
		{"picked up", order(delivery.StatusPickedUp, &courier, &assigned), delivery.Location{CourierID: 7, Ts: now.UnixMilli()}, true},
		{"exactly MaxLocationAge old", order(delivery.StatusPickedUp, &courier, &early), delivery.Location{CourierID: 7, Ts: now.Add(-delivery.MaxLocationAge).UnixMilli()}, true},
		{"older than MaxLocationAge", order(delivery.StatusPickedUp, &courier, &early), delivery.Location{CourierID: 7, Ts: now.Add(-delivery.MaxLocationAge - time.Millisecond).UnixMilli()}, false},
	} {
		if got := delivery.ShowsLocation(tc.o, tc.loc, now); got != tc.want {
			t.Errorf("%s: ShowsLocation = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestOfferView: the offer view counts every piece and names the
// restaurant; SeesOffer holds for couriers who are no party, while the
// order is offered.
func TestOfferView(t *testing.T) {
	created := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	o := delivery.Order{ID: 5, Status: delivery.StatusReady, Seq: 4, CustomerID: 1, RestaurantID: 2, RestaurantName: "Luigi's",
		Items:      []delivery.OrderItem{{Quantity: 2, PriceCents: 100}, {Quantity: 3, PriceCents: 50}},
		TotalCents: 350, DeliveryAddress: "secret", Notes: "secret", CreatedAt: created}
	want := delivery.OfferView{ID: 5, Status: delivery.StatusReady, Seq: 4, RestaurantID: 2, RestaurantName: "Luigi's", ItemsCount: 5, TotalCents: 350, CreatedAt: created}
	if got := delivery.Offer(o); got != want {
		t.Fatalf("Offer = %+v, want %+v", got, want)
	}
	courier := delivery.Actor{UserID: 9, Role: delivery.RoleCourier}
	if !delivery.SeesOffer(o, courier) {
		t.Error("a courier does not see the offer view of an offered order")
	}
	for name, a := range map[string]delivery.Actor{
		"customer": {UserID: 1, Role: delivery.RoleCustomer}, "restaurant": {UserID: 3, Role: delivery.RoleRestaurant, RestaurantID: 2},
		"admin": {UserID: 4, Role: delivery.RoleAdmin},
	} {
		if delivery.SeesOffer(o, a) {
			t.Errorf("%s sees only the offer view", name)
		}
	}
	id := courier.UserID
	mine := o
	mine.CourierID = &id
	if delivery.SeesOffer(mine, courier) {
		t.Error("the assigned courier sees only the offer view")
	}
}
