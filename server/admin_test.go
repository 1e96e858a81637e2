package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
)

func findUserPath(email string) string { return "/api/v1/admin/users?email=" + url.QueryEscape(email) }
func revokePath(id delivery.ID) string { return "/api/v1/admin/users/" + id.String() + "/revoke" }

// TestAdminRoutesRefuseOthers: every operator route is 401 without a
// token and 403 forbidden for customers, restaurants and couriers, and
// changes nothing for them.
func TestAdminRoutesRefuseOthers(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.claimed(w)
	routes := []struct{ method, path string }{
		{"GET", statsPath},
		{"GET", findUserPath(w.Customer.User.Email)},
		{"POST", revokePath(w.Customer.User.ID)},
	}
	for _, rt := range routes {
		if r := e.do(rt.method, rt.path, "", nil); r.Status != 401 || r.errorCode(t) != "unauthorized" {
			t.Errorf("%s %s without a token: %d %s", rt.method, rt.path, r.Status, r.Body)
		}
		for role, p := range map[string]party{"customer": w.Customer, "restaurant": w.Restaurant, "courier": w.Courier} {
			if r := e.do(rt.method, rt.path, p.Token, nil); r.Status != 403 || r.errorCode(t) != "forbidden" {
				t.Errorf("%s %s as %s: %d %s, want 403 forbidden", rt.method, rt.path, role, r.Status, r.Body)
			}
		}
	}
	e.must(200, "GET", "/api/v1/me", w.Customer.Token, nil) // not revoked
	// Only an admin cancels a picked-up order; the courier holding it may not.
	e.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")
	e.setStatus(200, o, w.Restaurant, delivery.StatusReady, "")
	e.setStatus(200, o, w.Courier, delivery.StatusPickedUp, "")
	for role, p := range map[string]party{"customer": w.Customer, "restaurant": w.Restaurant, "courier": w.Courier} {
		r := e.do("POST", orderPath(o.ID)+"/status", p.Token, map[string]any{"status": "cancelled", "reason": "no"})
		if r.Status != 403 && r.Status != 409 {
			t.Errorf("%s cancelling a picked-up order: %d %s, want it refused", role, r.Status, r.Body)
		}
	}
}

// TestAdminFindUser: an admin finds an account by email, in any case, as
// registration stores it lower-cased; an unknown email is 404 not_found
// and a missing or malformed one 400 invalid. On both engines.
func TestAdminFindUser(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		admin := e.admin()
		for _, p := range []party{w.Customer, w.Restaurant} {
			var got struct {
				User map[string]any `json:"user"`
			}
			e.must(200, "GET", findUserPath(strings.ToUpper(p.User.Email)), admin.Token, nil).decode(t, &got)
			u := got.User
			if u["id"] != p.User.ID.String() || u["email"] != p.User.Email || u["name"] != p.User.Name || u["role"] != string(p.User.Role) ||
				u["created_at"] == nil {
				t.Errorf("found %v, want %+v", u, p.User)
			}
			if _, ok := u["password_hash"]; ok {
				t.Errorf("the answer carries the password hash: %v", u)
			}
			if rid, ok := u["restaurant_id"]; ok != (p.User.Role == delivery.RoleRestaurant) || ok && rid != p.User.RestaurantID.String() {
				t.Errorf("restaurant_id %v for a %s", rid, p.User.Role)
			}
		}
		for _, tc := range []struct{ path, code string }{
			{findUserPath("nobody@example.com"), "not_found"},
			{"/api/v1/admin/users", "invalid"},
			{findUserPath("not an email"), "invalid"},
		} {
			r := e.do("GET", tc.path, admin.Token, nil)
			if r.errorCode(t) != tc.code {
				t.Errorf("%s: %d %s, want %s", tc.path, r.Status, r.Body, tc.code)
			}
		}
	})
}

// TestAdminRevoke: an admin ends every session of a user, as ordercast
// admin revoke does: the answer counts them, the user's open socket is
// closed with 4001 and its tokens are refused from then on; an unknown
// user is 404. On both engines.
func TestAdminRevoke(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newRealtimeEnvOn(t, open(t))
			w := e.newWorld()
			other := e.signInAgain(w.Customer) // a second session of the customer
			socket := e.dial(w.Customer)
			e.barrier(socket)
			admin := e.admin()

			var got struct {
				N *int `json:"sessions_revoked"`
			}
			e.must(200, "POST", revokePath(w.Customer.User.ID), admin.Token, nil).decode(t, &got)
			if got.N == nil || *got.N != 2 {
				t.Fatalf("sessions_revoked %v, want 2", got.N)
			}
			if code := socket.closeCode(); code != 4001 {
				t.Fatalf("socket closed with %d, want 4001", code)
			}
			e.wantEnded("the revoked session", w.Customer.Token)
			e.wantEnded("the revoked second session", other.Token)
			e.must(200, "GET", "/api/v1/me", w.Restaurant.Token, nil) // others keep theirs

			e.must(200, "POST", revokePath(w.Customer.User.ID), admin.Token, nil).decode(t, &got)
			if *got.N != 0 {
				t.Fatalf("revoking again: %d sessions, want 0", *got.N)
			}
			if r := e.do("POST", revokePath(1<<40), admin.Token, nil); r.Status != 404 || r.errorCode(t) != "not_found" {
				t.Fatalf("unknown user: %d %s", r.Status, r.Body)
			}
		})
	}
}

// TestAdminRevokeEveryInstance: revoked on one instance, the user's
// socket on another is closed with 4001 (the news travels on Redis).
func TestAdminRevokeEveryInstance(t *testing.T) {
	c := newCluster(t, 2)
	a, b := c.start(0, instanceOpts{}), c.start(1, instanceOpts{})
	w := a.newWorld()
	socket := b.dial(w.Customer)
	b.barrier(socket)
	a.must(200, "POST", revokePath(w.Customer.User.ID), a.admin().Token, nil)
	if code := socket.closeCode(); code != websocket.StatusCode(4001) {
		t.Fatalf("socket on the other instance closed with %d, want 4001", code)
	}
	b.wantEnded("the revoked session on the other instance", w.Customer.Token)
}

// TestAdminCancel: an admin cancels an order from placed through
// picked_up with a reason of 1 to 200 characters, which appends a
// durable order.status event carrying it; without one, or with a longer
// one, it is 400 invalid and nothing changes; a finished order is 409.
// On both engines.
func TestAdminCancel(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		admin := e.admin()
		o := e.claimed(w)
		e.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")
		e.setStatus(200, o, w.Restaurant, delivery.StatusReady, "")
		var before delivery.Order
		e.setStatus(200, o, w.Courier, delivery.StatusPickedUp, "").decode(t, &before)

		for _, reason := range []any{nil, "", "   ", strings.Repeat("r", 201)} {
			r := e.do("POST", orderPath(o.ID)+"/status", admin.Token, map[string]any{"status": "cancelled", "reason": reason})
			if r.Status != 400 || r.errorCode(t) != "invalid" || !strings.Contains(string(r.Body), "reason") {
				t.Errorf("reason %q: %d %s, want 400 invalid naming the reason", reason, r.Status, r.Body)
			}
		}
		var now delivery.Order
		e.must(200, "GET", orderPath(o.ID), admin.Token, nil).decode(t, &now)
		if now.Seq != before.Seq || now.Status != delivery.StatusPickedUp {
			t.Fatalf("a refused cancel changed the order: %+v", now)
		}

		reason := strings.Repeat("x", 199) + "!"
		var cancelled delivery.Order
		e.setStatus(200, o, admin, delivery.StatusCancelled, reason).decode(t, &cancelled)
		if cancelled.Status != delivery.StatusCancelled || cancelled.Seq != before.Seq+1 {
			t.Fatalf("cancel answered %+v", cancelled)
		}
		var log struct {
			Events []delivery.Event `json:"events"`
		}
		e.must(200, "GET", orderPath(o.ID)+"/events?after="+strconv.FormatInt(before.Seq, 10), w.Customer.Token, nil).decode(t, &log)
		if len(log.Events) != 1 || log.Events[0].Type != delivery.EventOrderStatus || log.Events[0].Seq != cancelled.Seq {
			t.Fatalf("events after the cancel: %+v, want one order.status", log.Events)
		}
		var data delivery.Order
		if err := json.Unmarshal(log.Events[0].Data, &data); err != nil {
			t.Fatal(err)
		}
		if data.Status != delivery.StatusCancelled || data.Reason != reason {
			t.Fatalf("order.status carries %s %q, want cancelled with the reason", data.Status, data.Reason)
		}
		// A finished order stays finished.
		if r := e.setStatus(http.StatusConflict, o, admin, delivery.StatusCancelled, "again"); r.errorCode(t) != "invalid_transition" {
			t.Fatalf("cancelling a cancelled order: %s", r.Body)
		}
		// From placed too.
		placed := e.place(w)
		e.setStatus(200, placed, admin, delivery.StatusCancelled, "duplicate order")
	})
}

// TestAdminUnassign: an admin takes the courier off an order, which is
// offered again.
func TestAdminUnassign(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		e := newEnv()
		w := e.newWorld()
		o := e.claimed(w)
		var got delivery.Order
		r := e.unassign(o, e.admin(), "courier unreachable")
		if r.Status != 200 {
			t.Fatalf("admin unassign: %d %s", r.Status, r.Body)
		}
		r.decode(t, &got)
		if got.CourierID != nil {
			t.Fatalf("courier_id %v after the unassign", *got.CourierID)
		}
		e.must(200, "POST", orderPath(o.ID)+"/claim", w.Courier2.Token, nil) // offered again
	})
}
