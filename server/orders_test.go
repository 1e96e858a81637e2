package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

func TestMenu(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	other := e.register(delivery.RoleRestaurant)
	var menu struct{ Items []delivery.MenuItem }
	e.must(http.StatusOK, "GET", menuPath(w.Restaurant.User.RestaurantID), "", nil).decode(t, &menu)
	if len(menu.Items) != 2 || menu.Items[0].Name != "Pizza" || menu.Items[0].PriceCents != 1250 || !menu.Items[0].Available {
		t.Fatalf("menu = %+v", menu.Items)
	}
	item := map[string]any{"name": "Salad", "price_cents": 800}
	path := menuPath(w.Restaurant.User.RestaurantID)
	for name, tc := range map[string]struct {
		token  string
		status int
	}{
		"anonymous":        {"", 401},
		"customer":         {w.Customer.Token, 403},
		"courier":          {w.Courier.Token, 403},
		"other restaurant": {other.Token, 403},
	} {
		if r := e.do("POST", path, tc.token, item); r.Status != tc.status {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	for _, bad := range []map[string]any{{"name": "", "price_cents": 1}, {"name": "X", "price_cents": -1}, {"name": "X", "price_cents": "1"}} {
		if r := e.do("POST", path, w.Restaurant.Token, bad); r.Status != 400 {
			t.Errorf("%v: %d %s", bad, r.Status, r.Body)
		}
	}
	e.must(http.StatusOK, "GET", menuPath(w.Restaurant.User.RestaurantID), "", nil).decode(t, &menu)
	if len(menu.Items) != 2 {
		t.Fatalf("forbidden writes changed the menu: %+v", menu.Items)
	}
	if r := e.do("GET", menuPath(9999), "", nil); r.Status != 404 || r.errorCode(t) != "not_found" {
		t.Fatalf("unknown restaurant: %d %s", r.Status, r.Body)
	}
}

func TestUpdateMenuItem(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	other := e.register(delivery.RoleRestaurant)
	rid := w.Restaurant.User.RestaurantID
	item := w.Items[0]
	itemPath := menuPath(rid) + "/" + item.ID.String()
	for name, tc := range map[string]struct {
		token  string
		status int
	}{
		"anonymous":        {"", 401},
		"customer":         {w.Customer.Token, 403},
		"courier":          {w.Courier.Token, 403},
		"other restaurant": {other.Token, 403},
	} {
		if r := e.do("PATCH", itemPath, tc.token, map[string]any{"available": false}); r.Status != tc.status {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	for _, bad := range []any{map[string]any{}, map[string]any{"name": ""}, map[string]any{"price_cents": -1}, map[string]any{"available": "no"}, map[string]any{"colour": "red"}} {
		if r := e.do("PATCH", itemPath, w.Restaurant.Token, bad); r.Status != 400 {
			t.Errorf("%v: %d %s", bad, r.Status, r.Body)
		}
	}
	var menu struct{ Items []delivery.MenuItem }
	e.must(http.StatusOK, "GET", menuPath(rid), "", nil).decode(t, &menu)
	if menu.Items[0] != item {
		t.Fatalf("refused patches changed the item: %+v, was %+v", menu.Items[0], item)
	}

	var got delivery.MenuItem
	e.must(http.StatusOK, "PATCH", itemPath, w.Restaurant.Token, map[string]any{"available": false}).decode(t, &got)
	want := item
	want.Available = false
	if got != want {
		t.Fatalf("after marking unavailable: %+v, want %+v", got, want)
	}
	e.must(http.StatusOK, "GET", menuPath(rid), "", nil).decode(t, &menu)
	if menu.Items[0] != want {
		t.Fatalf("menu shows %+v, want %+v", menu.Items[0], want)
	}
	// An item of another restaurant, reached through this one's path, is not found.
	otherItem := e.must(http.StatusCreated, "POST", menuPath(other.User.RestaurantID), other.Token, map[string]any{"name": "Soup", "price_cents": 500})
	var soup delivery.MenuItem
	otherItem.decode(t, &soup)
	if r := e.do("PATCH", menuPath(rid)+"/"+soup.ID.String(), w.Restaurant.Token, map[string]any{"available": false}); r.Status != 404 {
		t.Fatalf("patching another restaurant's item: %d %s", r.Status, r.Body)
	}
}

func TestPlaceOrderPricesFromMenu(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	o := e.place(w)
	if o.Status != delivery.StatusPlaced || o.Seq != 1 || o.TotalCents != 1250+2*300 || o.CustomerID != w.Customer.User.ID || o.CourierID != nil {
		t.Fatalf("order = %+v", o)
	}
	if len(o.Items) != 2 || o.Items[1].Name != "Soda" || o.Items[1].PriceCents != 300 || o.Items[1].Quantity != 2 {
		t.Fatalf("items = %+v", o.Items)
	}
	// A client-sent price is an unknown field, never used.
	body := placeBody(w)
	body["items"] = []map[string]any{{"menu_item_id": w.Items[0].ID, "quantity": 1, "price_cents": 1}}
	r := e.do("POST", "/api/v1/orders", w.Customer.Token, body, "Idempotency-Key", "k-price")
	if r.Status != 400 || !strings.Contains(string(r.Body), "price_cents") {
		t.Fatalf("client price: %d %s", r.Status, r.Body)
	}
}

func TestPlaceOrderRejects(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	other := e.newWorld()
	mk := func(edit func(map[string]any)) map[string]any {
		b := placeBody(w)
		edit(b)
		return b
	}
	for _, tc := range []struct {
		name   string
		token  string
		key    string
		body   any
		status int
		field  string
	}{
		{"anonymous", "", "k", placeBody(w), 401, ""},
		{"restaurant", w.Restaurant.Token, "k", placeBody(w), 403, ""},
		{"courier", w.Courier.Token, "k", placeBody(w), 403, ""},
		{"no key", w.Customer.Token, "", placeBody(w), 400, "Idempotency-Key"},
		{"long key", w.Customer.Token, strings.Repeat("k", 201), placeBody(w), 400, "Idempotency-Key"},
		{"no items", w.Customer.Token, "k1", mk(func(b map[string]any) { b["items"] = []any{} }), 400, "items"},
		{"zero quantity", w.Customer.Token, "k2", mk(func(b map[string]any) {
			b["items"] = []map[string]any{{"menu_item_id": w.Items[0].ID, "quantity": 0}}
		}), 400, "quantity"},
		{"quantity as string", w.Customer.Token, "k3", mk(func(b map[string]any) {
			b["items"] = []map[string]any{{"menu_item_id": w.Items[0].ID, "quantity": "2"}}
		}), 400, "quantity"},
		{"bad id", w.Customer.Token, "k4", mk(func(b map[string]any) { b["restaurant_id"] = "abc" }), 400, "restaurant_id"},
		{"no address", w.Customer.Token, "k5", mk(func(b map[string]any) { b["delivery_address"] = "  " }), 400, "delivery_address"},
		{"unknown restaurant", w.Customer.Token, "k6", mk(func(b map[string]any) { b["restaurant_id"] = "9999" }), 422, "restaurant_id"},
		{"other restaurant's item", w.Customer.Token, "k7", mk(func(b map[string]any) {
			b["items"] = []map[string]any{{"menu_item_id": other.Items[0].ID, "quantity": 1}}
		}), 422, "menu_item_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var headers []string
			if tc.key != "" {
				headers = []string{"Idempotency-Key", tc.key}
			}
			r := e.do("POST", "/api/v1/orders", tc.token, tc.body, headers...)
			if r.Status != tc.status {
				t.Fatalf("got %d %s, want %d", r.Status, r.Body, tc.status)
			}
			r.errorCode(t)
			if tc.field != "" && !strings.Contains(string(r.Body), tc.field) {
				t.Fatalf("message does not name %s: %s", tc.field, r.Body)
			}
		})
	}
	var list struct{ Orders []delivery.Order }
	e.must(http.StatusOK, "GET", "/api/v1/orders", w.Customer.Token, nil).decode(t, &list)
	if len(list.Orders) != 0 {
		t.Fatalf("rejected requests created orders: %+v", list.Orders)
	}
}

func TestPlaceOrderIdempotentRetry(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newTestEnvOn(t, open(t))
			w := e.newWorld()
			const retries = 8
			results := make([]response, retries)
			var wg sync.WaitGroup
			for i := range retries {
				wg.Go(func() {
					results[i] = e.do("POST", "/api/v1/orders", w.Customer.Token, placeBody(w), "Idempotency-Key", "same-key")
				})
			}
			wg.Wait()
			var first delivery.Order
			created := 0
			for _, r := range results {
				var o delivery.Order
				r.decode(t, &o)
				if r.Status != 201 {
					t.Fatalf("retry answered %d %s", r.Status, r.Body)
				}
				if r.Header.Get("Idempotent-Replayed") != "true" {
					created++
				}
				if first.ID == 0 {
					first = o
				}
				if o.ID != first.ID {
					t.Fatalf("two orders for one key: %s and %s", first.ID, o.ID)
				}
			}
			if created != 1 {
				t.Fatalf("%d answers said created, want 1", created)
			}
			changed := placeBody(w)
			changed["delivery_address"] = "2 Other St"
			r := e.do("POST", "/api/v1/orders", w.Customer.Token, changed, "Idempotency-Key", "same-key")
			if r.Status != 422 || r.errorCode(t) != "idempotency_mismatch" {
				t.Fatalf("key reuse with another body: %d %s", r.Status, r.Body)
			}
			// Keys are per customer: another customer's same key is a new order.
			w2 := w
			w2.Customer = e.register(delivery.RoleCustomer)
			var o2 delivery.Order
			e.must(201, "POST", "/api/v1/orders", w2.Customer.Token, placeBody(w2), "Idempotency-Key", "same-key").decode(t, &o2)
			if o2.ID == first.ID {
				t.Fatal("keys leak across customers")
			}
		})
	}
}

func TestOrderReadAuthorization(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	strangers := e.newWorld()
	o := e.place(w)
	reads := []string{orderPath(o.ID), orderPath(o.ID) + "/events"}
	for _, path := range reads {
		for name, p := range map[string]party{"customer": w.Customer, "restaurant": w.Restaurant} {
			e.must(http.StatusOK, "GET", path, p.Token, nil)
			_ = name
		}
		for name, p := range map[string]party{
			"other customer": strangers.Customer, "other restaurant": strangers.Restaurant, "courier": w.Courier,
		} {
			r := e.do("GET", path, p.Token, nil)
			if r.Status != 403 || r.errorCode(t) != "forbidden" || strings.Contains(string(r.Body), "Main St") {
				t.Errorf("%s GET %s: %d %s", name, path, r.Status, r.Body)
			}
		}
		if r := e.do("GET", path, "", nil); r.Status != 401 {
			t.Errorf("anonymous GET %s: %d", path, r.Status)
		}
	}
	if r := e.do("GET", orderPath(99999), w.Customer.Token, nil); r.Status != 404 {
		t.Fatalf("unknown order: %d %s", r.Status, r.Body)
	}
	if r := e.do("GET", "/api/v1/orders/abc", w.Customer.Token, nil); r.Status != 404 {
		t.Fatalf("malformed id: %d %s", r.Status, r.Body)
	}

	// Once accepted the order is offered: any courier may read it (to
	// decide to claim) but not its events; once claimed, only its courier.
	e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
	e.must(http.StatusOK, "GET", orderPath(o.ID), strangers.Courier.Token, nil)
	if r := e.do("GET", orderPath(o.ID)+"/events", strangers.Courier.Token, nil); r.Status != 403 {
		t.Fatalf("offered order's events to a courier: %d", r.Status)
	}
	e.must(http.StatusOK, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
	e.must(http.StatusOK, "GET", orderPath(o.ID)+"/events", w.Courier.Token, nil)
	if r := e.do("GET", orderPath(o.ID), strangers.Courier.Token, nil); r.Status != 403 {
		t.Fatalf("claimed order to another courier: %d", r.Status)
	}
}

func TestListOrdersVisibility(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	other := e.newWorld()
	mine := []delivery.Order{e.place(w), e.place(w), e.place(w)}
	theirs := e.place(other)
	ids := func(p party, query string) []delivery.ID {
		var list struct {
			Orders     []delivery.Order
			NextCursor string `json:"next_cursor"`
		}
		e.must(http.StatusOK, "GET", "/api/v1/orders"+query, p.Token, nil).decode(t, &list)
		var out []delivery.ID
		for _, o := range list.Orders {
			out = append(out, o.ID)
		}
		return out
	}
	want := fmt.Sprint([]delivery.ID{mine[2].ID, mine[1].ID, mine[0].ID})
	if got := fmt.Sprint(ids(w.Customer, "")); got != want {
		t.Fatalf("customer sees %s, want %s newest first", got, want)
	}
	if got := fmt.Sprint(ids(w.Restaurant, "")); got != want {
		t.Fatalf("restaurant sees %s, want %s", got, want)
	}
	if got := ids(w.Courier, ""); len(got) != 0 {
		t.Fatalf("courier sees placed orders %v", got)
	}
	e.setStatus(200, mine[0], w.Restaurant, delivery.StatusAccepted, "")
	e.setStatus(200, theirs, other.Restaurant, delivery.StatusAccepted, "")
	if got := fmt.Sprint(ids(w.Courier, "")); got != fmt.Sprint([]delivery.ID{theirs.ID, mine[0].ID}) {
		t.Fatalf("courier sees %s, want the two offered", got)
	}
	e.must(200, "POST", orderPath(theirs.ID)+"/claim", w.Courier2.Token, nil)
	if got := fmt.Sprint(ids(w.Courier, "")); got != fmt.Sprint([]delivery.ID{mine[0].ID}) {
		t.Fatalf("courier sees %s after another claimed one", got)
	}
	if got := fmt.Sprint(ids(w.Courier2, "")); got != fmt.Sprint([]delivery.ID{theirs.ID, mine[0].ID}) {
		t.Fatalf("claiming courier sees %s", got)
	}
	if got := fmt.Sprint(ids(w.Customer, "?status=accepted")); got != fmt.Sprint([]delivery.ID{mine[0].ID}) {
		t.Fatalf("status filter: %s", got)
	}
	// Paging: two pages of two and one.
	var page struct {
		Orders     []delivery.Order
		NextCursor string `json:"next_cursor"`
	}
	e.must(200, "GET", "/api/v1/orders?limit=2", w.Customer.Token, nil).decode(t, &page)
	if len(page.Orders) != 2 || page.NextCursor == "" {
		t.Fatalf("page 1: %+v", page)
	}
	if got := fmt.Sprint(ids(w.Customer, "?limit=2&cursor="+page.NextCursor)); got != fmt.Sprint([]delivery.ID{mine[0].ID}) {
		t.Fatalf("page 2: %s", got)
	}
	for _, q := range []string{"?status=eaten", "?limit=0x", "?limit=1000", "?cursor=zz"} {
		if r := e.do("GET", "/api/v1/orders"+q, w.Customer.Token, nil); r.Status != 400 {
			t.Errorf("%s: %d %s", q, r.Status, r.Body)
		}
	}
}

// Control characters and bytes that are not UTF-8 are refused in every
// text field with a 400 naming it, on both engines (PostgreSQL cannot
// store NUL: it must never get that far).
func TestTextFieldsRefuseControlCharacters(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newTestEnvOn(t, open(t))
			w := e.newWorld()
			o := e.place(w)
			reg := map[string]any{"email": "n@example.com", "password": "long enough pw", "name": "N", "role": "restaurant", "restaurant_name": "R"}
			for _, tc := range []struct {
				field, method, path, token string
				body                       func(bad string) any
				key                        string
			}{
				{"name", "POST", "/api/v1/auth/register", "", func(bad string) any { return with(reg, "name", bad) }, ""},
				{"restaurant_name", "POST", "/api/v1/auth/register", "", func(bad string) any { return with(reg, "restaurant_name", bad) }, ""},
				{"email", "POST", "/api/v1/auth/register", "", func(bad string) any { return with(reg, "email", "n"+bad+"@example.com") }, ""},
				{"delivery_address", "POST", "/api/v1/orders", w.Customer.Token, func(bad string) any { return with(placeBody(w), "delivery_address", bad) }, "k-ctl"},
				{"notes", "POST", "/api/v1/orders", w.Customer.Token, func(bad string) any { return with(placeBody(w), "notes", bad) }, "k-ctl2"},
				{"name", "POST", menuPath(w.Restaurant.User.RestaurantID), w.Restaurant.Token, func(bad string) any { return map[string]any{"name": bad, "price_cents": 1} }, ""},
				{"reason", "POST", orderPath(o.ID) + "/status", w.Restaurant.Token, func(bad string) any { return map[string]any{"status": "rejected", "reason": bad} }, ""},
			} {
				for _, bad := range []string{"a\x00b", "a\x1bb"} {
					r := e.do(tc.method, tc.path, tc.token, tc.body(bad), "Idempotency-Key", tc.key)
					if r.Status != 400 || r.errorCode(t) != "invalid" || !strings.Contains(string(r.Body), tc.field) {
						t.Errorf("%s %q at %s: %d %s", tc.field, bad, tc.path, r.Status, r.Body)
					}
				}
			}
			raw := []byte("{\"email\":\"a@example.com\",\"password\":\"long enough pw\",\"name\":\"\xff\",\"role\":\"customer\"}")
			if r := e.do("POST", "/api/v1/auth/register", "", raw); r.Status != 400 || !strings.Contains(string(r.Body), "name: must be valid UTF-8") {
				t.Errorf("body not UTF-8: %d %s", r.Status, r.Body)
			}
			r := e.do("POST", "/api/v1/auth/login", "", map[string]string{"email": "a\x00@example.com", "password": "long enough pw"})
			if r.Status != 401 || r.errorCode(t) != "unauthorized" {
				t.Errorf("login with NUL: %d %s", r.Status, r.Body)
			}
		})
	}
}

// with returns a copy of m with k set to v.
func with(m map[string]any, k string, v any) map[string]any {
	c := make(map[string]any, len(m)+1)
	for kk, vv := range m {
		c[kk] = vv
	}
	c[k] = v
	return c
}
