// Package storetest is the contract of delivery.Store as tests: Run holds
// every implementation to the same behaviour, documented on the interface.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Run runs the contract suite. open returns a new, empty, migrated store
// for one subtest and arranges for it to be closed when that test ends;
// subtests run in parallel, each on its own store.
func Run(t *testing.T, open func(t *testing.T) delivery.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s delivery.Store)
	}{
		{"Users", testUsers},
		{"UserEmailTaken", testUserEmailTaken},
		{"RestaurantUser", testRestaurantUser},
		{"RefreshRotate", testRefreshRotate},
		{"RefreshReuseRevokesFamily", testRefreshReuse},
		{"RefreshExpiry", testRefreshExpiry},
		{"RefreshLogout", testRefreshLogout},
		{"RefreshConcurrentRotate", testRefreshConcurrentRotate},
		{"RefreshPurge", testRefreshPurge},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"RevokedSessionsSince", testRevokedSessionsSince},
		{"RevokeDuringRotations", testRevokeDuringRotations},
		{"Menus", testMenus},
		{"MenuPaging", testMenuPaging},
		{"CreateOrder", testCreateOrder},
		{"CreateOrderIdempotent", testCreateOrderIdempotent},
		{"CreateOrderConcurrentKey", testCreateOrderConcurrentKey},
		{"UpdateOrder", testUpdateOrder},
		{"UpdateOrderChangeData", testUpdateOrderChangeData},
		{"UpdateOrderMutateError", testUpdateOrderMutateError},
		{"UpdateOrderConcurrent", testUpdateOrderConcurrent},
		{"EventsAfter", testEventsAfter},
		{"ListOrdersFilters", testListOrdersFilters},
		{"ListOrdersPaging", testListOrdersPaging},
		{"ListOrdersLimit", testListOrdersLimit},
		{"TimeRoundTrip", testTimeRoundTrip},
		{"FinishedAt", testFinishedAt},
		{"AppendMessage", testAppendMessage},
		{"AppendMessageConcurrent", testAppendMessageConcurrent},
		{"MessagesBefore", testMessagesBefore},
		{"MarkRead", testMarkRead},
		{"UnreadCounts", testUnreadCounts},
		{"ActiveOrdersOfCourier", testActiveOrdersOfCourier},
		{"AssignedAt", testAssignedAt},
		{"MaxActive", testMaxActive},
		{"MaxActiveConcurrent", testMaxActiveConcurrent},
		{"RestaurantName", testRestaurantName},
		{"ChangePayload", testChangePayload},
		{"UpdateOrderSomeRefused", testUpdateOrderSomeRefused},
		{"CancelledWrite", testCancelledWrite},
		{"CreateOrderConcurrentKeys", testCreateOrderConcurrentKeys},
		{"OrderLogMixed", testOrderLogMixed},
		{"RestaurantPlace", testRestaurantPlace},
		{"OrderDropoff", testOrderDropoff},
		{"AcceptedAt", testAcceptedAt},
		{"RecordStay", testRecordStay},
		{"StoreETA", testStoreETA},
		{"StayAndETAConcurrent", testStayAndETAConcurrent},
		{"PushSubscriptions", testPushSubscriptions},
		{"PushSubscriptionCap", testPushSubscriptionCap},
		{"PushAudience", testPushAudience},
		{"TrackLinks", testTrackLinks},
		{"TrackLinkCap", testTrackLinkCap},
		{"Ping", func(t *testing.T, s delivery.Store) {
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// wantCode fails unless err is a *delivery.Error (not wrapped: the
// interface promises *Error) with code.
func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	e, ok := err.(*delivery.Error)
	if !ok || e.Code != code {
		t.Fatalf("err = %v (%T), want *delivery.Error with code %s", err, err, code)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func deepEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

// fixture is a store with accounts of every role and a menu.
type fixture struct {
	s                   delivery.Store
	customer, customer2 delivery.User
	staff, staff2       delivery.User // of restaurants r and r2
	courier, courier2   delivery.User
	r, r2               delivery.ID
	item                delivery.MenuItem
}

func newFixture(t testing.TB, s delivery.Store) *fixture {
	t.Helper()
	f := &fixture{s: s}
	f.customer = createUser(t, s, "alice@example.com", delivery.RoleCustomer, "")
	f.customer2 = createUser(t, s, "bob@example.com", delivery.RoleCustomer, "")
	f.staff = createUser(t, s, "pizza@example.com", delivery.RoleRestaurant, "Pizza")
	f.staff2 = createUser(t, s, "sushi@example.com", delivery.RoleRestaurant, "Sushi")
	f.courier = createUser(t, s, "carl@example.com", delivery.RoleCourier, "")
	f.courier2 = createUser(t, s, "cora@example.com", delivery.RoleCourier, "")
	f.r, f.r2 = f.staff.RestaurantID, f.staff2.RestaurantID
	item, err := s.CreateMenuItem(t.Context(), delivery.MenuItem{RestaurantID: f.r, Name: "Margherita", PriceCents: 850, Available: true})
	must(t, err)
	f.item = item
	return f
}

func createUser(t testing.TB, s delivery.Store, email string, role delivery.Role, restaurant string) delivery.User {
	t.Helper()
	u, err := s.CreateUser(t.Context(), delivery.User{Email: email, Name: "Name of " + email, Role: role, PasswordHash: "hash:" + email}, delivery.Restaurant{Name: restaurant})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", email, err)
	}
	return u
}

// newOrder returns an unsaved order of customer at restaurant.
func (f *fixture) newOrder(customer, restaurant delivery.ID) delivery.Order {
	return delivery.Order{
		CustomerID:   customer,
		RestaurantID: restaurant,
		Items: []delivery.OrderItem{
			{MenuItemID: f.item.ID, Name: f.item.Name, Quantity: 2, PriceCents: f.item.PriceCents},
		},
		TotalCents:      2 * f.item.PriceCents,
		DeliveryAddress: "Main Street 1",
		Notes:           "ring twice",
	}
}

func (f *fixture) createOrder(t *testing.T, customer, restaurant delivery.ID) delivery.Order {
	t.Helper()
	o, created, err := f.s.CreateOrder(t.Context(), f.newOrder(customer, restaurant), delivery.IdempotencyKey{})
	if err != nil || !created {
		t.Fatalf("CreateOrder: created=%v, err=%v", created, err)
	}
	return o
}

// set moves an order to status and courier (nil: none) through UpdateOrder.
func (f *fixture) set(t *testing.T, id delivery.ID, status delivery.Status, courier *delivery.ID) delivery.Order {
	t.Helper()
	o, _, err := f.s.UpdateOrder(t.Context(), id, func(o *delivery.Order) (delivery.Change, error) {
		o.Status, o.CourierID = status, courier
		return delivery.Change{Type: delivery.EventOrderStatus}, nil
	})
	if err != nil {
		t.Fatalf("UpdateOrder(%s → %s): %v", id, status, err)
	}
	return o
}

// wantUTCMicro fails unless tm is a set UTC time with microsecond precision.
func wantUTCMicro(t *testing.T, what string, tm time.Time) {
	t.Helper()
	if tm.IsZero() || tm.Location() != time.UTC || tm.Nanosecond()%1000 != 0 {
		t.Fatalf("%s = %v (%s): want a UTC time with microsecond precision", what, tm, tm.Location())
	}
}

// decodeOrder decodes an order.* event's payload.
func decodeOrder(t *testing.T, data json.RawMessage) delivery.Order {
	t.Helper()
	var o delivery.Order
	decodeInto(t, data, &o)
	return o
}

func decodeInto(t *testing.T, data json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("event data %s: %v", data, err)
	}
}

func ids(orders []delivery.Order) []delivery.ID {
	out := make([]delivery.ID, len(orders))
	for i, o := range orders {
		out[i] = o.ID
	}
	return out
}

func ptr(id delivery.ID) *delivery.ID { return &id }

var errSentinel = errors.New("storetest: mutate refuses")

func label(i int) string { return fmt.Sprintf("n%03d", i) }
