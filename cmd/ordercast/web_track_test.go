package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/browsertest"
)

// TestWebTrackingLink: the customer shares the order from its page; the
// link, opened in a browser context of its own with no account, shows
// the status and follows a status change and the courier's position live,
// with nothing of the customer; once the customer stops sharing, the page
// says the link is no longer valid.
func TestWebTrackingLink(t *testing.T) {
	b := browsertest.New(t)
	base := startWebProgram(t)
	restaurant := register(t, base, "luigi@example.com", "restaurant", `,"restaurant_name":"Luigi's"`)
	courier := register(t, base, "bo@example.com", "courier", "")
	var me struct {
		RestaurantID string `json:"restaurant_id"`
	}
	if err := json.Unmarshal(apiCall(t, base, restaurant, "GET", "/me", ""), &me); err != nil {
		t.Fatal(err)
	}
	apiCall(t, base, restaurant, "POST", "/restaurants/"+me.RestaurantID+"/menu", `{"name":"Margherita","price_cents":1250}`)

	cust := openTab(t, b, "customer")
	signUp(cust, base, "customer", "Ann Example", "ann@example.com", "", "Restaurants")
	id := placeOrder(cust, base, "1 Main Street, flat 4")
	apiCall(t, base, restaurant, "POST", "/orders/"+id+"/status", `{"status":"accepted"}`)
	apiCall(t, base, courier, "POST", "/orders/"+id+"/claim", "")

	cust.Click("button", "Share tracking link")
	cust.WaitJS(`document.querySelector(".share-url") && document.querySelector(".share-url").value.includes("/t/")`)
	url := browsertest.Eval[string](cust, `document.querySelector(".share-url").value`)
	if !strings.HasPrefix(url, base+"/t/") {
		t.Fatalf("shared url %q, want %s/t/{token}", url, base)
	}

	viewer := openTab(t, b, "viewer") // a context of its own: no session
	viewer.Navigate(url)
	viewer.WaitRole("heading", "Your order")
	viewer.WaitText("Accepted")
	viewer.WaitText("Live.")

	apiCall(t, base, restaurant, "POST", "/orders/"+id+"/status", `{"status":"preparing"}`)
	viewer.WaitText("Preparing")
	apiCall(t, base, courier, "POST", "/couriers/me/location", fmt.Sprintf(`{"lat":52.52,"lng":13.405,"ts":%d}`, time.Now().UnixMilli()))
	viewer.WaitJS(`document.querySelector(".map-courier") && document.querySelector(".map-courier").dataset.lat === "52.52"`)
	for _, secret := range []string{"1 Main Street", "Ann Example", "ann@example.com", "Margherita"} {
		if viewer.HasText(secret) {
			t.Errorf("the tracking page shows %q", secret)
		}
	}
	shot(t, viewer, "tracking")

	// From a later visit of the order page the customer still stops it.
	reloadAndWait(cust, `document.body.innerText.includes("Shared earlier")`)
	cust.Click("button", "Stop sharing")
	cust.WaitText("The link no longer works.")
	viewer.WaitText("This tracking link is no longer valid")
	viewer.Navigate(url)
	viewer.WaitText("This tracking link is no longer valid")
	cust.CheckClean()
}
