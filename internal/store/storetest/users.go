package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

func testUsers(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u, err := s.CreateUser(ctx, delivery.User{Email: "Alice@Example.COM", Name: "Alice", Role: delivery.RoleCustomer, PasswordHash: "h"}, delivery.Restaurant{Name: "ignored"})
	must(t, err)
	if u.ID <= 0 || u.Email != "alice@example.com" || u.RestaurantID != 0 || u.PasswordHash != "h" {
		t.Fatalf("CreateUser = %+v: want an id, the email lower-cased, no restaurant", u)
	}
	wantUTCMicro(t, "CreatedAt", u.CreatedAt)
	byID, err := s.UserByID(ctx, u.ID)
	must(t, err)
	deepEqual(t, "UserByID", byID, u)
	byEmail, err := s.UserByEmail(ctx, "ALICE@example.com")
	must(t, err)
	deepEqual(t, "UserByEmail", byEmail, u)

	_, err = s.UserByID(ctx, u.ID+1000)
	wantCode(t, err, delivery.ENOTFOUND)
	_, err = s.UserByEmail(ctx, "nobody@example.com")
	wantCode(t, err, delivery.ENOTFOUND)
	list, err := s.ListRestaurants(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("a customer created restaurants %+v", list)
	}
}

func testUserEmailTaken(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	createUser(t, s, "dup@example.com", delivery.RoleCustomer, "")
	for _, email := range []string{"dup@example.com", "DUP@example.com", "Dup@Example.Com"} {
		_, err := s.CreateUser(ctx, delivery.User{Email: email, Name: "x", Role: delivery.RoleCourier, PasswordHash: "h"}, delivery.Restaurant{})
		wantCode(t, err, delivery.EEMAILTAKEN)
	}
	// The restaurant is created in the user's transaction, so it goes too.
	_, err := s.CreateUser(ctx, delivery.User{Email: "DUP@EXAMPLE.COM", Name: "x", Role: delivery.RoleRestaurant, PasswordHash: "h"}, delivery.Restaurant{Name: "Ghost"})
	wantCode(t, err, delivery.EEMAILTAKEN)
	list, err := s.ListRestaurants(ctx)
	must(t, err)
	if len(list) != 0 {
		t.Fatalf("failed registration left restaurants %+v", list)
	}
}

func testRestaurantUser(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	a := createUser(t, s, "a@example.com", delivery.RoleRestaurant, "Pizza")
	b := createUser(t, s, "b@example.com", delivery.RoleRestaurant, "Sushi")
	if a.RestaurantID <= 0 || b.RestaurantID <= 0 || a.RestaurantID == b.RestaurantID {
		t.Fatalf("restaurant ids %d, %d: want two distinct ids", a.RestaurantID, b.RestaurantID)
	}
	got, err := s.UserByID(ctx, a.ID)
	must(t, err)
	deepEqual(t, "UserByID", got, a)
	r, err := s.RestaurantByID(ctx, a.RestaurantID)
	must(t, err)
	if r.ID != a.RestaurantID || r.Name != "Pizza" {
		t.Fatalf("RestaurantByID = %+v, want Pizza", r)
	}
	wantUTCMicro(t, "restaurant CreatedAt", r.CreatedAt)
	list, err := s.ListRestaurants(ctx)
	must(t, err)
	deepEqual(t, "ListRestaurants", list, []delivery.Restaurant{r, mustRestaurant(t, s, b.RestaurantID)})
	_, err = s.RestaurantByID(ctx, b.RestaurantID+1000)
	wantCode(t, err, delivery.ENOTFOUND)
}

func mustRestaurant(t *testing.T, s delivery.Store, id delivery.ID) delivery.Restaurant {
	t.Helper()
	r, err := s.RestaurantByID(t.Context(), id)
	must(t, err)
	return r
}

// refreshBase is a fixed instant: rotation takes now from the caller.
var refreshBase = time.Date(2030, 1, 2, 3, 4, 5, 678901000, time.UTC)

func token(hash string, user delivery.ID, family string) delivery.RefreshToken {
	return delivery.RefreshToken{Hash: hash, UserID: user, FamilyID: family, ExpiresAt: refreshBase.Add(time.Hour)}
}

func testRefreshRotate(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u := createUser(t, s, "u@example.com", delivery.RoleCustomer, "")
	must(t, s.CreateRefreshToken(ctx, token("t1", u.ID, "fam")))
	// next's user and family are taken from the old token, not from next.
	uid, sid, err := s.RotateRefreshToken(ctx, "t1", token("t2", 0, "other"), refreshBase)
	must(t, err)
	if uid != u.ID || sid != "fam" {
		t.Fatalf("Rotate returned user %s, session %q; want %s, fam", uid, sid, u.ID)
	}
	uid, sid, err = s.RotateRefreshToken(ctx, "t2", token("t3", 0, ""), refreshBase.Add(time.Minute))
	must(t, err)
	if uid != u.ID || sid != "fam" {
		t.Fatalf("second Rotate returned user %s, session %q; want %s, fam", uid, sid, u.ID)
	}
	_, _, err = s.RotateRefreshToken(ctx, "unknown", token("t4", 0, ""), refreshBase)
	wantCode(t, err, delivery.EUNAUTHORIZED)
	// Ending session fam ends t3: proof that t3 is in it.
	must(t, s.RevokeSession(ctx, u.ID, "fam", refreshBase))
	_, _, err = s.RotateRefreshToken(ctx, "t3", token("t4", 0, ""), refreshBase)
	wantCode(t, err, delivery.EUNAUTHORIZED)
	must(t, s.CreateRefreshToken(ctx, token("x1", u.ID, "other")))
	_, _, err = s.RotateRefreshToken(ctx, "x1", token("x2", 0, ""), refreshBase)
	must(t, err)
}

func testRefreshReuse(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u := createUser(t, s, "u@example.com", delivery.RoleCustomer, "")
	must(t, s.CreateRefreshToken(ctx, token("t1", u.ID, "fam")))
	must(t, s.CreateRefreshToken(ctx, token("o1", u.ID, "other-device")))
	_, _, err := s.RotateRefreshToken(ctx, "t1", token("t2", 0, ""), refreshBase)
	must(t, err)
	_, _, err = s.RotateRefreshToken(ctx, "t2", token("t3", 0, ""), refreshBase)
	must(t, err)

	// The thief replays t1: reuse, and the legitimate t3 dies with it.
	// The error comes with the session it ended, which is recorded.
	uid, sid, err := s.RotateRefreshToken(ctx, "t1", token("t4", 0, ""), refreshBase)
	wantCode(t, err, delivery.ETOKENREUSED)
	if uid != u.ID || sid != "fam" {
		t.Fatalf("reuse returned user %s, session %q; want %s, fam", uid, sid, u.ID)
	}
	revs, err := s.RevokedSessions(ctx, refreshBase)
	must(t, err)
	deepEqual(t, "RevokedSessions after reuse", revs, []delivery.Revocation{{SessionID: "fam", UserID: u.ID, RevokedAt: refreshBase}})
	_, _, err = s.RotateRefreshToken(ctx, "t3", token("t5", 0, ""), refreshBase)
	wantCode(t, err, delivery.EUNAUTHORIZED)
	// The token stored by the refused rotation does not exist.
	_, _, err = s.RotateRefreshToken(ctx, "t4", token("t6", 0, ""), refreshBase)
	wantCode(t, err, delivery.EUNAUTHORIZED)
	_, _, err = s.RotateRefreshToken(ctx, "t2", token("t7", 0, ""), refreshBase)
	wantCode(t, err, delivery.ETOKENREUSED)
	// Other families are untouched.
	_, _, err = s.RotateRefreshToken(ctx, "o1", token("o2", 0, ""), refreshBase)
	must(t, err)
}

func testRefreshExpiry(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u := createUser(t, s, "u@example.com", delivery.RoleCustomer, "")
	tok := token("t1", u.ID, "fam")
	must(t, s.CreateRefreshToken(ctx, tok))
	_, _, err := s.RotateRefreshToken(ctx, "t1", token("t2", 0, ""), tok.ExpiresAt)
	wantCode(t, err, delivery.EUNAUTHORIZED)
	_, _, err = s.RotateRefreshToken(ctx, "t1", token("t2", 0, ""), tok.ExpiresAt.Add(time.Hour))
	wantCode(t, err, delivery.EUNAUTHORIZED)
	// Refusing an expired token neither spends nor revokes it.
	_, _, err = s.RotateRefreshToken(ctx, "t1", token("t2", 0, ""), tok.ExpiresAt.Add(-time.Microsecond))
	must(t, err)
}

// testRefreshLogout: ending a session (logout) revokes its refresh tokens,
// spent or not, and records the revocation once; the user's other
// sessions stay.
func testRefreshLogout(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u := createUser(t, s, "u@example.com", delivery.RoleCustomer, "")
	other := createUser(t, s, "o@example.com", delivery.RoleCustomer, "")
	must(t, s.CreateRefreshToken(ctx, token("t1", u.ID, "fam")))
	must(t, s.CreateRefreshToken(ctx, token("p1", u.ID, "phone")))
	_, _, err := s.RotateRefreshToken(ctx, "t1", token("t2", 0, ""), refreshBase)
	must(t, err)

	must(t, s.RevokeSession(ctx, u.ID, "fam", refreshBase))
	_, _, err = s.RotateRefreshToken(ctx, "t2", token("t3", 0, ""), refreshBase)
	wantCode(t, err, delivery.EUNAUTHORIZED)
	must(t, s.RevokeSession(ctx, u.ID, "fam", refreshBase.Add(time.Minute))) // twice is fine; the first time stays
	// A session with no token left (purged, say) is recorded all the same.
	must(t, s.RevokeSession(ctx, u.ID, "gone", refreshBase.Add(time.Second)))
	wantCode(t, s.RevokeSession(ctx, other.ID+1000, "x", refreshBase), delivery.ENOTFOUND)
	revs, err := s.RevokedSessions(ctx, refreshBase)
	must(t, err)
	deepEqual(t, "RevokedSessions", revs, []delivery.Revocation{
		{SessionID: "fam", UserID: u.ID, RevokedAt: refreshBase},
		{SessionID: "gone", UserID: u.ID, RevokedAt: refreshBase.Add(time.Second)},
	})
	_, _, err = s.RotateRefreshToken(ctx, "p1", token("p2", 0, ""), refreshBase)
	must(t, err)
}

// testRefreshConcurrentRotate: of several clients presenting one token at
// once, one gets the new token and the others are reuse.
func testRefreshConcurrentRotate(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u := createUser(t, s, "u@example.com", delivery.RoleCustomer, "")
	must(t, s.CreateRefreshToken(ctx, token("t1", u.ID, "fam")))
	const n = 10
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, _, errs[i] = s.RotateRefreshToken(ctx, "t1", token(label(i), 0, ""), refreshBase)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		wantCode(t, err, delivery.ETOKENREUSED)
	}
	if ok != 1 {
		t.Fatalf("%d rotations succeeded, want 1", ok)
	}
}

func testMenus(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	a := createUser(t, s, "a@example.com", delivery.RoleRestaurant, "Pizza")
	b := createUser(t, s, "b@example.com", delivery.RoleRestaurant, "Sushi")
	var want []delivery.MenuItem
	for i, in := range []delivery.MenuItem{
		{RestaurantID: a.RestaurantID, Name: "Margherita", PriceCents: 850, Available: true},
		{RestaurantID: a.RestaurantID, Name: "Calzone", PriceCents: 1200, Available: false},
		{RestaurantID: a.RestaurantID, Name: "Water", PriceCents: 0, Available: true},
	} {
		item, err := s.CreateMenuItem(ctx, in)
		must(t, err)
		if item.ID <= 0 || (i > 0 && item.ID <= want[i-1].ID) {
			t.Fatalf("CreateMenuItem id %d: want increasing positive ids", item.ID)
		}
		in.ID = item.ID
		deepEqual(t, "CreateMenuItem", item, in)
		want = append(want, item)
	}
	got, err := s.ListMenu(ctx, a.RestaurantID, 0, 0)
	must(t, err)
	deepEqual(t, "ListMenu", got, want)
	got, err = s.ListMenu(ctx, b.RestaurantID, 0, 0)
	must(t, err)
	if got == nil || len(got) != 0 {
		t.Fatalf("ListMenu of an empty menu = %#v, want an empty slice", got)
	}
	_, err = s.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: b.RestaurantID + 1000, Name: "x", PriceCents: 1})
	wantCode(t, err, delivery.ENOTFOUND)

	// A patch changes only the fields it holds.
	off, price := false, int64(900)
	item, err := s.UpdateMenuItem(ctx, a.RestaurantID, want[0].ID, delivery.MenuItemPatch{Available: &off})
	must(t, err)
	want[0].Available = false
	deepEqual(t, "UpdateMenuItem available", item, want[0])
	name := "Margherita grande"
	item, err = s.UpdateMenuItem(ctx, a.RestaurantID, want[0].ID, delivery.MenuItemPatch{Name: &name, PriceCents: &price})
	must(t, err)
	want[0].Name, want[0].PriceCents = name, price
	deepEqual(t, "UpdateMenuItem name and price", item, want[0])
	got, err = s.ListMenu(ctx, a.RestaurantID, 0, 0)
	must(t, err)
	deepEqual(t, "ListMenu after updates", got, want)
	// Another restaurant's item, or none, is not found and changes nothing.
	_, err = s.UpdateMenuItem(ctx, b.RestaurantID, want[1].ID, delivery.MenuItemPatch{Available: &off})
	wantCode(t, err, delivery.ENOTFOUND)
	_, err = s.UpdateMenuItem(ctx, a.RestaurantID, want[2].ID+1000, delivery.MenuItemPatch{Available: &off})
	wantCode(t, err, delivery.ENOTFOUND)
	got, err = s.ListMenu(ctx, a.RestaurantID, 0, 0)
	must(t, err)
	deepEqual(t, "ListMenu after refused updates", got, want)
}

// testRefreshPurge: the purge deletes expired tokens, spent or not, and
// revoked ones, at most limit at a time; spent tokens of a live family
// stay until they expire, so that their reuse still revokes the family.
func testRefreshPurge(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	u := createUser(t, s, "u@example.com", delivery.RoleCustomer, "")
	purge := func(now time.Time, limit, want int) {
		t.Helper()
		n, err := s.PurgeRefreshTokens(ctx, now, limit)
		must(t, err)
		if n != want {
			t.Fatalf("PurgeRefreshTokens(%v, %d) = %d, want %d", now.Sub(refreshBase), limit, n, want)
		}
	}
	purge(refreshBase, 10, 0)
	must(t, s.CreateRefreshToken(ctx, token("live", u.ID, "a")))
	must(t, s.CreateRefreshToken(ctx, token("s1", u.ID, "b")))
	_, _, err := s.RotateRefreshToken(ctx, "s1", token("s2", 0, ""), refreshBase) // s1 spent, not expired
	must(t, err)
	expired := token("old", u.ID, "c")
	expired.ExpiresAt = refreshBase.Add(-time.Second)
	must(t, s.CreateRefreshToken(ctx, expired))
	edge := token("edge", u.ID, "d")
	edge.ExpiresAt = refreshBase // expired at refreshBase, as rotation sees it
	must(t, s.CreateRefreshToken(ctx, edge))
	must(t, s.CreateRefreshToken(ctx, token("r1", u.ID, "e")))
	must(t, s.RevokeSession(ctx, u.ID, "e", refreshBase.Add(-time.Hour)))

	// old, edge and r1 go, one batch at a time.
	purge(refreshBase, 1, 1)
	purge(refreshBase, 1, 1)
	purge(refreshBase, 10, 1)
	purge(refreshBase, 10, 0)
	for _, gone := range []string{"old", "edge", "r1"} {
		_, _, err := s.RotateRefreshToken(ctx, gone, token(gone+"-next", 0, ""), refreshBase.Add(-time.Hour))
		wantCode(t, err, delivery.EUNAUTHORIZED)
	}
	// The spent s1 stayed: its reuse revokes b, whose s1 and s2 go an
	// hour later (a client that raced the revocation hears token_reused).
	_, _, err = s.RotateRefreshToken(ctx, "s1", token("s3", 0, ""), refreshBase.Add(-time.Hour))
	wantCode(t, err, delivery.ETOKENREUSED)
	purge(refreshBase.Add(-time.Minute), 10, 0)
	purge(refreshBase, 10, 2)
	// The live token works; once it and its successor expired, both go.
	_, _, err = s.RotateRefreshToken(ctx, "live", token("live2", 0, ""), refreshBase)
	must(t, err)
	purge(refreshBase, 10, 0)
	purge(refreshBase.Add(time.Hour), 10, 2)
}

// testMenuPaging: ListMenu pages in id order after a cursor, a limit of
// zero or beyond the cap being the cap; MenuItemsByID reads only the
// items asked for, of that restaurant; a menu holds at most MaxMenuItems
// items, also when items are added concurrently.
func testMenuPaging(t *testing.T, s delivery.Store) {
	ctx := t.Context()
	a := createUser(t, s, "a@example.com", delivery.RoleRestaurant, "Pizza")
	b := createUser(t, s, "b@example.com", delivery.RoleRestaurant, "Sushi")
	other, err := s.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: b.RestaurantID, Name: "Maki", PriceCents: 700, Available: true})
	must(t, err)
	const concurrent = 5
	var items []delivery.MenuItem
	for i := range delivery.MaxMenuItems - 2 {
		item, err := s.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: a.RestaurantID, Name: fmt.Sprintf("Dish %d", i), PriceCents: int64(i), Available: true})
		must(t, err)
		items = append(items, item)
	}
	// Two places left, five asking at once: two get one.
	errs := make([]error, concurrent)
	added := make([]delivery.MenuItem, concurrent)
	var wg sync.WaitGroup
	for i := range concurrent {
		wg.Go(func() {
			added[i], errs[i] = s.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: a.RestaurantID, Name: "Late", PriceCents: 1, Available: true})
		})
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
			items = append(items, added[i])
			continue
		}
		wantCode(t, err, delivery.EUNPROCESSABLE)
	}
	if ok != 2 {
		t.Fatalf("%d of %d concurrent inserts into a menu with 2 places left succeeded, want 2", ok, concurrent)
	}
	_, err = s.CreateMenuItem(ctx, delivery.MenuItem{RestaurantID: a.RestaurantID, Name: "One more", PriceCents: 1})
	wantCode(t, err, delivery.EUNPROCESSABLE)
	slices.SortFunc(items, func(x, y delivery.MenuItem) int { return cmp.Compare(x.ID, y.ID) })

	for _, limit := range []int{0, -1, delivery.MaxMenuItems + 1} {
		got, err := s.ListMenu(ctx, a.RestaurantID, 0, limit)
		must(t, err)
		deepEqual(t, fmt.Sprintf("ListMenu with limit %d", limit), got, items)
	}
	var paged []delivery.MenuItem
	for after := delivery.ID(0); ; {
		page, err := s.ListMenu(ctx, a.RestaurantID, after, 200)
		must(t, err)
		if len(page) == 0 {
			break
		}
		if len(page) > 200 {
			t.Fatalf("a page of %d items, want at most 200", len(page))
		}
		paged = append(paged, page...)
		after = page[len(page)-1].ID
	}
	deepEqual(t, "ListMenu paged by 200", paged, items)

	got, err := s.MenuItemsByID(ctx, a.RestaurantID, []delivery.ID{items[7].ID, other.ID, items[3].ID, items[7].ID, other.ID + 1000})
	must(t, err)
	deepEqual(t, "MenuItemsByID", got, []delivery.MenuItem{items[3], items[7]})
	got, err = s.MenuItemsByID(ctx, b.RestaurantID, nil)
	must(t, err)
	if got == nil || len(got) != 0 {
		t.Fatalf("MenuItemsByID of no ids = %#v, want an empty slice", got)
	}
}
