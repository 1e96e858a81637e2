package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

func restaurantPath(id delivery.ID) string { return fmt.Sprintf("/api/v1/restaurants/%s", id) }

// listedRestaurant returns GET /restaurants' entry of id as raw JSON
// fields.
func (e *testEnv) listedRestaurant(id delivery.ID) map[string]any {
	e.t.Helper()
	var list struct {
		Restaurants []map[string]any `json:"restaurants"`
	}
	e.must(http.StatusOK, "GET", "/api/v1/restaurants", "", nil).decode(e.t, &list)
	for _, r := range list.Restaurants {
		if r["id"] == id.String() {
			return r
		}
	}
	e.t.Fatalf("restaurant %s not listed: %+v", id, list.Restaurants)
	return nil
}

// TestRestaurantPatch: PATCH /restaurants/{id} is its staff's only (401
// without a token, 403 for anyone else); it changes what the body holds
// and answers the restaurant, which GET /restaurants then lists with its
// place; bad bodies are 400 naming the field and change nothing.
func TestRestaurantPatch(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newTestEnvOn(t, open(t))
			w, other := e.newWorld(), e.newWorld()
			rid := w.Restaurant.User.RestaurantID
			path := restaurantPath(rid)
			listed := e.listedRestaurant(rid)
			if _, has := listed["lat"]; has || listed["prep_minutes"] != 15.0 {
				t.Fatalf("listed before any place: %v, want no lat and 15 minutes", listed)
			}

			body := map[string]any{"lat": 52.5163, "lng": 13.3777, "prep_minutes": 25}
			if r := e.do("PATCH", path, "", body); r.Status != http.StatusUnauthorized {
				t.Fatalf("without a token: %d %s", r.Status, r.Body)
			}
			for _, p := range []party{w.Customer, w.Courier, other.Restaurant, e.admin()} {
				if r := e.do("PATCH", path, p.Token, body); r.Status != http.StatusForbidden || r.errorCode(t) != delivery.EFORBIDDEN {
					t.Fatalf("%s: %d %s, want 403", p.User.Email, r.Status, r.Body)
				}
			}
			for _, bad := range []struct {
				body  string
				field string
			}{
				{`{}`, ""},
				{`{"lat": 52.5}`, "lng"},
				{`{"lng": 13.4}`, "lat"},
				{`{"lat": 91, "lng": 0}`, "lat"},
				{`{"lat": 0, "lng": -180.01}`, "lng"},
				{`{"prep_minutes": 0}`, "prep_minutes"},
				{`{"prep_minutes": 241}`, "prep_minutes"},
				{`{"prep_minutes": 1.5}`, "prep_minutes"},
				{`{"prep_minutes": "15"}`, "prep_minutes"},
				{`{"lat": "52.5", "lng": 13.4}`, "lat"},
				{`{"name": ""}`, "name"},
				{`{"name": "` + strings.Repeat("n", delivery.MaxRestaurantNameLen+1) + `"}`, "name"},
				{`{"name": "A\ud800"}`, "name"},
				{`{"place": {"lat": 1, "lng": 2}}`, "place"},
				{`{"Lat": 1, "lng": 2}`, "Lat"},
			} {
				r := e.do("PATCH", path, w.Restaurant.Token, bad.body)
				if r.Status != http.StatusBadRequest || r.errorCode(t) != delivery.EINVALID || !strings.Contains(string(r.Body), bad.field) {
					t.Fatalf("PATCH %s: %d %s, want 400 naming %q", bad.body, r.Status, r.Body, bad.field)
				}
			}
			if got := e.listedRestaurant(rid); fmt.Sprint(got) != fmt.Sprint(listed) {
				t.Fatalf("refused patches changed the restaurant: %v, was %v", got, listed)
			}
			if r := e.do("PATCH", "/api/v1/restaurants/x", w.Restaurant.Token, body); r.Status != http.StatusNotFound {
				t.Fatalf("PATCH of no restaurant id: %d", r.Status)
			}

			var got map[string]any
			e.must(http.StatusOK, "PATCH", path, w.Restaurant.Token, body).decode(t, &got)
			want := map[string]any{"id": rid.String(), "name": listed["name"], "lat": 52.5163, "lng": 13.3777, "prep_minutes": 25.0, "created_at": listed["created_at"]}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("PATCH answered %v, want %v", got, want)
			}
			e.must(http.StatusOK, "PATCH", path, w.Restaurant.Token, map[string]any{"name": "  Pizza Nova "}).decode(t, &got)
			want["name"] = "Pizza Nova"
			if fmt.Sprint(got) != fmt.Sprint(want) || fmt.Sprint(e.listedRestaurant(rid)) != fmt.Sprint(want) {
				t.Fatalf("after renaming: %v, listed %v; want %v", got, e.listedRestaurant(rid), want)
			}
		})
	}
}

// A restaurant may register with its place and preparation time.
func TestRegisterRestaurantWithPlace(t *testing.T) {
	e := newTestEnv(t)
	var s struct {
		User delivery.User `json:"user"`
	}
	e.must(http.StatusCreated, "POST", "/api/v1/auth/register", "", map[string]any{
		"email": "placed@example.com", "password": "correct horse battery", "name": "P", "role": "restaurant",
		"restaurant_name": "Placed", "restaurant_lat": -33.8568, "restaurant_lng": 151.2153, "prep_minutes": 30,
	}).decode(t, &s)
	r := e.listedRestaurant(s.User.RestaurantID)
	if r["lat"] != -33.8568 || r["lng"] != 151.2153 || r["prep_minutes"] != 30.0 {
		t.Fatalf("registered restaurant listed as %v", r)
	}
	bad := e.do("POST", "/api/v1/auth/register", "", map[string]any{
		"email": "c@example.com", "password": "correct horse battery", "name": "C", "role": "customer", "restaurant_lat": 1, "restaurant_lng": 2,
	})
	if bad.Status != http.StatusBadRequest || !strings.Contains(string(bad.Body), "restaurant_lat") {
		t.Fatalf("a customer with a restaurant place: %d %s", bad.Status, bad.Body)
	}
}

// TestPlaceWithDropoff: an order may carry its drop-off place, both
// coordinates or neither; it is answered back and part of what an
// idempotent retry must repeat.
func TestPlaceWithDropoff(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newTestEnvOn(t, open(t))
			w := e.newWorld()
			body := placeBody(w)
			body["delivery_lat"], body["delivery_lng"] = 48.8584, 2.2945
			var o map[string]any
			e.must(http.StatusCreated, "POST", "/api/v1/orders", w.Customer.Token, body, "Idempotency-Key", "k1").decode(t, &o)
			if o["delivery_lat"] != 48.8584 || o["delivery_lng"] != 2.2945 {
				t.Fatalf("placed %v, want its drop-off", o)
			}
			again := e.must(http.StatusCreated, "POST", "/api/v1/orders", w.Customer.Token, body, "Idempotency-Key", "k1")
			var replayed map[string]any
			again.decode(t, &replayed)
			if again.Header.Get("Idempotent-Replayed") != "true" || replayed["id"] != o["id"] {
				t.Fatalf("retry: %v (%s), want the same order replayed", replayed, again.Header)
			}
			moved := placeBody(w)
			moved["delivery_lat"], moved["delivery_lng"] = 48.8584, 2.2946
			if r := e.do("POST", "/api/v1/orders", w.Customer.Token, moved, "Idempotency-Key", "k1"); r.Status != http.StatusUnprocessableEntity || r.errorCode(t) != delivery.EIDEMPOTENCY {
				t.Fatalf("same key, another drop-off: %d %s", r.Status, r.Body)
			}
			plain := e.place(w)
			if plain.DeliveryLat != nil || plain.DeliveryLng != nil {
				t.Fatalf("placed without a drop-off: %+v", plain)
			}
			for i, bad := range []struct {
				lat, lng any
				field    string
			}{{52.5, nil, "delivery_lng"}, {nil, 13.4, "delivery_lat"}, {90.5, 0, "delivery_lat"}, {0, 181, "delivery_lng"}, {"1", 2, "delivery_lat"}} {
				b := placeBody(w)
				if bad.lat != nil {
					b["delivery_lat"] = bad.lat
				}
				if bad.lng != nil {
					b["delivery_lng"] = bad.lng
				}
				r := e.do("POST", "/api/v1/orders", w.Customer.Token, b, "Idempotency-Key", fmt.Sprintf("bad-%d", i))
				if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), bad.field) {
					t.Fatalf("drop-off %v, %v: %d %s, want 400 naming %s", bad.lat, bad.lng, r.Status, r.Body, bad.field)
				}
			}
		})
	}
}

// TestGetOrderETA: GET /orders/{id} carries the order's latest estimate
// once it was accepted, for its parties; a courier offered the order sees
// the offer view with the restaurant's place and no estimate; none once
// the order ended.
func TestGetOrderETA(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newTestEnvOn(t, open(t))
			w := e.newWorld()
			rid := w.Restaurant.User.RestaurantID
			e.must(http.StatusOK, "PATCH", restaurantPath(rid), w.Restaurant.Token, map[string]any{"lat": 52.52, "lng": 13.405, "prep_minutes": 20})
			o := e.place(w)
			get := func(p party) map[string]any {
				t.Helper()
				var got map[string]any
				e.must(http.StatusOK, "GET", orderPath(o.ID), p.Token, nil).decode(t, &got)
				return got
			}
			if _, has := get(w.Customer)["eta"]; has {
				t.Fatal("a placed order has an ETA")
			}
			var accepted delivery.Order
			e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "").decode(t, &accepted)
			if accepted.ETA == nil || accepted.AcceptedAt == nil {
				t.Fatalf("accept answered %+v, want its ETA", accepted)
			}
			ready := accepted.AcceptedAt.Add(20 * 60e9).UnixMilli()
			want := fmt.Sprintf(`{"order_id":"%s","pickup_at":%d,"deliver_at":%d,"basis":"prep"}`, o.ID, ready, ready)
			for _, p := range []party{w.Customer, w.Restaurant} {
				eta, err := json.Marshal(get(p)["eta"])
				if err != nil || !sameJSON(t, eta, want) {
					t.Fatalf("%s: eta %s, want %s", p.User.Email, eta, want)
				}
			}
			offer := get(w.Courier2)
			if _, has := offer["eta"]; has || offer["lat"] != 52.52 || offer["lng"] != 13.405 || offer["delivery_address"] != nil {
				t.Fatalf("offer view %v: want the restaurant's place, no ETA, no address", offer)
			}
			e.must(http.StatusOK, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
			e.deliver(o, w)
			if _, has := get(w.Customer)["eta"]; has {
				t.Fatal("a delivered order has an ETA")
			}
		})
	}
}

// sameJSON reports whether a and b hold the same JSON value.
func sameJSON(t *testing.T, a []byte, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
