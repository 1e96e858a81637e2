package delivery_test

import (
	"fmt"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

// allowed is API.md's lifecycle table written out independently of the
// implementation's table: who→(from→to) pairs that succeed.
var allowed = map[string]bool{
	"restaurant:placed->accepted":     true,
	"restaurant:placed->rejected":     true,
	"restaurant:accepted->preparing":  true,
	"restaurant:preparing->ready":     true,
	"courier:ready->picked_up":        true,
	"courier:picked_up->delivered":    true,
	"customer:placed->cancelled":      true,
	"restaurant:accepted->cancelled":  true,
	"restaurant:preparing->cancelled": true,
	"restaurant:ready->cancelled":     true,
	"admin:placed->cancelled":         true,
	"admin:accepted->cancelled":       true,
	"admin:preparing->cancelled":      true,
	"admin:ready->cancelled":          true,
	"admin:picked_up->cancelled":      true,
}

// permittedTarget: statuses each mover may ever set (else 403).
var permittedTarget = map[string]map[delivery.Status]bool{
	"customer":   {delivery.StatusCancelled: true},
	"restaurant": {delivery.StatusAccepted: true, delivery.StatusRejected: true, delivery.StatusPreparing: true, delivery.StatusReady: true, delivery.StatusCancelled: true},
	"courier":    {delivery.StatusPickedUp: true, delivery.StatusDelivered: true},
	"admin":      {delivery.StatusCancelled: true},
}

func TestCheckTransitionEveryFromToRole(t *testing.T) {
	courier := delivery.ID(30)
	actors := map[string]delivery.Actor{
		"customer":   {UserID: 10, Role: delivery.RoleCustomer},
		"restaurant": {UserID: 20, Role: delivery.RoleRestaurant, RestaurantID: 2},
		"courier":    {UserID: courier, Role: delivery.RoleCourier},
		"admin":      {UserID: 1, Role: delivery.RoleAdmin}, // of every order
	}
	strangers := map[string]delivery.Actor{
		"other customer":   {UserID: 11, Role: delivery.RoleCustomer},
		"other restaurant": {UserID: 21, Role: delivery.RoleRestaurant, RestaurantID: 3},
		"other courier":    {UserID: 31, Role: delivery.RoleCourier},
		"no role":          {UserID: 12},
	}
	for _, from := range delivery.Statuses {
		for _, to := range delivery.Statuses {
			o := delivery.Order{ID: 1, Status: from, CustomerID: 10, RestaurantID: 2, CourierID: &courier}
			for name, a := range actors {
				t.Run(fmt.Sprintf("%s:%s->%s", name, from, to), func(t *testing.T) {
					got := delivery.ErrorCode(delivery.CheckTransition(o, a, to, "out of stock"))
					want := delivery.EINVALIDTRANSITION
					switch {
					case allowed[fmt.Sprintf("%s:%s->%s", name, from, to)]:
						want = ""
					case !permittedTarget[name][to]:
						want = delivery.EFORBIDDEN
					}
					if want == "" {
						if err := delivery.CheckTransition(o, a, to, "out of stock"); err != nil {
							t.Fatalf("got %v, want allowed", err)
						}
						return
					}
					if got != want {
						t.Fatalf("got %s, want %s", got, want)
					}
				})
			}
			for name, a := range strangers {
				if err := delivery.CheckTransition(o, a, to, "x"); delivery.ErrorCode(err) != delivery.EFORBIDDEN {
					t.Errorf("%s %s->%s: got %v, want forbidden", name, from, to, err)
				}
			}
		}
	}
}

func TestCancelNeedsReason(t *testing.T) {
	o := delivery.Order{Status: delivery.StatusAccepted, RestaurantID: 2}
	a := delivery.Actor{UserID: 20, Role: delivery.RoleRestaurant, RestaurantID: 2}
	if got := delivery.ErrorCode(delivery.CheckTransition(o, a, delivery.StatusCancelled, "")); got != delivery.EINVALID {
		t.Fatalf("got %s, want invalid", got)
	}
	admin := delivery.Actor{UserID: 1, Role: delivery.RoleAdmin}
	for _, from := range []delivery.Status{delivery.StatusPlaced, delivery.StatusPickedUp} {
		o := delivery.Order{Status: from, RestaurantID: 2}
		if got := delivery.ErrorCode(delivery.CheckTransition(o, admin, delivery.StatusCancelled, "")); got != delivery.EINVALID {
			t.Fatalf("admin cancel from %s without reason: got %s, want invalid", from, got)
		}
	}
	customerOrder := delivery.Order{Status: delivery.StatusPlaced, CustomerID: 10}
	if err := delivery.CheckTransition(customerOrder, delivery.Actor{UserID: 10, Role: delivery.RoleCustomer}, delivery.StatusCancelled, ""); err != nil {
		t.Fatalf("customer cancel without reason: %v", err)
	}
}

func TestCheckTransitionUnknownStatus(t *testing.T) {
	o := delivery.Order{Status: delivery.StatusPlaced, RestaurantID: 2}
	a := delivery.Actor{UserID: 20, Role: delivery.RoleRestaurant, RestaurantID: 2}
	if got := delivery.ErrorCode(delivery.CheckTransition(o, a, "eaten", "")); got != delivery.EINVALID {
		t.Fatalf("got %s, want invalid", got)
	}
}

func TestCheckClaim(t *testing.T) {
	courier := delivery.Actor{UserID: 30, Role: delivery.RoleCourier}
	assigned := delivery.ID(31)
	for _, tc := range []struct {
		status  delivery.Status
		courier *delivery.ID
		role    delivery.Role
		want    string
	}{
		{delivery.StatusPlaced, nil, delivery.RoleCourier, delivery.EINVALIDTRANSITION},
		{delivery.StatusAccepted, nil, delivery.RoleCourier, ""},
		{delivery.StatusPreparing, nil, delivery.RoleCourier, ""},
		{delivery.StatusReady, nil, delivery.RoleCourier, ""},
		{delivery.StatusPickedUp, nil, delivery.RoleCourier, delivery.EINVALIDTRANSITION},
		{delivery.StatusDelivered, nil, delivery.RoleCourier, delivery.EINVALIDTRANSITION},
		{delivery.StatusCancelled, nil, delivery.RoleCourier, delivery.EINVALIDTRANSITION},
		{delivery.StatusAccepted, &assigned, delivery.RoleCourier, delivery.EALREADYASSIGNED},
		{delivery.StatusAccepted, nil, delivery.RoleCustomer, delivery.EFORBIDDEN},
	} {
		a := courier
		a.Role = tc.role
		err := delivery.CheckClaim(delivery.Order{Status: tc.status, CourierID: tc.courier}, a)
		got := ""
		if err != nil {
			got = delivery.ErrorCode(err)
		}
		if got != tc.want {
			t.Errorf("%s courier=%v role=%s: got %q, want %q", tc.status, tc.courier, tc.role, got, tc.want)
		}
	}
}

func TestVisibility(t *testing.T) {
	courier := delivery.ID(30)
	offered := delivery.Order{Status: delivery.StatusAccepted, CustomerID: 10, RestaurantID: 2}
	assigned := offered
	assigned.CourierID = &courier
	anyCourier := delivery.Actor{UserID: 99, Role: delivery.RoleCourier}
	if !delivery.CanView(offered, anyCourier) || delivery.IsParty(offered, anyCourier) {
		t.Fatal("an offered order is viewable by any courier but they are no party")
	}
	if delivery.CanView(assigned, anyCourier) {
		t.Fatal("an assigned order is hidden from other couriers")
	}
	if !delivery.IsParty(assigned, delivery.Actor{UserID: courier, Role: delivery.RoleCourier}) {
		t.Fatal("the assigned courier is a party")
	}
	if delivery.IsParty(offered, delivery.Actor{UserID: 10, Role: delivery.RoleCourier}) {
		t.Fatal("a user id match with the wrong role is no party")
	}
}

// TestStatusSetter: the party that set each status, as the order tells it;
// a cancel with a reason may be either party's.
func TestStatusSetter(t *testing.T) {
	tests := []struct {
		status delivery.Status
		reason string
		want   delivery.Role
		ok     bool
	}{
		{delivery.StatusPlaced, "", "", false},
		{delivery.StatusAccepted, "", delivery.RoleRestaurant, true},
		{delivery.StatusRejected, "closed", delivery.RoleRestaurant, true},
		{delivery.StatusPreparing, "", delivery.RoleRestaurant, true},
		{delivery.StatusReady, "", delivery.RoleRestaurant, true},
		{delivery.StatusPickedUp, "", delivery.RoleCourier, true},
		{delivery.StatusDelivered, "", delivery.RoleCourier, true},
		{delivery.StatusCancelled, "", delivery.RoleCustomer, true},
		{delivery.StatusCancelled, "out of dough", "", false},
	}
	for _, tt := range tests {
		got, ok := delivery.StatusSetter(delivery.Order{Status: tt.status, Reason: tt.reason})
		if got != tt.want || ok != tt.ok {
			t.Errorf("StatusSetter(%s, reason %q) = %q, %v; want %q, %v", tt.status, tt.reason, got, ok, tt.want, tt.ok)
		}
	}
}
