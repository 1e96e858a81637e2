package main

// The web app in headless Chromium: three people (customer, restaurant,
// courier), each in a browser context of their own, run a whole delivery
// through the app's screens, found by role and accessible name as
// assistive technology finds them. Nothing is set up through the API.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/browsertest"
	"github.com/ordercast/ordercast/internal/testnet"
)

// TestWebDeliveryFlow: sign up in the app, build a menu, order, and follow
// the order live on all three screens (board, offers, status timeline,
// courier on the map, chat with typing and read marks); then the
// customer's network is cut while the order moves twice, and after the
// reconnect the customer's timeline shows both changes, once each.
func TestWebDeliveryFlow(t *testing.T) {
	b := browsertest.New(t)
	base := startWebProgram(t)
	// The customer reaches the server through a proxy the test can cut.
	proxy := testnet.StartProxy(t, strings.TrimPrefix(base, "http://"))
	customerBase := "http://" + proxy.Addr

	rest := openTab(t, b, "restaurant")
	courier := openTab(t, b, "courier")
	cust := openTab(t, b, "customer")

	// Sign-up screens, then each role's start page.
	rest.Navigate(base + "/#/signup")
	rest.WaitRole("heading", "Create an account")
	shot(t, rest, "signup")
	signUp(rest, base, "restaurant", "Luigi", "luigi@example.com", "Luigi's", "Orders")
	signUp(courier, base, "courier", "Bo", "bo@example.com", "", "Deliveries")
	signUp(cust, customerBase, "customer", "Ann", "ann@example.com", "", "Restaurants")

	// The restaurant builds its menu; the soup is off today.
	rest.Click("link", "Menu")
	rest.WaitRole("heading", "Add an item")
	for _, item := range [][2]string{{"Margherita", "12.50"}, {"Tiramisu", "6"}, {"Minestrone", "7,80"}} {
		rest.Fill("Item name", item[0])
		rest.Fill("Price", item[1])
		rest.Click("button", "Add item")
		rest.WaitRole("button", "Mark unavailable: "+item[0])
	}
	rest.Click("button", "Mark unavailable: Minestrone")
	rest.WaitRole("button", "Mark available: Minestrone")
	shot(t, rest, "restaurant-menu")
	rest.Click("link", "Orders")
	rest.WaitRole("heading", "New (0)")

	// The customer fills the cart and places the order: a double click
	// places one order.
	cust.Click("link", "Luigi's")
	cust.WaitRole("heading", "Your cart")
	cust.WaitText("Not available") // the soup has no Add button
	cust.WaitRoleGone("button", "Add Minestrone to the cart")
	// The cart is filled from the keyboard alone, Tab and Shift+Tab to a
	// button, Enter or Space to press it; each shows where the focus is.
	cust.TabTo("button", "Add Margherita to the cart", false)
	cust.Press("\r")
	cust.TabTo("button", "Add one more Margherita", false)
	cust.Press(" ")
	cust.WaitText("2 ×")
	// The cart was drawn anew; the focus is on the + that was pressed.
	if role, name := cust.Focused(); role != "button" || name != "Add one more Margherita" {
		t.Errorf("after + in the cart the focus is on %s %q, want that button", role, name)
	}
	cust.TabTo("button", "Add Tiramisu to the cart", true)
	cust.Press("\r")
	cust.WaitText("€31.00")
	cust.Fill("Delivery address", "1 Main Street, flat 4")
	shot(t, cust, "customer-menu")
	// The answer to the first placement is lost on the way back (the server
	// stored the order), and the button is clicked twice: the second click
	// is ignored, and the retry after the error sends the same
	// Idempotency-Key, so one order is placed.
	browsertest.Eval[bool](cust, `(() => {
		const realFetch = window.fetch;
		window.placementKeys = [];
		let lose = true;
		window.fetch = async (url, init = {}) => {
			const placing = init.method === "POST" && String(url).endsWith("/api/v1/orders");
			if (placing) window.placementKeys.push(init.headers["Idempotency-Key"]);
			const resp = await realFetch(url, init);
			if (placing && lose) { lose = false; throw new TypeError("Failed to fetch"); }
			return resp;
		};
		const b = [...document.querySelectorAll("button")].find((b) => b.textContent === "Place order");
		b.click(); b.click();
		return true;
	})()`)
	cust.WaitText("The server cannot be reached.")
	cust.Click("button", "Place order")
	cust.WaitJS(`/^#\/orders\/\d+$/.test(location.hash)`)
	if keys := browsertest.Eval[[]string](cust, `window.placementKeys`); len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
		t.Fatalf("placement requests sent Idempotency-Keys %q, want the same key twice", keys)
	}
	placed := browsertest.Eval[int](cust, `fetch("/api/v1/orders", {headers: {Authorization: "Bearer " +
		JSON.parse(sessionStorage.getItem("ordercast.session")).accessToken}}).then((r) => r.json()).then((b) => b.orders.length)`)
	if placed != 1 {
		t.Fatalf("the customer has %d orders, want 1", placed)
	}
	id := browsertest.Eval[string](cust, `location.hash.split("/").pop()`)
	order := "Order #" + id
	cust.WaitRole("heading", order)
	cust.WaitText("Waiting for the restaurant to accept.")

	// The restaurant sees it appear without a reload, with a title badge.
	rest.WaitRole("link", order)
	rest.WaitRole("heading", "New (1)")
	rest.WaitJS(`document.title.startsWith("(1) ")`)
	rest.Click("button", "Mute sound")
	rest.WaitJS(`document.querySelector("[aria-pressed=true]")`)
	rest.Click("button", "Mute sound")
	shot(t, rest, "restaurant-board-new")
	// The restaurant accepts it from the keyboard.
	rest.TabTo("button", "Accept order #"+id, false)
	rest.Press("\r")
	rest.WaitRole("heading", "Accepted (1)")
	rest.WaitJS(`!document.title.startsWith("(")`)

	// The courier sees the offer and claims it.
	courier.WaitRole("button", "Claim order #"+id)
	shot(t, courier, "courier-offers")
	courier.Click("button", "Claim order #"+id)
	courier.WaitRole("heading", order)
	courier.WaitText("1 Main Street, flat 4")

	rest.Click("button", "Start preparing order #"+id)
	rest.WaitRole("heading", "Preparing (1)")

	cust.WaitText("Accepted by the restaurant")
	cust.WaitText("Courier assigned")
	cust.WaitText("Being prepared")

	// The courier rides to the restaurant along the simulated route; the
	// customer's map shows the courier moving.
	courier.Click("button", "Simulate a route")
	courier.WaitText("Driving a simulated route.")
	cust.WaitJS(`document.querySelector(".map-courier")`)
	first := browsertest.Eval[string](cust, `document.querySelector(".map-courier").dataset.lng`)
	cust.WaitJS(fmt.Sprintf(`document.querySelector(".map-courier").dataset.lng !== %q`, first))
	cust.WaitText("Courier seen at")

	// Chat between customer and courier: typing shows on the other side,
	// the message arrives, and its author sees it read.
	cust.Fill("Message", "Please ring twice")
	courier.WaitText("The customer is typing…")
	cust.Click("button", "Send")
	courier.WaitText("Please ring twice")
	cust.WaitText("Read by the courier")
	courier.Fill("Message", "On my way")
	cust.WaitText("The courier is typing…")
	courier.Click("button", "Send")
	cust.WaitText("On my way")
	courier.WaitText("Read by the customer")
	shot(t, courier, "courier-order")

	// The restaurant's board counts both messages as unread; on the order
	// page it reads them and answers the customer.
	rest.WaitText("2 unread")
	rest.Click("link", order)
	rest.WaitRole("heading", "Chat")
	rest.WaitText("Please ring twice")
	cust.WaitText("Read by the restaurant and the courier")
	rest.Fill("Message", "Extra napkins are in the bag")
	cust.WaitText("The restaurant is typing…")
	rest.Click("button", "Send")
	cust.WaitText("Extra napkins are in the bag")
	rest.WaitText("Read by the customer and the courier")
	shot(t, rest, "restaurant-order")
	shot(t, cust, "customer-order")

	// The customer's network goes; the order is ready and picked up
	// meanwhile.
	endCut := cust.ExpectNetworkErrors()
	proxy.Cut()
	cust.WaitText("Connection lost")
	cust.WaitText("Reconnecting in")
	shot(t, cust, "customer-offline")
	rest.Click("button", "Mark ready order #"+id)
	rest.WaitText("Ready for pickup")
	courier.Click("button", "Picked up order #"+id)
	courier.WaitRole("button", "Delivered order #"+id)
	proxy.Resume()
	// The next attempt may be a whole backoff away (at most 15 s).
	cust.WaitJSFor(`document.getElementById("banner").hidden`, 30*time.Second)
	endCut()
	cust.WaitText("Picked up by the courier")
	courier.Click("button", "Delivered order #"+id)
	cust.WaitText("Delivered")
	counts := timelineCounts(cust)
	want := []string{"Order placed", "Accepted by the restaurant", "Courier assigned", "Being prepared", "Ready for pickup", "Picked up by the courier", "Delivered"}
	for _, line := range want {
		if counts[line] != 1 {
			t.Errorf("timeline shows %q %d times, want once (timeline: %v)", line, counts[line], counts)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("timeline has %d kinds of lines, want %d: %v", len(counts), len(want), counts)
	}

	// My orders: the one order, delivered; a message the courier sends
	// now shows there as unread, live.
	cust.Click("link", "My orders")
	cust.WaitRole("link", order)
	cust.WaitText("Delivered")
	if n := browsertest.Eval[int](cust, `document.querySelectorAll(".orders li").length`); n != 1 {
		t.Errorf("the customer has %d orders after a double click, want 1", n)
	}
	courier.Fill("Message", "Left it with your neighbour")
	courier.Click("button", "Send")
	cust.WaitText("1 unread")
	shot(t, cust, "customer-orders")
	cust.Click("link", "Restaurants")
	cust.WaitRole("link", "Luigi's")
	shot(t, cust, "customer-restaurants")
	rest.Click("link", "All orders")
	rest.WaitRole("heading", "Done (1)")
	shot(t, rest, "restaurant-board")
	courier.Click("link", "Deliveries")
	courier.WaitText("Nothing to deliver right now.")

	// Sign out, then back in through a link that names the email.
	courier.Click("button", "Sign out")
	courier.WaitRole("heading", "Sign in")
	courier.Navigate(base + "/#/signin?email=bo%40example.com")
	courier.WaitJS(`document.getElementById("email").value === "bo@example.com"`)
	shot(t, courier, "signin")
	courier.Fill("Password", webPassword)
	courier.Press("\r")
	courier.WaitRole("heading", "Deliveries")

	// The sessions are kept in sessionStorage only (localStorage holds
	// the restaurant's sound setting, set by the mute above).
	for name, tab := range map[string]*browsertest.Tab{"restaurant": rest, "courier": courier, "customer": cust} {
		checkTokensInSessionStorage(t, tab, name)
	}
	for _, tab := range []*browsertest.Tab{rest, courier, cust} {
		tab.CheckClean()
	}
}

// TestWebRefusalsAndCancels: the other ways an order ends, and errors in
// words. A taken email and a wrong password are explained (and are the
// only failed requests of their tabs); the restaurant rejects one order
// with a reason; the customer cancels one while it is only placed; of two
// couriers offered a third, the one who claims it keeps it while the other
// sees the offer go; the restaurant then cancels it with a reason, which
// both the customer and the courier see. A reload keeps the session. A
// reason being typed survives a chat message for its order; a malformed
// or non-numeric order id in the hash is "Page not found".
func TestWebRefusalsAndCancels(t *testing.T) {
	b := browsertest.New(t)
	base := startWebProgram(t)
	rest := openTab(t, b, "restaurant")
	cust := openTab(t, b, "customer")
	bo := openTab(t, b, "courier Bo")
	cy := openTab(t, b, "courier Cy")

	signUp(rest, base, "restaurant", "Luigi", "luigi@example.com", "Luigi's", "Orders")
	rest.Click("link", "Menu")
	rest.Fill("Item name", "Margherita")
	rest.Fill("Price", "12.50")
	rest.Press("\r") // the form is sent from the keyboard
	rest.WaitRole("button", "Mark unavailable: Margherita")

	// A wrong password, then the right one.
	rest.Click("button", "Sign out")
	rest.WaitRole("heading", "Sign in")
	rest.Fill("Email", "luigi@example.com")
	rest.Fill("Password", "not my password")
	rest.Press("\r")
	rest.WaitText("Wrong email or password.")
	rest.Fill("Password", webPassword)
	rest.Press("\r")
	rest.WaitRole("heading", "Orders")
	restExpected := expectOnlyFailure(t, rest, "401", "/api/v1/auth/login")

	// An email already taken, then another.
	cust.Navigate(base + "/#/signup")
	cust.Fill("Your name", "Ann")
	cust.Fill("Email", "luigi@example.com")
	cust.Fill("Password", webPassword)
	cust.Click("button", "Create account")
	cust.WaitText("An account with this email already exists. Sign in instead.")
	custExpected := expectOnlyFailure(t, cust, "409", "/api/v1/auth/register")
	signUp(cust, base, "customer", "Ann", "ann@example.com", "", "Restaurants")
	signUp(bo, base, "courier", "Bo", "bo@example.com", "", "Deliveries")
	signUp(cy, base, "courier", "Cy", "cy@example.com", "", "Deliveries")

	place := func() string { return placeOrder(cust, base, "1 Main Street") }

	// Rejected, with the reason shown to the customer. A chat message
	// arriving while the reason is typed updates the card (its unread
	// badge) but keeps the form, the text and the focus.
	first := place()
	rest.Click("button", "Reject order #"+first)
	rest.Fill("Reason for rejecting order #"+first, "Out of dough")
	cust.Fill("Message", "Is it coming?")
	cust.Click("button", "Send")
	card := fmt.Sprintf(`document.querySelector('[data-order="%s"]')`, first)
	rest.WaitJS(card + `.querySelector(".badge")?.textContent === "1 unread"`)
	if got := browsertest.Eval[[2]any](rest, `(() => {
		const field = `+card+`.querySelector("textarea");
		return [field ? field.value : null, field !== null && document.activeElement === field];
	})()`); got[0] != "Out of dough" || got[1] != true {
		t.Errorf("after a chat message, the reason field holds %v (focused: %v), want \"Out of dough\", focused", got[0], got[1])
	}
	rest.Click("button", "Reject order #"+first)
	cust.WaitText("Rejected by the restaurant: Out of dough")
	// The session survives a reload of the tab (sessionStorage).
	browsertest.Eval[bool](cust, `(location.reload(), true)`)
	cust.WaitRole("heading", "Order #"+first)
	cust.WaitText("Rejected by the restaurant: Out of dough")

	// Cancelled by the customer while only placed.
	second := place()
	rest.WaitRole("button", "Accept order #"+second)
	cust.Click("button", "Cancel order #"+second)
	cust.WaitText("Cancel this order?")
	cust.Click("button", "Cancel order #"+second)
	cust.WaitText("Cancelled")
	rest.WaitRole("heading", "Done (2)")

	// Offered to both couriers, claimed by one, gone for the other.
	third := place()
	rest.Click("button", "Accept order #"+third)
	bo.WaitRole("button", "Claim order #"+third)
	cy.WaitRole("button", "Claim order #"+third)
	bo.Click("button", "Claim order #"+third)
	bo.WaitRole("heading", "Order #"+third)
	cy.WaitRoleGone("button", "Claim order #"+third)
	cy.WaitText("No offers right now.")

	// Cancelled by the restaurant, with a reason, seen by all parties.
	rest.Click("button", "Cancel order #"+third)
	rest.Fill("Reason for cancelling order #"+third, "The oven broke")
	shot(t, rest, "restaurant-cancel")
	rest.Click("button", "Cancel order #"+third)
	rest.WaitRole("heading", "Done (3)")
	cust.WaitText("Cancelled: The oven broke")
	bo.WaitText("Cancelled: The oven broke")

	// A hash that does not decode, or an id that is not a number (it
	// would take the API path elsewhere), is a page not found, without an
	// error or a request.
	for _, hash := range []string{"#/orders/%E0", "#/orders/1%2F..%2Fme"} {
		cust.Navigate(base + "/#/orders")
		cust.WaitRole("heading", "My orders")
		cust.Navigate(base + "/" + hash)
		cust.WaitRole("heading", "Page not found")
	}

	checkCleanAfter(t, "restaurant", rest, restExpected)
	checkCleanAfter(t, "customer", cust, custExpected)
	bo.CheckClean()
	cy.CheckClean()
}

// expectOnlyFailure checks that the tab's problems so far are the
// browser's reports of one refused request (status, path), which the app
// showed in words, and returns how many there are.
func expectOnlyFailure(t *testing.T, tab *browsertest.Tab, status, path string) int {
	t.Helper()
	return expectOnlyFailureAfter(t, tab, 0, status, path)
}

// expectOnlyFailureAfter is expectOnlyFailure for the problems after the
// first n (those of an earlier expected failure).
func expectOnlyFailureAfter(t *testing.T, tab *browsertest.Tab, n int, status, path string) int {
	t.Helper()
	all := tab.Problems()
	problems := all[n:]
	seen := false
	for _, p := range problems {
		if !strings.Contains(p, path) {
			t.Errorf("unexpected problem: %s", p)
		}
		seen = seen || strings.HasPrefix(p, "request failed: "+status+" ")
	}
	if !seen {
		t.Errorf("no failed request %s %s among %q", status, path, problems)
	}
	return len(all)
}

// checkCleanAfter is CheckClean for a tab whose first n problems were
// expected (expectOnlyFailure).
func checkCleanAfter(t *testing.T, name string, tab *browsertest.Tab, n int) {
	t.Helper()
	for _, p := range tab.Problems()[n:] {
		t.Errorf("%s: %s", name, p)
	}
}
