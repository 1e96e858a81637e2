package main

// Helpers of the web app's browser tests (web_browser_test.go,
// web_couriers_test.go, web_eta_test.go, web_push_test.go): the whole program on SQLite, tabs that sign up
// and order through the app's own forms, and screenshots at phone and
// desktop width with checks that no layout scrolls sideways and that
// every screen names its controls and keeps its text readable.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/browsertest"
)

// Viewports of the screenshots: a small phone, a tablet, and a desktop
// (the size of the screenshots committed under docs/).
const (
	phoneWidth, phoneHeight     = 360, 740
	tabletWidth, tabletHeight   = 768, 1024
	desktopWidth, desktopHeight = 1280, 800
)

const webPassword = "correct horse 42"

// startWebProgram runs the whole program on a SQLite file of the test's
// own, with access tokens short enough that every tab refreshes its token
// (REST, then the socket's auth frame) several times during a test. Pairs
// of extra (name, value) set more of the environment.
func startWebProgram(t *testing.T, extra ...string) string {
	t.Helper()
	env := map[string]string{
		"HUB_ADDR":         "127.0.0.1:0",
		"DATABASE_URL":     "sqlite://" + filepath.Join(t.TempDir(), "oc.db"),
		"ACCESS_TOKEN_TTL": "20s",
		"LOG_LEVEL":        "warn",
	}
	if len(extra)%2 != 0 {
		t.Fatalf("startWebProgram: extra %q is not (name, value) pairs", extra)
	}
	for i := 0; i < len(extra); i += 2 {
		env[extra[i]] = extra[i+1]
	}
	base, _ := startProgram(t, env)
	return base
}

// openTab opens a desktop-sized tab of its own browser context.
func openTab(t *testing.T, b *browsertest.Browser, name string) *browsertest.Tab {
	t.Helper()
	tab := b.NewTab(t, name)
	tab.SetViewport(desktopWidth, desktopHeight)
	return tab
}

// signUp creates an account through the sign-up form at base and waits
// for the role's start page (its heading).
func signUp(tab *browsertest.Tab, base, role, name, email, restaurant, home string) {
	tab.Navigate(base + "/#/signup")
	tab.WaitRole("heading", "Create an account")
	tab.Click("radio", strings.ToUpper(role[:1])+role[1:])
	tab.Fill("Your name", name)
	tab.Fill("Email", email)
	tab.Fill("Password", webPassword)
	if restaurant != "" {
		tab.Fill("Restaurant name", restaurant)
	}
	tab.Click("button", "Create account")
	tab.WaitRole("heading", home)
}

// signIn signs in through the sign-in form at base and waits for the
// role's start page (its heading).
func signIn(tab *browsertest.Tab, base, email, home string) {
	tab.Navigate(base + "/#/signin")
	tab.WaitRole("heading", "Sign in")
	tab.Fill("Email", email)
	tab.Fill("Password", webPassword)
	tab.Click("button", "Sign in")
	tab.WaitRole("heading", home)
}

// openLuigis signs up the restaurant Luigi's at base with one Margherita
// on its menu and waits for its empty board.
func openLuigis(rest *browsertest.Tab, base string) {
	signUp(rest, base, "restaurant", "Luigi", "luigi@example.com", "Luigi's", "Orders")
	rest.Click("link", "Menu")
	rest.Fill("Item name", "Margherita")
	rest.Fill("Price", "12.50")
	rest.Click("button", "Add item")
	rest.WaitRole("button", "Mark unavailable: Margherita")
	rest.Click("link", "Orders")
	rest.WaitRole("heading", "New (0)")
}

// apiJS is a script for a tab: fetch of the API with the tab's own access
// token, answering the decoded body (or the error's code).
func apiJS(method, path, body string) string {
	return fmt.Sprintf(`fetch("/api/v1%s", {method: %q, headers: {"Content-Type": "application/json",
		"Idempotency-Key": crypto.randomUUID(),
		Authorization: "Bearer " + JSON.parse(sessionStorage.getItem("ordercast.session")).accessToken},
		body: %s}).then((r) => r.status === 204 ? null : r.json())`, path, method, body)
}

// reloadAndWait reloads the tab and waits until the new page meets cond.
func reloadAndWait(tab *browsertest.Tab, cond string) {
	browsertest.Eval[bool](tab, `(window.beforeReload = true, location.reload(), true)`)
	tab.WaitJSFor(`!window.beforeReload && (`+cond+`)`, 30*time.Second)
}

// placeOrder orders one Margherita from Luigi's to address through the
// customer's screens and returns the order's id once its page is shown.
func placeOrder(cust *browsertest.Tab, base, address string) string {
	cust.Navigate(base + "/#/")
	cust.Click("link", "Luigi's")
	cust.Click("button", "Add Margherita to the cart")
	cust.Fill("Delivery address", address)
	cust.Click("button", "Place order")
	cust.WaitJS(`/^#\/orders\/\d+$/.test(location.hash)`)
	return browsertest.Eval[string](cust, `location.hash.split("/").pop()`)
}

// timelineCounts counts the lines of the order page's timeline by text.
func timelineCounts(tab *browsertest.Tab) map[string]int {
	return browsertest.Eval[map[string]int](tab, `(() => {
		const n = {};
		for (const li of document.querySelectorAll(".timeline li span")) n[li.textContent] = (n[li.textContent] || 0) + 1;
		return n;
	})()`)
}

// shot saves the screen at desktop, phone and tablet size
// (name-desktop.png, name-phone.png, name-tablet.png) and fails if the page
// is wider than the window at any of them, or if at any of them a visible
// control has no accessible name or text is below WCAG AA contrast.
func shot(t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	for _, v := range []struct {
		suffix        string
		width, height int64
	}{{"desktop", desktopWidth, desktopHeight}, {"phone", phoneWidth, phoneHeight}, {"tablet", tabletWidth, tabletHeight}} {
		tab.SetViewport(v.width, v.height)
		tab.WaitJS(fmt.Sprintf(`innerWidth === %d`, v.width))
		if w := browsertest.Eval[[2]int](tab, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`); w[0] > w[1] {
			t.Errorf("%s: %d px wide in a %d px window (scrolls sideways)", name, w[0], w[1])
		}
		for _, p := range tab.AccessibilityProblems() {
			t.Errorf("%s at %s width: %s", name, v.suffix, p)
		}
		tab.Screenshot(name + "-" + v.suffix)
	}
	tab.SetViewport(desktopWidth, desktopHeight)
	tab.WaitJS(fmt.Sprintf(`innerWidth === %d`, desktopWidth))
}

// checkTokensInSessionStorage fails unless the tab's session (its access
// and refresh tokens) is in sessionStorage and neither token is in
// localStorage, which outlives the tab and is shared by every tab of the
// origin, or in a cookie.
func checkTokensInSessionStorage(t *testing.T, tab *browsertest.Tab, name string) {
	t.Helper()
	if p := browsertest.Eval[string](tab, `(() => {
		const s = JSON.parse(sessionStorage.getItem("ordercast.session") || "null");
		if (!s || !s.accessToken || !s.refreshToken) return "sessionStorage holds no session";
		const held = (text) => /token|session/i.test(text) || text.includes(s.accessToken) || text.includes(s.refreshToken);
		for (let i = 0; i < localStorage.length; i++) {
			const key = localStorage.key(i);
			if (held(key) || held(localStorage.getItem(key))) return "localStorage holds the session under " + JSON.stringify(key);
		}
		return held(document.cookie) ? "a cookie holds the session" : "";
	})()`); p != "" {
		t.Errorf("%s: %s", name, p)
	}
}
