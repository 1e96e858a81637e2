package main

// The web app in headless Chromium when a restaurant takes an order off
// its courier: the board, both screens of the courier removed, the
// couriers it is offered to again (one of them at its cap of active
// deliveries) and the customer's timeline.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/browsertest"
)

// TestWebUnassign: couriers see an offer as its offer view (restaurant,
// pieces, total, no address); the board shows which courier is coming;
// the restaurant unassigns the courier with a reason through the board;
// the courier's order page says the order was reassigned and leads back,
// while its deliveries (in another tab) lose the order live and offer it
// again; a second courier at MAX_ACTIVE_PER_COURIER is told so in words,
// delivers its other order, then claims this one; the customer's timeline
// shows the unassignment once, live and after a reload.
func TestWebUnassign(t *testing.T) {
	b := browsertest.New(t)
	// One active order per courier: the cap is reached with one claim.
	base := startWebProgram(t, "MAX_ACTIVE_PER_COURIER", "1")
	rest := openTab(t, b, "restaurant")
	cust := openTab(t, b, "customer")
	bo := openTab(t, b, "courier Bo, order page")
	boHome := openTab(t, b, "courier Bo, deliveries")
	cy := openTab(t, b, "courier Cy")

	openLuigis(rest, base)
	signUp(cust, base, "customer", "Ann", "ann@example.com", "", "Restaurants")
	signUp(bo, base, "courier", "Bo", "bo@example.com", "", "Deliveries")
	signIn(boHome, base, "bo@example.com", "Deliveries")
	signUp(cy, base, "courier", "Cy", "cy@example.com", "", "Deliveries")

	// Order A is offered: Cy's offer shows what the offer view carries,
	// and no address.
	a := placeOrder(cust, base, "1 Main Street")
	rest.Click("button", "Accept order #"+a)
	cy.WaitRole("button", "Claim order #"+a)
	offer := browsertest.Eval[string](cy, fmt.Sprintf(`document.querySelector('[data-order="%s"]').innerText`, a))
	for _, want := range []string{"Luigi's", "1 item", "€12.50"} {
		if !strings.Contains(offer, want) {
			t.Errorf("Cy's offer of order #%s shows %q, want %q in it", a, offer, want)
		}
	}
	if strings.Contains(offer, "Main Street") {
		t.Errorf("Cy's offer of order #%s shows the address: %q", a, offer)
	}
	shot(t, cy, "courier-offer-view")

	// Bo claims A: its order page, its deliveries in the other tab, and the
	// board naming Bo.
	bo.Click("button", "Claim order #"+a)
	bo.WaitRole("heading", "Order #"+a)
	bo.WaitText("1 Main Street")
	inMine := fmt.Sprintf(`document.querySelector('section[aria-labelledby=mine-h] [data-order="%s"]')`, a)
	boHome.WaitJS(inMine)
	boID := userID(bo)
	rest.WaitText("Courier #" + boID + " is coming")

	// Order B, claimed by Cy, who is then at the cap.
	bID := placeOrder(cust, base, "2 Side Street")
	rest.Click("button", "Accept order #"+bID)
	cy.Click("button", "Claim order #"+bID)
	cy.WaitRole("heading", "Order #"+bID)
	cy.Click("link", "Deliveries")
	cy.WaitRole("heading", "My deliveries")

	// The customer follows order A live.
	cust.Navigate(base + "/#/orders/" + a)
	cust.WaitRole("heading", "Order #"+a)
	cust.WaitText("Courier assigned")

	// The restaurant takes A off Bo, with a reason.
	rest.Click("button", "Unassign courier of order #"+a)
	rest.Fill("Reason for unassigning the courier of order #"+a, "Van broke down")
	shot(t, rest, "restaurant-unassign")
	rest.Click("button", "Unassign courier of order #"+a)
	rest.WaitJS(fmt.Sprintf(`document.querySelector('[data-order="%s"] .courier').textContent === "No courier yet"`, a))
	rest.WaitRoleGone("button", "Unassign courier of order #"+a)

	// Bo's order page says so and leads back; Bo's deliveries lose A live
	// and offer it again.
	bo.WaitText("This order was reassigned: the restaurant took it off you (Van broke down). You no longer deliver it.")
	shot(t, bo, "courier-reassigned")
	boHome.WaitText("Order #" + a + " was reassigned: the restaurant took it off you (Van broke down).")
	boHome.WaitJS("!" + inMine)
	boHome.WaitText("Nothing to deliver right now.")
	boHome.WaitRole("button", "Claim order #"+a)
	bo.Click("link", "Back to my deliveries")
	bo.WaitRole("heading", "My deliveries")
	bo.WaitRole("button", "Claim order #"+a)

	cust.WaitText("Courier unassigned: Van broke down")
	cust.WaitText("No courier yet.")

	// Cy, at the cap, is told so in words; the refused claim is the only
	// failed request of its tab.
	cy.WaitRole("button", "Claim order #"+a)
	cy.Click("button", "Claim order #"+a)
	cy.WaitText("You already have 1 active delivery, as many as a courier may hold. Deliver one before you claim another.")
	shot(t, cy, "courier-too-many-active")
	cyExpected := expectOnlyFailure(t, cy, "409", "/api/v1/orders/"+a+"/claim")

	// Cy's rows are kept across redraws (a screen reader keeps its place):
	// B's row is updated in place as B moves on, A's offer is untouched.
	rowsJS := fmt.Sprintf(`[%q, %q].map((id) => document.querySelector('[data-order="' + id + '"]'))`, a, bID)
	browsertest.Eval[bool](cy, `(window.rowsBefore = `+rowsJS+`, true)`)
	rest.Click("button", "Start preparing order #"+bID)
	cy.WaitJS(fmt.Sprintf(`document.querySelector('[data-order="%s"] .status')?.textContent === "Preparing"`, bID))
	if !browsertest.Eval[bool](cy, rowsJS+`.every((li, i) => li === window.rowsBefore[i])`) {
		t.Errorf("Cy's rows of orders #%s and #%s were replaced by new nodes when order #%s changed", a, bID, bID)
	}

	// Cy delivers B, then claims A, which leaves Bo's offers.
	rest.Click("button", "Mark ready order #"+bID)
	cy.Click("button", "Picked up order #"+bID)
	cy.Click("button", "Delivered order #"+bID)
	cy.WaitRoleGone("button", "Delivered order #"+bID)
	cy.Click("button", "Claim order #"+a)
	cy.WaitRole("heading", "Order #"+a)
	cy.WaitText("1 Main Street")
	bo.WaitRoleGone("button", "Claim order #"+a)
	boHome.WaitRoleGone("button", "Claim order #"+a)
	rest.WaitText("Courier #" + userID(cy) + " is coming")

	// The customer's timeline: the unassignment once, between the two
	// assignments, live and after a reload.
	lines := `[...document.querySelectorAll(".timeline li span")].filter((s) => s.textContent === "Courier assigned").length === 2`
	cust.WaitJS(lines)
	checkUnassignTimeline(t, cust)
	browsertest.Eval[bool](cust, `(location.reload(), true)`)
	cust.WaitRole("heading", "Order #"+a)
	cust.WaitJS(lines)
	checkUnassignTimeline(t, cust)

	for _, tab := range []*browsertest.Tab{rest, cust, bo, boHome} {
		tab.CheckClean()
	}
	checkCleanAfter(t, "courier Cy", cy, cyExpected)
}

// checkUnassignTimeline checks the customer's timeline of an order
// assigned, unassigned and assigned again, each line as often as it
// happened.
func checkUnassignTimeline(t *testing.T, cust *browsertest.Tab) {
	t.Helper()
	counts := timelineCounts(cust)
	want := map[string]int{"Order placed": 1, "Accepted by the restaurant": 1, "Courier assigned": 2, "Courier unassigned: Van broke down": 1}
	for line, n := range want {
		if counts[line] != n {
			t.Errorf("timeline shows %q %d times, want %d (timeline: %v)", line, counts[line], n, counts)
		}
	}
	if len(counts) != len(want) {
		t.Errorf("timeline has %d kinds of lines, want %d: %v", len(counts), len(want), counts)
	}
}

// userID is the id of the user signed in in tab (the app's session, kept
// in sessionStorage).
func userID(tab *browsertest.Tab) string {
	return browsertest.Eval[string](tab, `JSON.parse(sessionStorage.getItem("ordercast.session")).user.id`)
}
