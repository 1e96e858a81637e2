package main

// The notifications opt-in of the web app in headless Chromium. The test's
// browser contexts are incognito, where Chromium has no Push API, and the
// browser's own push service (Google's) is out of this machine's reach in
// any profile: so the page's pushManager.subscribe is replaced, after the
// real one has failed, by a stand-in that makes a subscription with real
// P-256 keys and an endpoint on an HTTP server of the test's, and the
// service worker's handling of a push is driven through DevTools.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"

	"github.com/ordercast/ordercast/internal/browsertest"
)

// pushPost is what the stand-in push service got.
type pushPost struct {
	path, topic, ttl, encoding, auth string
}

// standInSubscribe replaces the page's pushManager.subscribe and
// getSubscription: a subscription at endpoint, its keys made by WebCrypto.
const standInSubscribe = `((endpoint) => {
	const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
	let current = null;
	PushManager.prototype.getSubscription = async () => current;
	PushManager.prototype.subscribe = async (options) => {
		const pair = await crypto.subtle.generateKey({name: "ECDH", namedCurve: "P-256"}, true, ["deriveBits"]);
		const p256dh = b64(await crypto.subtle.exportKey("raw", pair.publicKey));
		const auth = b64(crypto.getRandomValues(new Uint8Array(16)));
		window.standInCalls = (window.standInCalls || 0) + 1;
		current = {
			endpoint, expirationTime: null, options,
			toJSON: () => ({endpoint, expirationTime: null, keys: {p256dh, auth}}),
			unsubscribe: async () => { current = null; return true; },
		};
		return current;
	};
	return true;
})`

// TestWebPushOptIn: the courier's opt-in says in words why notifications
// cannot be turned on (permission denied, no push service, no key on the
// server) and registers the service worker at the site's root; with a
// push service, the subscription reaches the server, which pushes the
// next offer to it once the courier's tab is closed, and turning it off,
// or signing out, deletes it there; the next user signed in at the browser
// after a session that ended without the sign-out is not opted in with the
// subscription it left. The service worker shows a push's title and body,
// one per order, and never links off the site. The customer's order page
// registers its subscription the same way.
func TestWebPushOptIn(t *testing.T) {
	posts := make(chan pushPost, 16)
	pushService := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case posts <- pushPost{r.URL.Path, r.Header.Get("Topic"), r.Header.Get("TTL"), r.Header.Get("Content-Encoding"), r.Header.Get("Authorization")}:
		default: // the test reads the first few
		}
		w.WriteHeader(http.StatusCreated)
	}))
	t.Cleanup(pushService.Close)

	b := browsertest.New(t)
	base := startWebProgram(t, "PUSH_ALLOW_INSECURE", "1", "DATA_DIR", t.TempDir())
	courier := openTab(t, b, "courier")
	signUp(courier, base, "courier", "Bo", "bo@example.com", "", "Deliveries")
	courier.WaitRole("heading", "Notifications")
	courier.WaitRole("button", "Turn on notifications")
	for _, p := range courier.AccessibilityProblems() {
		t.Errorf("deliveries with the opt-in: %s", p)
	}
	status := func() string {
		return browsertest.Eval[string](courier, `document.querySelector(".notify-status").textContent`)
	}
	settled := `document.querySelector(".notify-status").textContent && !document.querySelector(".notify-status").textContent.startsWith("Turning")`
	if role := browsertest.Eval[string](courier, `document.querySelector(".notify-status").getAttribute("role")`); role != "status" {
		t.Errorf("the opt-in's status line has role %q, want status (a polite live region)", role)
	}

	// The person says no.
	courier.SetPermission(base, "notifications", browser.PermissionSettingDenied)
	courier.Click("button", "Turn on notifications")
	courier.WaitText("Notifications are blocked for this site.")

	// Allowed, but this browser cannot subscribe: the service worker is
	// registered at the root all the same.
	courier.SetPermission(base, "notifications", browser.PermissionSettingGranted)
	courier.Click("button", "Turn on notifications")
	courier.WaitJSFor(settled, 30*time.Second)
	if got := status(); got != "This browser's push service could not be reached, so notifications cannot be turned on here." {
		t.Errorf("without a push service the opt-in says %q", got)
	}
	if sw := browsertest.Eval[string](courier, `navigator.serviceWorker.ready.then((r) => r.scope + " " + r.active.scriptURL)`); sw != base+"/ "+base+"/sw.js" {
		t.Errorf("service worker %q, want %s/sw.js with the scope %s/", sw, base, base)
	}
	problems := courier.Problems()
	for _, p := range problems {
		if !strings.Contains(p, "does not support the Push API in incognito mode") {
			t.Errorf("courier: %s", p)
		}
	}
	seen := len(problems) // the courier's tab's problems checked so far

	// A server that has no key says so (its answer, as a server without
	// Web Push gives it, is made in the page).
	browsertest.Eval[bool](courier, `(() => {
		const real = window.fetch;
		window.fetch = (url, init) => String(url).endsWith("/api/v1/push/key")
			? (window.fetch = real, Promise.resolve(new Response(JSON.stringify({error: {code: "not_found", message: "no such route"}}), {status: 404, headers: {"Content-Type": "application/json"}})))
			: real(url, init);
		return true;
	})()`)
	courier.Click("button", "Turn on notifications")
	courier.WaitText("Notifications are not set up on this server.")

	// With a push service: on, off (the server forgets it), on again.
	endpoint := pushService.URL + "/sub/bo"
	browsertest.Eval[bool](courier, fmt.Sprintf(`%s(%q)`, standInSubscribe, endpoint))
	courier.Click("button", "Turn on notifications")
	courier.WaitText("Notifications are on for this browser")
	// The press leaves the keyboard's focus on the button (now "Turn off").
	if focused := browsertest.Eval[string](courier, `document.activeElement.textContent`); focused != "Turn off notifications" {
		t.Errorf("after turning notifications on the focus is on %q, want the button", focused)
	}
	courier.Click("button", "Turn off notifications")
	courier.WaitText("Notifications are off.")
	deleteAgain := func() string {
		return browsertest.Eval[string](courier, apiJS("DELETE", "/push/subscriptions", fmt.Sprintf(`JSON.stringify({endpoint: %q})`, endpoint))+
			`.then((b) => b ? b.error.code : "deleted")`)
	}
	if code := deleteAgain(); code != "not_found" {
		t.Errorf("deleting the subscription again: %s, want not_found (the opt-out deleted it)", code)
	}
	seen = expectOnlyFailureAfter(t, courier, seen, "404", "/api/v1/push/subscriptions")
	// Signing out takes it back too: the next person at this browser
	// hears nothing of this one's orders.
	courier.Click("button", "Turn on notifications")
	courier.WaitText("Notifications are on for this browser")
	courier.Click("button", "Sign out")
	courier.WaitRole("heading", "Sign in")
	signIn(courier, base, "bo@example.com", "Deliveries")
	courier.WaitRole("button", "Turn on notifications")
	if code := deleteAgain(); code != "not_found" {
		t.Errorf("deleting the subscription after the sign-out: %s, want not_found (the sign-out deleted it)", code)
	}
	// The sign-out and the sign-in again went without a problem.
	seen = expectOnlyFailureAfter(t, courier, seen, "404", "/api/v1/push/subscriptions")
	courier.Click("button", "Turn on notifications")
	courier.WaitText("Notifications are on for this browser")
	if n := browsertest.Eval[int](courier, `window.standInCalls`); n != 3 {
		t.Errorf("subscribe called %d times, want 3 (each turn on after an off or a sign-out)", n)
	}

	// The service worker shows a push, and keeps a click on the site.
	scope := base + "/"
	// Each poll reads the notifications again; the last read is kept.
	showing := func(n int) string {
		return fmt.Sprintf(`(navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((list) => {
		window.shown = list.map((n) => [n.title, n.body, n.tag, n.data.url].join("|")).sort().join("\n");
	}), window.shown !== undefined && window.shown.split("\n").length >= %d)`, n)
	}
	// DevTools' push delivery does not always reach the worker (about one
	// run in three here): a push that shows nothing is delivered again, and
	// a worker that shows none of three fails.
	for i, push := range []string{
		`{"order_id":"7","event":"order.offered","title":"Order 7 is up for delivery","body":"Luigi's, 1 item","url":"/#/orders/7"}`,
		`{"order_id":"8","event":"order.status","title":"Order 8","body":"x","url":"https://elsewhere.example/phish"}`,
	} {
		for try := 1; ; try++ {
			courier.DeliverPush(scope, push)
			if courier.JSWithin(showing(i+1), 3*time.Second) {
				break
			}
			if try == 3 {
				t.Fatalf("push %d delivered three times, shown %q", i+1, browsertest.Eval[string](courier, `window.shown || ""`))
			}
		}
	}
	shown := browsertest.Eval[string](courier, `window.shown`)
	want := "Order 7 is up for delivery|Luigi's, 1 item|order-7|" + base + "/#/orders/7\nOrder 8|x|order-8|" + base + "/"
	if shown != want {
		t.Errorf("notifications shown:\n%s\nwant:\n%s", shown, want)
	}

	// Bo's session ends without the sign-out (ended through the API, as
	// an expired or revoked one does): the subscription stays in the
	// browser, and is Bo's on the server. Cy, signed in next at this
	// browser, is not opted in with it on opening the page.
	browsertest.Eval[any](courier, apiJS("POST", "/auth/logout", "undefined"))
	courier.WaitJSFor(`document.body.textContent.includes("Your session has ended")`, 40*time.Second)
	seen = expectOnlyFailureAfter(t, courier, seen, "401", "/api/v1/auth/refresh")
	signUp(courier, base, "courier", "Cy", "cy@example.com", "", "Deliveries")
	courier.WaitText("Notifications are off.")
	courier.WaitRole("button", "Turn on notifications")
	if code := deleteAgain(); code != "not_found" {
		t.Errorf("Cy deleting Bo's subscription: %s, want not_found (the page did not move it to Cy)", code)
	}
	if n := browsertest.Eval[int](courier, `window.standInCalls`); n != 3 {
		t.Errorf("subscribe called %d times, want still 3 (Cy did not turn notifications on)", n)
	}
	expectOnlyFailureAfter(t, courier, seen, "404", "/api/v1/push/subscriptions")

	// The courier closes the app (no socket: pushed instead); an order is
	// accepted, and its offer is pushed to the courier's subscription.
	courier.Close()
	rest := openTab(t, b, "restaurant")
	cust := openTab(t, b, "customer")
	openLuigis(rest, base)
	signUp(cust, base, "customer", "Ann", "ann@example.com", "", "Restaurants")
	id := placeOrder(cust, base, "1 Main Street")
	rest.Click("button", "Accept order #"+id)
	select {
	case p := <-posts:
		if p.path != "/sub/bo" || p.topic != "order-"+id || p.ttl != "3600" || p.encoding != "aes128gcm" || !strings.HasPrefix(p.auth, "vapid ") {
			t.Errorf("push of the offer: %+v, want /sub/bo, Topic order-%s, TTL 3600, aes128gcm, a VAPID signature", p, id)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no push of order #%s's offer reached the courier's subscription within 30 s", id)
	}

	// The customer's order page has the opt-in too, and its subscription
	// reaches the server (deleting it there finds it).
	cust.WaitRole("heading", "Order #"+id)
	custEndpoint := pushService.URL + "/sub/ann"
	browsertest.Eval[bool](cust, fmt.Sprintf(`%s(%q)`, standInSubscribe, custEndpoint))
	cust.SetPermission(base, "notifications", browser.PermissionSettingGranted)
	cust.Click("button", "Turn on notifications")
	cust.WaitText("Notifications are on for this browser")
	for _, p := range cust.AccessibilityProblems() {
		t.Errorf("order page with the opt-in: %s", p)
	}
	if got := browsertest.Eval[string](cust, apiJS("DELETE", "/push/subscriptions", fmt.Sprintf(`JSON.stringify({endpoint: %q})`, custEndpoint))+
		`.then((b) => b ? b.error.code : "deleted")`); got != "deleted" {
		t.Errorf("deleting the customer's subscription: %s, want deleted (the order page's opt-in registered it)", got)
	}
	for _, tab := range []*browsertest.Tab{rest, cust} {
		tab.CheckClean()
	}
}
