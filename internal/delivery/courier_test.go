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

// offeredStatuses and activeStatuses are API.md's, written out apart from
// the implementation: couriers may claim "from accepted until picked_up,
// if no courier is assigned yet"; a courier's active orders are "those
// assigned to it from accepted until picked_up".
var (
	offeredStatuses = map[delivery.Status]bool{delivery.StatusAccepted: true, delivery.StatusPreparing: true, delivery.StatusReady: true}
	activeStatuses  = map[delivery.Status]bool{delivery.StatusAccepted: true, delivery.StatusPreparing: true, delivery.StatusReady: true, delivery.StatusPickedUp: true}
)

func TestIsOfferedEveryStatus(t *testing.T) {
	courier := delivery.ID(30)
	for _, st := range delivery.Statuses {
		if got := delivery.IsOffered(delivery.Order{Status: st}); got != offeredStatuses[st] {
			t.Errorf("%s without a courier: offered=%v, want %v", st, got, offeredStatuses[st])
		}
		if delivery.IsOffered(delivery.Order{Status: st, CourierID: &courier}) {
			t.Errorf("%s with a courier is offered", st)
		}
	}
}

// TestOrderVisibilityEveryStatusAndRole: who reads the order, who reads
// only its offer view, and who chats, for every status, with and without
// a courier.
func TestOrderVisibilityEveryStatusAndRole(t *testing.T) {
	courier := delivery.ID(30)
	actors := map[string]delivery.Actor{
		"customer":         {UserID: 10, Role: delivery.RoleCustomer},
		"other customer":   {UserID: 11, Role: delivery.RoleCustomer},
		"restaurant":       {UserID: 20, Role: delivery.RoleRestaurant, RestaurantID: 2},
		"other restaurant": {UserID: 21, Role: delivery.RoleRestaurant, RestaurantID: 3},
		"courier":          {UserID: courier, Role: delivery.RoleCourier}, // the order's, when it has one
		"other courier":    {UserID: 31, Role: delivery.RoleCourier},
		"admin":            {UserID: 1, Role: delivery.RoleAdmin},
	}
	type sight struct{ view, offerOnly, chat bool }
	for _, st := range delivery.Statuses {
		for _, assigned := range []bool{false, true} {
			o := delivery.Order{ID: 1, Status: st, Seq: 3, CustomerID: 10, RestaurantID: 2, RestaurantName: "Luigi's"}
			if assigned {
				o.CourierID = &courier
			}
			offered := !assigned && offeredStatuses[st]
			want := map[string]sight{
				"customer":         {view: true, chat: true},
				"other customer":   {},
				"restaurant":       {view: true, chat: true},
				"other restaurant": {},
				"courier":          {view: assigned || offered, offerOnly: offered, chat: assigned},
				"other courier":    {view: offered, offerOnly: offered},
				"admin":            {view: true},
			}
			for name, a := range actors {
				got := sight{view: delivery.CanView(o, a), offerOnly: delivery.SeesOffer(o, a), chat: delivery.CanChat(o, a)}
				if got != want[name] {
					t.Errorf("%s, %s, assigned=%v: %+v, want %+v", name, st, assigned, got, want[name])
				}
			}
			if offered {
				if v := delivery.Offer(o); v.Status != st || v.Seq != o.Seq || v.ID != o.ID || v.RestaurantName != o.RestaurantName || v.ItemsCount != 0 {
					t.Errorf("offer view of %s without items: %+v", st, v)
				}
			}
		}
	}
}

// TestShowsLocationEveryStatus: a fresh position of the assigned courier,
// taken after the assignment, is shown exactly while the order is active;
// without a courier, never.
func TestShowsLocationEveryStatus(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	assignedAt := now.Add(-5 * time.Minute)
	courier := delivery.ID(7)
	loc := delivery.Location{CourierID: courier, Ts: now.Add(-time.Minute).UnixMilli()}
	for _, st := range delivery.Statuses {
		o := delivery.Order{ID: 1, Status: st, CourierID: &courier, AssignedAt: &assignedAt}
		if got := delivery.ShowsLocation(o, loc, now); got != activeStatuses[st] {
			t.Errorf("%s: ShowsLocation = %v, want %v", st, got, activeStatuses[st])
		}
		if delivery.ShowsLocation(delivery.Order{ID: 1, Status: st}, loc, now) {
			t.Errorf("%s without a courier shows a location", st)
		}
	}
}
