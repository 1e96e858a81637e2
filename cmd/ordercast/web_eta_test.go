package main

// The estimate and the courier's arrival in the web app: the customer's
// order page and the restaurant's board, live and after a reload, with the
// courier's positions sent through the API as its device would send them.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/browsertest"
	"github.com/ordercast/ordercast/internal/testnet"
)

// The restaurant's place and the drop-off, 3 km north of it.
const (
	etaRestLat, etaRestLng = 52.52, 13.405
	etaDropLat, etaDropLng = 52.547, 13.405
)

// startDevice makes the courier's tab send its position every second, as
// a phone sharing it does, from wherever window.device says it is.
func startDevice(courier *browsertest.Tab, lat, lng float64) {
	browsertest.Eval[bool](courier, fmt.Sprintf(`(() => {
		window.device = {lat: %v, lng: %v};
		const send = () => %s;
		send();
		window.deviceTimer = setInterval(send, 1000);
		return true;
	})()`, lat, lng, apiJS("POST", "/couriers/me/location", `JSON.stringify({lat: device.lat, lng: device.lng, ts: Date.now()})`)))
}

func moveDevice(courier *browsertest.Tab, lat, lng float64) {
	browsertest.Eval[bool](courier, fmt.Sprintf(`(window.device = {lat: %v, lng: %v}, true)`, lat, lng))
}

// etaShown is a script: the time the customer's page gives, as an ISO time.
const etaShown = `(document.querySelector(".eta-time time") || {}).dateTime`

// boardShown is a script: the pickup time the board's card gives.
const boardShown = `(document.querySelector(".eta-line time") || {}).dateTime`

// apiETA is a script: the basis and one time (field) of order id's
// estimate as the API gives it, "prep 2026-…Z".
func apiETA(id, field string) string {
	return apiJS("GET", "/orders/"+id, "undefined") +
		`.then((o) => o.eta && o.eta.basis + " " + new Date(o.eta.` + field + `).toISOString())`
}

// waitAgree waits until shown (a script of what the page shows) is what
// api (a script answering a promise) answers, both read in one script:
// the page hears of an estimate a moment after the API has it, and the
// estimate may move meanwhile, so they are read again until they agree.
func waitAgree(t *testing.T, tab *browsertest.Tab, what, shown, api string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := browsertest.Eval[[2]string](tab, api+`.then((a) => [String(`+shown+`), String(a)])`)
		if got[0] == got[1] {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s the page shows %q, the API's estimate is %q", what, got[0], got[1])
			return
		}
		// The next read after the page's next frame of the socket or so.
		browsertest.Eval[bool](tab, `new Promise((r) => setTimeout(() => r(true), 100))`)
	}
}

// TestWebETAAndArrival: the customer's page says when the food is ready
// once the restaurant accepts, and when it arrives once the courier is on
// its way (the times the API gives); the courier staying at the
// restaurant is "at the restaurant" on that page and "Courier waiting" on
// the board, and staying at the drop-off is "Your courier is here", each
// still shown after a reload. A board cut off while the pickup time moves
// shows the new time once it is back. The lines are polite live regions,
// the customer's rewritten only when its words change, with the arrival it
// says not announced a second time; the pages pass the accessibility checks.
func TestWebETAAndArrival(t *testing.T) {
	b := browsertest.New(t)
	// Tokens outlive the test: the device's positions use the token read
	// from the tab, not the app's refreshing session.
	base := startWebProgram(t, "ACCESS_TOKEN_TTL", "10m")
	// The restaurant reaches the server through a proxy the test can cut.
	proxy := testnet.StartProxy(t, strings.TrimPrefix(base, "http://"))
	restBase := "http://" + proxy.Addr
	rest := openTab(t, b, "restaurant")
	cust := openTab(t, b, "customer")
	courier := openTab(t, b, "courier")

	openLuigis(rest, restBase)
	rid := browsertest.Eval[string](rest, `JSON.parse(sessionStorage.getItem("ordercast.session")).user.restaurant_id`)
	browsertest.Eval[map[string]any](rest, apiJS("PATCH", "/restaurants/"+rid,
		fmt.Sprintf(`JSON.stringify({lat: %v, lng: %v, prep_minutes: 20})`, etaRestLat, etaRestLng)))
	item := browsertest.Eval[string](rest, apiJS("GET", "/restaurants/"+rid+"/menu", "undefined")+`.then((b) => b.items[0].id)`)
	signUp(courier, base, "courier", "Bo", "bo@example.com", "", "Deliveries")
	signUp(cust, base, "customer", "Ann", "ann@example.com", "", "Restaurants")

	// The app's form has no map to pick the drop-off on: the order with
	// its place is placed through the API, then followed in the app.
	id := browsertest.Eval[string](cust, apiJS("POST", "/orders", fmt.Sprintf(
		`JSON.stringify({restaurant_id: %q, items: [{menu_item_id: %q, quantity: 1}], delivery_address: "1 Main Street", delivery_lat: %v, delivery_lng: %v})`,
		rid, item, etaDropLat, etaDropLng))+`.then((o) => o.id)`)
	cust.Navigate(base + "/#/orders/" + id)
	cust.WaitRole("heading", "Order #"+id)
	cust.WaitText("Waiting for the restaurant to accept.")
	if cust.HasText("around") {
		t.Errorf("the page shows an estimate before the accept")
	}
	if live := browsertest.Eval[string](cust, `document.querySelector(".eta").getAttribute("aria-live")`); live != "polite" {
		t.Errorf("the estimate's region is aria-live=%q, want polite", live)
	}
	// What the region and the page's announcer say, until the reload.
	browsertest.Eval[bool](cust, `(() => {
		const region = document.querySelector(".eta"), announcer = document.getElementById("announcer");
		window.etaSaid = [];
		window.announced = [];
		const opts = {subtree: true, childList: true, characterData: true};
		new MutationObserver(() => etaSaid.push(region.textContent)).observe(region, opts);
		new MutationObserver(() => announcer.textContent && announced.push(announcer.textContent)).observe(announcer, opts);
		return true;
	})()`)

	// Accepted: the kitchen's time.
	rest.Click("button", "Accept order #"+id)
	cust.WaitText("Ready around")
	waitAgree(t, cust, "after the accept", `"prep " + `+etaShown, apiETA(id, "pickup_at"))
	rest.WaitText("Pickup around")

	// The courier claims it and heads for the restaurant from 1 km south:
	// the estimate moves onto its way (at most every 10 s), and the
	// customer is told when it arrives.
	courier.Click("button", "Claim order #"+id)
	courier.WaitRole("heading", "Order #"+id)
	startDevice(courier, etaRestLat-0.009, etaRestLng)
	cust.WaitJSFor(`document.querySelector(".eta-time").textContent.startsWith("Arriving around")`, 30*time.Second)
	waitAgree(t, cust, "on the courier's way", `"to_pickup " + `+etaShown, apiETA(id, "deliver_at"))
	shot(t, cust, "customer-order-eta")

	// The board's network goes while the courier turns back 6 km south
	// (24 minutes at 15 km/h, later than the food): the pickup time the
	// board missed is the one it shows after the reconnect.
	endCut := rest.ExpectNetworkErrors()
	proxy.Cut()
	rest.WaitText("Connection lost")
	before := browsertest.Eval[string](cust, etaShown)
	moveDevice(courier, etaRestLat-0.054, etaRestLng)
	cust.WaitJSFor(fmt.Sprintf(`(%s) !== %q`, etaShown, before), 30*time.Second)
	proxy.Resume()
	// The next attempt may be a whole backoff away (at most 15 s).
	rest.WaitJSFor(`document.getElementById("banner").hidden`, 30*time.Second)
	endCut()
	waitAgree(t, rest, "on the board back from the cut", `"to_pickup " + `+boardShown, apiETA(id, "pickup_at"))

	moveDevice(courier, etaRestLat+0.00005, etaRestLng)
	cust.WaitJSFor(`document.querySelector(".eta-arrival").textContent === "Your courier is at the restaurant"`, 30*time.Second)
	rest.WaitText("Courier waiting")
	shot(t, rest, "restaurant-board-courier-waiting")
	// The region was rewritten only when its words changed (not for the
	// claim, a status or an unchanged estimate), and the arrival it said
	// is not announced again: a timer set now runs after any announce
	// the arrival set off (50 ms after it).
	said := browsertest.Eval[struct {
		ETA       []string
		Announced []string
	}](cust, `new Promise((r) => setTimeout(() => r({eta: etaSaid, announced}), 100))`)
	for i := 1; i < len(said.ETA); i++ {
		if said.ETA[i] == said.ETA[i-1] {
			t.Errorf("the estimate's region was rewritten with the same words %q: %q", said.ETA[i], said.ETA)
		}
	}
	if len(said.ETA) == 0 || !strings.HasSuffix(said.ETA[len(said.ETA)-1], "Your courier is at the restaurant") {
		t.Errorf("the estimate's region said %q, want the arrival last", said.ETA)
	}
	for _, a := range said.Announced {
		if strings.Contains(a, "Courier arrived") {
			t.Errorf("the arrival was announced again: %q (the region says it)", said.Announced)
		}
	}
	reloadAndWait(cust, `document.querySelector(".eta-arrival") && document.querySelector(".eta-arrival").textContent === "Your courier is at the restaurant"`)
	reloadAndWait(rest, `document.querySelector(".eta-line") && document.querySelector(".eta-line").textContent === "Courier waiting"`)

	// Picked up: the courier rides to the drop-off and stays there.
	rest.Click("button", "Start preparing order #"+id)
	rest.Click("button", "Mark ready order #"+id)
	courier.Click("button", "Picked up order #"+id)
	cust.WaitText("Picked up by the courier")
	cust.WaitJS(`document.querySelector(".eta-arrival").textContent === ""`)
	rest.WaitJS(`![...document.querySelectorAll(".eta-line")].some((p) => p.textContent)`)
	moveDevice(courier, etaDropLat-0.00003, etaDropLng)
	cust.WaitJSFor(`document.querySelector(".eta-arrival").textContent === "Your courier is here"`, 30*time.Second)
	if cust.HasText("Your courier is at the restaurant") {
		t.Errorf("the page still says the courier is at the restaurant")
	}
	shot(t, cust, "customer-order-courier-here")
	reloadAndWait(cust, `document.querySelector(".eta-arrival") && document.querySelector(".eta-arrival").textContent === "Your courier is here"`)
	browsertest.Eval[bool](courier, `(clearInterval(window.deviceTimer), true)`)

	courier.Click("button", "Delivered order #"+id)
	cust.WaitText("Delivered")
	cust.WaitJS(`document.querySelector(".eta-arrival").textContent === "" && document.querySelector(".eta-time").textContent === ""`)
	for _, tab := range []*browsertest.Tab{rest, cust, courier} {
		tab.CheckClean()
	}
}
