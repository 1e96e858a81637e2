package main

// The operator page /ops in headless Chromium: refused to non-admins,
// the fleet's figures live from two instances, and each admin action end
// to end, checked through the API.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/browsertest"
	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/store/postgres"
)

const (
	adminEmail    = "ops@example.com"
	adminPassword = "an operator's password"
)

// createAdmin makes the admin account on the store at databaseURL, as an
// operator does with ordercast admin create.
func createAdmin(t *testing.T, databaseURL string) {
	t.Helper()
	env := map[string]string{"DATABASE_URL": databaseURL}
	if out, err := runAdmin(t, env, adminPassword+"\n", "create", "--email", adminEmail, "--name", "Olga"); err != nil {
		t.Fatalf("admin create: %v %s", err, out)
	}
}

// opsSignIn signs in at base's /ops through its form and waits for the page
// that account gets (its heading).
func opsSignIn(tab *browsertest.Tab, base, email, password, heading string) {
	tab.Navigate(base + "/ops")
	tab.WaitRole("heading", "Sign in")
	tab.Fill("Email", email)
	tab.Fill("Password", password)
	tab.Click("button", "Sign in")
	tab.WaitRole("heading", heading)
}

// recordRequestsJS makes the page note the URL of every REST call and
// socket it opens from now on, in window.opened.
const recordRequestsJS = `(() => {
	window.opened = [];
	const realFetch = window.fetch, RealSocket = window.WebSocket;
	window.fetch = (url, init) => { window.opened.push(new URL(url, location.href).pathname); return realFetch(url, init); };
	window.WebSocket = class extends RealSocket {
		constructor(url, protocols) { window.opened.push(new URL(url).pathname); super(url, protocols); }
	};
	return true;
})()`

// TestOpsPageTellsNonAdminsItIsForOperators: /ops is served to anyone and
// asks for an admin's sign-in, without the sign-up offer of the app; a
// customer who signs in there is told plainly the page is for operators,
// and the page asks the server for nothing more (no figures, no socket):
// the customer's token would be refused the figures anyway.
func TestOpsPageTellsNonAdminsItIsForOperators(t *testing.T) {
	b := browsertest.New(t)
	base := startWebProgram(t)
	token := register(t, base, "ann@example.com", "customer", "")
	tab := openTab(t, b, "customer on /ops")

	tab.Navigate(base + "/ops")
	tab.WaitRole("heading", "Sign in")
	tab.WaitText("Sign in with an admin account.")
	if tab.HasText("Create an account") {
		t.Error("the operator page offers to create an account; admins are created with ordercast admin create")
	}
	shot(t, tab, "ops-signin")

	browsertest.Eval[bool](tab, recordRequestsJS)
	tab.Fill("Email", "ann@example.com")
	tab.Fill("Password", "long enough pw")
	tab.Click("button", "Sign in")
	tab.WaitRole("heading", "This page is for operators")
	tab.WaitText("with a customer account")
	if opened := browsertest.Eval[[]string](tab, `window.opened`); len(opened) != 1 || opened[0] != "/api/v1/auth/login" {
		t.Errorf("for a customer the page opened %q, want only the login", opened)
	}
	if browsertest.Eval[bool](tab, `!!document.querySelector("table, .health")`) {
		t.Error("the page shows figures to a customer")
	}
	shot(t, tab, "ops-not-operator")
	if got := status(t, base, token, "GET", "/ops/stats", ""); got != http.StatusForbidden {
		t.Errorf("GET /ops/stats with a customer's token: %d, want 403", got)
	}

	// Signed out, the page asks for a sign-in again.
	tab.Click("button", "Sign out")
	tab.WaitRole("heading", "Sign in")
	tab.CheckClean()
}

// connectionsJS reads the connections figure the page shows for instance
// id (NaN while it lists no such instance).
func connectionsJS(id string) string {
	return fmt.Sprintf(`Number(document.querySelector('tr[data-instance=%q] [data-figure="connections"]')?.textContent)`, id)
}

// TestOpsPageShowsTwoInstancesLive: two instances of the program, alpha
// and beta, on one PostgreSQL database and one Redis, as a deployment runs
// them. The page, served by alpha, lists both, with the store and Redis
// up; three sockets opened on beta, then three on alpha, raise each one's
// connections figure on the page, live over the ops channel: the page
// fetched the figures once.
func TestOpsPageShowsTwoInstancesLive(t *testing.T) {
	b := browsertest.New(t)
	srv := redistest.StartServer(t)
	db := postgres.SharedTestURL(t)
	createAdmin(t, db)
	// The test's sockets do not refresh their tokens: these outlive the
	// test (the web tests' 20 s would close them with 4001 midway).
	start := func(id string) string {
		return startWebProgram(t, "DATABASE_URL", db, "REDIS_URL", "redis://"+srv.Addr+"/0", "INSTANCE_ID", id,
			"JWT_SECRET", "a-secret-both-instances-share-0123456789", "DATA_DIR", t.TempDir(), "ACCESS_TOKEN_TTL", "10m")
	}
	alpha, beta := start("alpha"), start("beta")
	tab := openTab(t, b, "admin")
	opsSignIn(tab, alpha, adminEmail, adminPassword, "Operations")

	// Each instance reports itself every 2 s: the first reports may take
	// a few rounds on a loaded machine.
	tab.WaitJSFor(`[...document.querySelectorAll("tr[data-instance]")].map((r) => r.dataset.instance).join() === "alpha,beta"`, 30*time.Second)
	tab.WaitJS(`document.querySelector('[data-figure="store"]').textContent.startsWith("Up")`)
	tab.WaitJS(`document.querySelector('[data-figure="redis"]').textContent.startsWith("Up")`)
	// The page's own socket is counted before alpha's figure is read.
	tab.WaitJSFor(connectionsJS("alpha")+` >= 1`, 30*time.Second)

	customer := register(t, beta, "ann@example.com", "customer", "")
	for _, c := range []struct{ id, base string }{{"beta", beta}, {"alpha", alpha}} {
		before := browsertest.Eval[int](tab, connectionsJS(c.id))
		for range 3 {
			openSocket(t, c.base, customer)
		}
		tab.WaitJSFor(fmt.Sprintf(`%s >= %d`, connectionsJS(c.id), before+3), 30*time.Second)
	}
	if n := browsertest.Eval[int](tab, `performance.getEntriesByType("resource").filter((e) => e.name.endsWith("/api/v1/ops/stats")).length`); n != 1 {
		t.Errorf("the page fetched the figures %d times, want once (then live over the ops channel)", n)
	}
	shot(t, tab, "ops")
	tab.CheckClean()
}

// apiOrder is what the admin actions' checks read of an order.
type apiOrder struct {
	Status       string  `json:"status"`
	Reason       string  `json:"reason"`
	CourierID    *string `json:"courier_id"`
	RestaurantID string  `json:"restaurant_id"`
	Items        []struct {
		MenuItemID string `json:"menu_item_id"`
	} `json:"items"`
}

func getOrder(t *testing.T, base, token, id string) apiOrder {
	t.Helper()
	var o apiOrder
	if err := json.Unmarshal(apiCall(t, base, token, "GET", "/orders/"+id, ""), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestOpsPageAdminActions: each admin action through the page, checked
// through the API. A user found by email (id, name, role shown) and their
// sessions ended: their open socket closes with 4001 and their token is
// refused. A courier taken off an order: it has no courier after. An
// order cancelled with a reason: cancelled, with that reason. An unknown
// email, an order id that is not a number (not sent) and an empty reason
// (refused by the server, the order unchanged) are said in words.
func TestOpsPageAdminActions(t *testing.T) {
	b := browsertest.New(t)
	db := "sqlite://" + filepath.Join(t.TempDir(), "oc.db")
	createAdmin(t, db)
	// Tokens that outlive the test: a 4001 on Ann's socket is then the
	// page's doing, not her token's expiry.
	base := startWebProgram(t, "DATABASE_URL", db, "ACCESS_TOKEN_TTL", "10m")

	assigned, restaurant, customer := placedOrder(t, base)
	courier := register(t, base, "bo@example.com", "courier", "")
	apiCall(t, base, restaurant, "POST", "/orders/"+assigned+"/status", `{"status":"accepted"}`)
	apiCall(t, base, courier, "POST", "/orders/"+assigned+"/claim", "")
	first := getOrder(t, base, customer, assigned)
	var placed struct {
		ID string `json:"id"`
	}
	body := fmt.Sprintf(`{"restaurant_id":%q,"items":[{"menu_item_id":%q,"quantity":1}],"delivery_address":"1 Main St"}`, first.RestaurantID, first.Items[0].MenuItemID)
	if err := json.Unmarshal(apiCall(t, base, customer, "POST", "/orders", body, "Idempotency-Key", "k2"), &placed); err != nil {
		t.Fatal(err)
	}
	var ann struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(apiCall(t, base, customer, "GET", "/me", ""), &ann); err != nil {
		t.Fatal(err)
	}
	annSocket := openSocket(t, base, customer)

	tab := openTab(t, b, "admin")
	opsSignIn(tab, base, adminEmail, adminPassword, "Operations")
	tab.WaitText("Not used: one instance") // no Redis

	// An email nobody has.
	tab.Fill("Email", "nobody@example.com")
	tab.Click("button", "Find user")
	tab.WaitText("No user has the email nobody@example.com.")
	seen := expectOnlyFailure(t, tab, "404", "/api/v1/admin/users")

	// Ann, found from the keyboard, and her sessions ended; the focus
	// goes to the confirming button.
	tab.Fill("Email", "ann@example.com")
	tab.TabTo("button", "Find user", false)
	tab.Press("\r")
	tab.WaitJS(`document.querySelector(".facts")`)
	facts := browsertest.Eval[map[string]string](tab, `Object.fromEntries([...document.querySelectorAll(".facts dt")].map((dt) =>
		[dt.textContent, dt.nextElementSibling.textContent]))`)
	if facts["User id"] != ann.ID || facts["Name"] != "N" || facts["Role"] != "customer" || facts["Email"] != "ann@example.com" {
		t.Errorf("the page shows %v for ann@example.com, want user id %s, name N, role customer", facts, ann.ID)
	}
	stillOpen(t, annSocket)
	tab.Click("button", "End sessions")
	tab.WaitText("End every session of ann@example.com?")
	if role, name := tab.Focused(); role != "button" || name != "End sessions of ann@example.com" {
		t.Errorf("asked to confirm, the focus is on %s %q, want the confirming button", role, name)
	}
	tab.Press("\r")
	tab.WaitText("Ended 1 session of ann@example.com.")
	if code := closedCode(t, annSocket); code != 4001 {
		t.Errorf("Ann's socket closed with %d, want 4001", code)
	}
	if got := status(t, base, customer, "GET", "/me", ""); got != http.StatusUnauthorized {
		t.Errorf("Ann's token after her sessions ended: %d, want 401", got)
	}

	// The courier taken off the assigned order.
	tab.Fill("Order id", assigned)
	tab.Click("button", "Unassign courier")
	tab.Fill("Reason for unassigning the courier of order #"+assigned, "The courier's bike broke down")
	tab.Click("button", "Unassign courier of order #"+assigned)
	tab.WaitText("Order #" + assigned + ": the courier was taken off; it is offered to couriers again.")
	if o := getOrder(t, base, restaurant, assigned); o.CourierID != nil {
		t.Errorf("order %s has courier %s after the page unassigned it", assigned, *o.CourierID)
	}

	// An id that is not a number is not sent.
	tab.Fill("Order id", "12a")
	tab.Click("button", "Cancel order")
	tab.WaitText("Order id: a number, such as 42.")

	// The other order: cancelled without a reason, refused in words and
	// left as it was; then with one.
	tab.Fill("Order id", placed.ID)
	tab.Click("button", "Cancel order")
	tab.Click("button", "Cancel order #"+placed.ID)
	tab.WaitText("Reason: required")
	seen = expectOnlyFailureAfter(t, tab, seen, "400", "/api/v1/orders/"+placed.ID+"/status")
	if o := getOrder(t, base, restaurant, placed.ID); o.Status != "placed" {
		t.Errorf("order %s is %s after a cancel without a reason, want placed", placed.ID, o.Status)
	}
	tab.Fill("Reason for cancelling order #"+placed.ID, "The restaurant closed early")
	tab.Click("button", "Cancel order #"+placed.ID)
	tab.WaitText("Order #" + placed.ID + " was cancelled.")
	if o := getOrder(t, base, restaurant, placed.ID); o.Status != "cancelled" || o.Reason != "The restaurant closed early" {
		t.Errorf("order %s is %s with reason %q, want cancelled with the page's reason", placed.ID, o.Status, o.Reason)
	}
	shot(t, tab, "ops-actions")
	checkCleanAfter(t, "admin", tab, seen)
}
