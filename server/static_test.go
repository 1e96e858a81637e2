package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/app"
)

func TestWebAppFilesAreServedWithTagsAndPolicy(t *testing.T) {
	e := newTestEnv(t)
	for path, wantType := range map[string]string{
		"/":                    "text/html; charset=utf-8",
		"/ops":                 "text/html; charset=utf-8",
		"/client/ordercast.js": "text/javascript; charset=utf-8",
		"/app/app.js":          "text/javascript; charset=utf-8",
		"/app/ops.js":          "text/javascript; charset=utf-8",
		"/sw.js":               "text/javascript; charset=utf-8", // a service worker must be served as JavaScript
	} {
		r := e.must(http.StatusOK, "GET", path, "", nil)
		if got := r.Header.Get("Content-Type"); got != wantType {
			t.Errorf("%s: Content-Type %q, want %q", path, got, wantType)
		}
		if len(r.Body) == 0 {
			t.Errorf("%s: empty body", path)
		}
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: Content-Security-Policy %q", path, csp)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: Cache-Control %q, want no-cache (revalidated, so a new binary is seen at once)", path, cc)
		}
		tag := r.Header.Get("ETag")
		if tag == "" {
			t.Fatalf("%s: no ETag", path)
		}
		again := e.must(http.StatusNotModified, "GET", path, "", nil, "If-None-Match", tag)
		if len(again.Body) != 0 {
			t.Errorf("%s: 304 with a body", path)
		}
		e.must(http.StatusOK, "GET", path, "", nil, "If-None-Match", `"stale"`)
	}
	// The operator page is its own shell, served to anyone (its data is
	// an admin's only).
	if page := e.must(http.StatusOK, "GET", "/ops", "", nil); !strings.Contains(string(page.Body), `src="/app/ops.js"`) {
		t.Errorf("/ops does not load the operator page's module: %s", page.Body)
	}
	for _, path := range []string{"/app/nope.js", "/client/", "/web.go", "/app/../web.go", "/ops.html", "/index.html"} {
		if r := e.do("GET", path, "", nil); r.Status != http.StatusNotFound || r.errorCode(t) != "not_found" {
			t.Errorf("%s: %d %s, want 404 not_found", path, r.Status, r.Body)
		}
	}
}

func TestUnknownMethodIs405WithAllow(t *testing.T) {
	e := newTestEnv(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"DELETE", "/api/v1/orders", "GET, HEAD, POST, OPTIONS"},
		{"PUT", "/api/v1/orders/12/status", "POST, OPTIONS"},
		{"POST", "/api/v1/me", "GET, HEAD, OPTIONS"},
		{"DELETE", "/api/v1/restaurants/3/menu/4", "PATCH, OPTIONS"},
		{"DELETE", "/api/v1/orders/", "GET, HEAD, POST, OPTIONS"}, // Fiber ignores a trailing slash
		{"PUT", "/API/v1/Me", "GET, HEAD, OPTIONS"},               // and case
	} {
		r := e.do(tc.method, tc.path, "", nil)
		if r.Status != http.StatusMethodNotAllowed || r.errorCode(t) != "method_not_allowed" || r.Header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: %d Allow %q %s; want 405 method_not_allowed, Allow %q", tc.method, tc.path, r.Status, r.Header.Get("Allow"), r.Body, tc.allow)
		}
		r = e.do("OPTIONS", tc.path, "", nil)
		if r.Status != http.StatusNoContent || r.Header.Get("Allow") != tc.allow {
			t.Errorf("OPTIONS %s: %d Allow %q, want 204 with %q", tc.path, r.Status, r.Header.Get("Allow"), tc.allow)
		}
	}
	if r := e.do("GET", "/api/v1/nothing/here", "", nil); r.Status != http.StatusNotFound || r.errorCode(t) != "not_found" {
		t.Errorf("unknown path: %d %s", r.Status, r.Body)
	}
}

func TestCORS(t *testing.T) {
	const origin = "http://localhost:5173"
	e := newTestEnv(t, func(c *app.Config) { c.Server.CORSOrigins = []string{origin} })
	w := e.newWorld()

	// A preflight from an allowed origin is answered with what it may send.
	r := e.do("OPTIONS", "/api/v1/orders", "", nil, "Origin", origin,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
	if r.Status != http.StatusNoContent || r.Header.Get("Access-Control-Allow-Origin") != origin {
		t.Fatalf("preflight: %d %v", r.Status, r.Header)
	}
	for _, h := range []string{"Authorization", "Content-Type", "Idempotency-Key", "If-Match"} {
		if !strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), h) {
			t.Errorf("preflight allows headers %q, missing %s", r.Header.Get("Access-Control-Allow-Headers"), h)
		}
	}
	// The request itself carries the origin and exposes the headers a client reads.
	r = e.must(http.StatusOK, "GET", "/api/v1/me", w.Customer.Token, nil, "Origin", origin)
	if r.Header.Get("Access-Control-Allow-Origin") != origin || !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "Etag") &&
		!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "ETag") {
		t.Errorf("GET with Origin: %v", r.Header)
	}
	// Another origin gets no CORS grant (the browser then refuses the answer).
	r = e.do("OPTIONS", "/api/v1/orders", "", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST")
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin granted %q", got)
	}
	// Without CORS_ORIGINS nothing is granted.
	plain := newTestEnv(t)
	r = plain.do("GET", "/api/v1/restaurants", "", nil, "Origin", origin)
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS off, yet granted %q", got)
	}
}
