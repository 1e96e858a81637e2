package server_test

import (
	"net/http"
	"testing"
)

// TestGetOrderCarriesUnread: GET /orders/{id} carries the caller's unread
// count, as each order of GET /orders does.
func TestGetOrderCarriesUnread(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	o := e.claimed(w)
	unread := func(p party) float64 {
		t.Helper()
		var body map[string]any
		e.must(http.StatusOK, "GET", orderPath(o.ID), p.Token, nil).decode(t, &body)
		n, ok := body["unread"].(float64)
		if !ok {
			t.Fatalf("GET /orders/%s for %s has no unread: %v", o.ID, p.User.Role, body)
		}
		return n
	}
	e.mustPost(o, w.Courier, "on my way", "c1")
	m := e.mustPost(o, w.Courier, "at the door", "c2")
	if n := unread(w.Customer); n != 2 {
		t.Fatalf("customer's unread = %v, want 2", n)
	}
	if n := unread(w.Courier); n != 0 {
		t.Fatalf("the author's unread = %v, want 0", n)
	}
	e.must(http.StatusOK, "POST", orderPath(o.ID)+"/read", w.Customer.Token, map[string]any{"seq": m.Seq})
	if n := unread(w.Customer); n != 0 {
		t.Fatalf("customer's unread after reading = %v, want 0", n)
	}
}
