package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
)

// FuzzRequestDecoding sends arbitrary bodies to every endpoint that
// decodes one: none may panic or answer 500, and every refusal has the
// API's error shape. Run longer with
// go test ./server -run '^$' -fuzz FuzzRequestDecoding -fuzztime 60s
func FuzzRequestDecoding(f *testing.F) {
	seeds := []string{
		`{"email":"a@example.com","password":"long enough","name":"A","role":"customer"}`,
		`{"restaurant_id":"1","items":[{"menu_item_id":"1","quantity":2}],"delivery_address":"x"}`,
		`{"status":"accepted","reason":"r"}`, `{"refresh_token":"x"}`, `{"name":"Soup","price_cents":100}`,
		`{"items":[{"menu_item_id":1e400}]}`, `{"restaurant_id":-1}`, `{"status":null}`, `"\ud800"`,
		`{"a":1,"a":2}`, `[`, `{}`, `null`, `0`, "\x00", `{"quantity":1.5}`,
		`{"text":"hi","client_msg_id":"k"}`, `{"text":"\ud800\u0000","client_msg_id":"\\ufffd"}`, `{"seq":1}`,
		`{"lat":52.5,"lng":13.4,"heading":90,"speed":1,"ts":1732406400000}`, `{"lat":1e308,"lng":-0,"ts":9223372036854775807}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), []byte(s))
	}
	e := newTestEnv(f)
	w := e.newWorld()
	o := e.place(w)
	type target struct{ path, token string }
	targets := []target{
		{"/api/v1/auth/register", ""},
		{"/api/v1/auth/login", ""},
		{"/api/v1/auth/refresh", ""},
		{"/api/v1/auth/logout", w.Customer.Token},
		{"/api/v1/orders", w.Customer.Token},
		{orderPath(o.ID) + "/status", w.Restaurant.Token},
		{menuPath(w.Restaurant.User.RestaurantID), w.Restaurant.Token},
		{orderPath(o.ID) + "/messages", w.Customer.Token},
		{orderPath(o.ID) + "/read", w.Customer.Token},
		{"/api/v1/couriers/me/location", w.Courier.Token},
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		tg := targets[int(which)%len(targets)]
		req := httptest.NewRequest("POST", tg.path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "fuzz")
		if tg.token != "" {
			req.Header.Set("Authorization", "Bearer "+tg.token)
		}
		resp, err := e.Server.App().Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %q: %d %s", tg.path, body, resp.StatusCode, out)
		}
		if resp.StatusCode >= 400 {
			var eb struct {
				Error struct{ Code, Message string }
			}
			if json.Unmarshal(out, &eb) != nil || eb.Error.Code == "" || eb.Error.Code == delivery.EINTERNAL {
				t.Fatalf("%s %q: not an error body: %s", tg.path, body, out)
			}
		}
	})
}
