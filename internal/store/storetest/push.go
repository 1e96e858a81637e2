package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

// pushSub is a subscription of user to endpoint with keys named by tag.
func pushSub(user delivery.ID, endpoint, tag string) delivery.PushSubscription {
	return delivery.PushSubscription{UserID: user, Endpoint: endpoint, P256dh: "p256dh-" + tag, Auth: "auth-" + tag}
}

func endpoints(list []delivery.PushSubscription) []string {
	out := make([]string, len(list))
	for i, p := range list {
		out[i] = p.Endpoint
	}
	slices.Sort(out)
	return out
}

// subscriptionsOf returns the endpoints user holds.
func subscriptionsOf(t *testing.T, s delivery.Store, user delivery.ID) []string {
	t.Helper()
	list, err := s.PushSubscriptions(t.Context(), delivery.PushAudience{Users: []delivery.ID{user}, Limit: 100})
	must(t, err)
	return endpoints(list)
}

// testPushSubscriptions: a subscription is saved with its user's role and
// restaurant; saving its endpoint again updates it, by another user moves
// it; only its user deletes it.
func testPushSubscriptions(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	got, err := s.SavePushSubscription(ctx, pushSub(f.customer.ID, "https://push.example/a", "1"), 10)
	must(t, err)
	wantUTCMicro(t, "CreatedAt", got.CreatedAt)
	if got.UpdatedAt != got.CreatedAt {
		t.Fatalf("UpdatedAt %v, want CreatedAt %v on the first save", got.UpdatedAt, got.CreatedAt)
	}
	want := pushSub(f.customer.ID, "https://push.example/a", "1")
	want.Role, want.CreatedAt, want.UpdatedAt = delivery.RoleCustomer, got.CreatedAt, got.UpdatedAt
	deepEqual(t, "saved", got, want)
	staff, err := s.SavePushSubscription(ctx, pushSub(f.staff.ID, "https://push.example/s", "s"), 10)
	must(t, err)
	if staff.Role != delivery.RoleRestaurant || staff.RestaurantID != f.r {
		t.Fatalf("staff subscription: role %q restaurant %s, want restaurant %s", staff.Role, staff.RestaurantID, f.r)
	}

	again, err := s.SavePushSubscription(ctx, pushSub(f.customer.ID, "https://push.example/a", "2"), 10)
	must(t, err)
	if again.P256dh != "p256dh-2" || again.Auth != "auth-2" || !again.CreatedAt.Equal(got.CreatedAt) || again.UpdatedAt.Before(got.UpdatedAt) {
		t.Fatalf("saved again: %+v; want the new keys, the first CreatedAt, a later UpdatedAt", again)
	}
	list, err := s.PushSubscriptions(ctx, delivery.PushAudience{Users: []delivery.ID{f.customer.ID}, Limit: 10})
	must(t, err)
	deepEqual(t, "after a second save", list, []delivery.PushSubscription{again})

	moved, err := s.SavePushSubscription(ctx, pushSub(f.customer2.ID, "https://push.example/a", "3"), 10)
	must(t, err)
	if moved.UserID != f.customer2.ID {
		t.Fatalf("moved to user %s, want %s", moved.UserID, f.customer2.ID)
	}
	deepEqual(t, "the first user's after the move", subscriptionsOf(t, s, f.customer.ID), []string{})
	deepEqual(t, "the second user's", subscriptionsOf(t, s, f.customer2.ID), []string{"https://push.example/a"})

	wantCode(t, s.DeletePushSubscription(ctx, f.customer.ID, "https://push.example/a"), delivery.ENOTFOUND)
	must(t, s.DeletePushSubscription(ctx, f.customer2.ID, "https://push.example/a"))
	wantCode(t, s.DeletePushSubscription(ctx, f.customer2.ID, "https://push.example/a"), delivery.ENOTFOUND)
	deepEqual(t, "after the delete", subscriptionsOf(t, s, f.customer2.ID), []string{})

	_, err = s.SavePushSubscription(ctx, pushSub(9999, "https://push.example/x", "x"), 10)
	wantCode(t, err, delivery.ENOTFOUND)
}

// testPushSubscriptionCap: a user keeps at most maxPerUser subscriptions;
// the one saved stays and those updated longest ago go.
func testPushSubscriptionCap(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	for _, e := range []string{"https://p.example/1", "https://p.example/2", "https://p.example/3"} {
		_, err := s.SavePushSubscription(ctx, pushSub(f.customer.ID, e, e), 3)
		must(t, err)
	}
	// Renewing the first makes the second the oldest.
	_, err := s.SavePushSubscription(ctx, pushSub(f.customer.ID, "https://p.example/1", "renewed"), 3)
	must(t, err)
	_, err = s.SavePushSubscription(ctx, pushSub(f.customer.ID, "https://p.example/4", "4"), 3)
	must(t, err)
	deepEqual(t, "after a fourth", subscriptionsOf(t, s, f.customer.ID), []string{"https://p.example/1", "https://p.example/3", "https://p.example/4"})
	// Another user's are not counted.
	_, err = s.SavePushSubscription(ctx, pushSub(f.customer2.ID, "https://p.example/other", "o"), 3)
	must(t, err)
	deepEqual(t, "after another user's", subscriptionsOf(t, s, f.customer.ID), []string{"https://p.example/1", "https://p.example/3", "https://p.example/4"})

	// Concurrent saves of one user leave no more than the cap either.
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if _, err := s.SavePushSubscription(ctx, pushSub(f.courier.ID, fmt.Sprintf("https://p.example/c%d", i), "c"), 3); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(subscriptionsOf(t, s, f.courier.ID)); n != 3 {
		t.Fatalf("after 8 concurrent saves with a cap of 3: %d subscriptions", n)
	}
}

// testPushAudience: users, a restaurant's staff and every courier are
// selected together, up to the limit, newest first.
func testPushAudience(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	f := newFixture(t, s)
	staff2 := createUser(t, s, "pizza2@example.com", delivery.RoleRestaurant, "Pizza 2")
	for _, p := range []delivery.PushSubscription{
		pushSub(f.customer.ID, "https://p.example/customer", "c"),
		pushSub(f.customer2.ID, "https://p.example/customer2", "c2"),
		pushSub(f.staff.ID, "https://p.example/staff", "s"),
		pushSub(f.staff2.ID, "https://p.example/staff2", "s2"),
		pushSub(staff2.ID, "https://p.example/other-restaurant", "s3"),
		pushSub(f.courier.ID, "https://p.example/courier", "k"),
		pushSub(f.courier2.ID, "https://p.example/courier2", "k2"),
	} {
		_, err := s.SavePushSubscription(ctx, p, 10)
		must(t, err)
	}
	get := func(a delivery.PushAudience) []string {
		list, err := s.PushSubscriptions(ctx, a)
		must(t, err)
		return endpoints(list)
	}
	deepEqual(t, "customer and a restaurant's staff", get(delivery.PushAudience{Users: []delivery.ID{f.customer.ID}, Restaurant: f.r, Limit: 10}),
		[]string{"https://p.example/customer", "https://p.example/staff"})
	deepEqual(t, "couriers", get(delivery.PushAudience{Couriers: true, Limit: 10}),
		[]string{"https://p.example/courier", "https://p.example/courier2"})
	deepEqual(t, "users", get(delivery.PushAudience{Users: []delivery.ID{f.customer2.ID, f.courier.ID}, Limit: 10}),
		[]string{"https://p.example/courier", "https://p.example/customer2"})
	deepEqual(t, "no audience", get(delivery.PushAudience{Limit: 10}), []string{})
	deepEqual(t, "limit 0", get(delivery.PushAudience{Couriers: true}), []string{})
	// Newest first: the limit keeps the last saved courier.
	deepEqual(t, "limit 1", get(delivery.PushAudience{Couriers: true, Limit: 1}), []string{"https://p.example/courier2"})
}
