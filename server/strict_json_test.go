package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// forEachRealtimeStore runs fn on a server with a hub on every engine of
// storeFactories.
func forEachRealtimeStore(t *testing.T, fn func(t *testing.T, e *rtEnv)) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) { fn(t, newRealtimeEnvOn(t, open(t))) })
	}
}

// TestDuplicateAndCaseVariantKeysRefused: a key given twice, or a case
// variant of a field's name, at any depth, is 400 invalid naming it, and
// nothing is stored: "Text" cannot carry a lone surrogate past the UTF-8
// check of text.
func TestDuplicateAndCaseVariantKeysRefused(t *testing.T) {
	forEachRealtimeStore(t, func(t *testing.T, e *rtEnv) {
		w := e.newWorld()
		o := e.place(w)
		msgs := orderPath(o.ID) + "/messages"
		for _, tc := range []struct {
			name, path, token, body, field string
		}{
			{"case variant carrying a surrogate", msgs, w.Customer.Token, `{"Text":"\ud800","client_msg_id":"k1"}`, "Text"},
			{"upper case", msgs, w.Customer.Token, `{"TEXT":"hi","client_msg_id":"k2"}`, "TEXT"},
			{"folded long s", msgs, w.Customer.Token, `{"text":"hi","client_m\u017fg_id":"k3"}`, "client_mſg_id"},
			{"duplicate carrying a surrogate", msgs, w.Customer.Token, `{"text":"fine","text":"\ud800","client_msg_id":"k4"}`, "text"},
			{"duplicate by escape", msgs, w.Customer.Token, `{"text":"fine","t\u0065xt":"\ud800","client_msg_id":"k5"}`, "text"},
			{"nested case variant", "/api/v1/orders", w.Customer.Token,
				`{"restaurant_id":"` + w.Restaurant.User.RestaurantID.String() + `","delivery_address":"1 Main St",` +
					`"items":[{"menu_item_id":"` + w.Items[0].ID.String() + `","quantity":1,"Quantity":50}]}`, "items[0].Quantity"},
			{"nested duplicate", "/api/v1/orders", w.Customer.Token,
				`{"restaurant_id":"` + w.Restaurant.User.RestaurantID.String() + `","delivery_address":"1 Main St",` +
					`"items":[{"menu_item_id":"` + w.Items[0].ID.String() + `","quantity":1,"quantity":50}]}`, "items[0].quantity"},
			{"status twice", orderPath(o.ID) + "/status", w.Restaurant.Token, `{"status":"accepted","status":"rejected"}`, "status"},
			{"publish data duplicate", "/api/v1/publish", testAPIKey,
				`{"channel":"` + wire.OrderChannel(o.ID) + `","event":"x.y","data":{"a":{"b":1,"b":2}}}`, "data.a.b"},
		} {
			r := e.send("POST", tc.path, tc.token, "application/json", tc.body, "Idempotency-Key", "k-"+tc.name)
			if r.Status != 400 || r.errorCode(t) != delivery.EINVALID || !strings.Contains(string(r.Body), `"`+tc.field+`: `) {
				t.Errorf("%s: %d %s, want 400 invalid naming %s", tc.name, r.Status, r.Body, tc.field)
			}
		}
		if n := len(e.history(o, w.Customer, "").Messages); n != 0 {
			t.Errorf("%d messages stored, want none", n)
		}
		var list struct{ Orders []delivery.Order }
		e.must(200, "GET", "/api/v1/orders", w.Customer.Token, nil).decode(t, &list)
		if len(list.Orders) != 1 || list.Orders[0].Status != delivery.StatusPlaced || list.Orders[0].Seq != 1 {
			t.Errorf("orders %+v, want the one placed, unchanged", list.Orders)
		}
		// A publish's data is the client's own: its keys may differ in case.
		e.must(200, "POST", "/api/v1/publish", testAPIKey, map[string]any{
			"channel": wire.OrderChannel(o.ID), "event": "x.y", "data": map[string]any{"a": 1, "A": 2},
		})
	})
}

// TestWSDuplicateAndCaseVariantKeysRefused: the same on the websocket, an
// invalid error frame answering the frame's id, nothing stored.
func TestWSDuplicateAndCaseVariantKeysRefused(t *testing.T) {
	forEachRealtimeStore(t, func(t *testing.T, e *rtEnv) {
		w := e.newWorld()
		o := e.place(w)
		cust := e.dial(w.Customer)
		oid := `"order_id":"` + o.ID.String() + `"`
		for i, tc := range []struct{ frame, field string }{
			{`{"type":"chat",` + oid + `,"Text":"\ud800","client_msg_id":"m1"}`, "Text"},
			{`{"type":"chat",` + oid + `,"text":"ok","text":"\ud800","client_msg_id":"m2"}`, "text"},
			{`{"type":"chat",` + oid + `,"text":"ok","Client_Msg_Id":"\ud800"}`, "Client_Msg_Id"},
			{`{"type":"chat",` + oid + `,"ORDER_ID":"1","text":"ok","client_msg_id":"m3"}`, "ORDER_ID"},
			{`{"Type":"chat",` + oid + `,"text":"ok","client_msg_id":"m4"}`, "Type"},
			{`{"type":"subscribe","type":"chat",` + oid + `,"text":"ok","client_msg_id":"m5"}`, "type"},
			{`{"type":"subscribe","channel":"dispatch","extra":{"k":1,"k":2}}`, "extra.k"},
		} {
			id := fmt.Sprintf(`"k%d"`, i)
			cust.send(`{"id":` + id + `,` + tc.frame[1:])
			got := cust.waitUntil("answer "+id, func(fs []frame) bool { return answerOf(fs, id) != nil })
			if a := answerOf(got, id); a.Type != "error" || a.Code != wire.CodeInvalid || !strings.HasPrefix(a.Message, tc.field+": ") {
				t.Errorf("%s answered %+v, want invalid naming %s", tc.frame, a, tc.field)
			}
		}
		if n := len(e.events(o, w.Customer)); n != 1 {
			t.Errorf("the log has %d events, want only order.created", n)
		}
		cust.ok(map[string]any{"type": "chat", "order_id": o.ID, "text": "still here", "client_msg_id": "m9", "unknown": 1})
	})
}

// TestBodyMustBeJSON: every endpoint that takes a body answers 415
// unsupported_media_type to a body sent as text/plain, as a form or with
// no Content-Type, before authentication, and stores nothing;
// application/json with parameters and application/*+json are JSON; a
// request without a body needs no type.
func TestBodyMustBeJSON(t *testing.T) {
	forEachRealtimeStore(t, func(t *testing.T, e *rtEnv) {
		w := e.newWorld()
		o := e.place(w)
		rid := w.Restaurant.User.RestaurantID.String()
		endpoints := []struct{ method, path, token, body string }{
			{"POST", "/api/v1/auth/register", "", `{"email":"new@example.com","password":"correct horse battery","name":"N","role":"customer"}`},
			{"POST", "/api/v1/auth/login", "", `{"email":"` + w.Customer.User.Email + `","password":"correct horse battery"}`},
			{"POST", "/api/v1/auth/refresh", "", `{"refresh_token":"` + w.Customer.RefreshToken + `"}`},
			{"POST", "/api/v1/auth/logout", w.Customer.Token, `{"refresh_token":"` + w.Customer.RefreshToken + `"}`},
			{"POST", menuPath(w.Restaurant.User.RestaurantID), w.Restaurant.Token, `{"name":"Cake","price_cents":500}`},
			{"PATCH", menuPath(w.Restaurant.User.RestaurantID) + "/" + w.Items[0].ID.String(), w.Restaurant.Token, `{"available":false}`},
			{"POST", "/api/v1/orders", w.Customer.Token, `{"restaurant_id":"` + rid + `","items":[{"menu_item_id":"` + w.Items[0].ID.String() + `","quantity":1}],"delivery_address":"2 Side St"}`},
			{"POST", orderPath(o.ID) + "/status", w.Restaurant.Token, `{"status":"accepted"}`},
			{"POST", orderPath(o.ID) + "/messages", w.Customer.Token, `{"text":"hi","client_msg_id":"c1"}`},
			{"POST", orderPath(o.ID) + "/read", w.Customer.Token, `{"seq":1}`},
			{"POST", "/api/v1/couriers/me/location", w.Courier.Token, `{"lat":52.5,"lng":13.4,"ts":1}`},
			{"POST", "/api/v1/publish", testAPIKey, `{"channel":"` + wire.OrderChannel(o.ID) + `","event":"x.y","data":{},"durable":true}`},
		}
		for _, ep := range endpoints {
			for _, ct := range []string{"text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/jsonx", "application/+json", "json", "application/json;;"} {
				r := e.send(ep.method, ep.path, ep.token, ct, ep.body, "Idempotency-Key", "k415")
				if r.Status != 415 || r.errorCode(t) != "unsupported_media_type" {
					t.Errorf("%s %s as %q: %d %s, want 415 unsupported_media_type", ep.method, ep.path, ct, r.Status, r.Body)
				}
			}
			// Refused before the token is looked at, too.
			if r := e.send(ep.method, ep.path, "", "text/plain", ep.body); r.Status != 415 {
				t.Errorf("%s %s without token as text/plain: %d, want 415", ep.method, ep.path, r.Status)
			}
		}
		// Nothing of the above happened.
		if r := e.do("POST", "/api/v1/auth/login", "", map[string]any{"email": "new@example.com", "password": "correct horse battery"}); r.Status != 401 {
			t.Errorf("the text/plain registration created an account: login %d", r.Status)
		}
		got := e.must(200, "GET", orderPath(o.ID), w.Customer.Token, nil)
		var now delivery.Order
		got.decode(t, &now)
		if now.Status != delivery.StatusPlaced || now.Seq != 1 {
			t.Errorf("order %s seq %d, want placed at seq 1", now.Status, now.Seq)
		}
		var menu struct{ Items []delivery.MenuItem }
		e.must(200, "GET", menuPath(w.Restaurant.User.RestaurantID), "", nil).decode(t, &menu)
		if len(menu.Items) != 2 || !menu.Items[0].Available {
			t.Errorf("menu %+v, want the two items unchanged", menu.Items)
		}
		if n := len(e.history(o, w.Customer, "").Messages); n != 0 {
			t.Errorf("%d messages stored, want none", n)
		}
		// JSON under its other names is served.
		for i, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8", "application/vnd.ordercast+json"} {
			r := e.send("POST", orderPath(o.ID)+"/messages", w.Customer.Token, ct, fmt.Sprintf(`{"text":"hi","client_msg_id":"ok%d"}`, i))
			if r.Status != 201 {
				t.Errorf("as %q: %d %s, want 201", ct, r.Status, r.Body)
			}
		}
		// A request without a body needs no type.
		e.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
		if r := e.send("POST", orderPath(o.ID)+"/claim", w.Courier.Token, "", ""); r.Status != 200 {
			t.Errorf("claim without a body or a type: %d %s", r.Status, r.Body)
		}
	})
}

// TestInvisibleCharactersRefused: bidi controls and zero-width characters
// are refused in free text over REST and the websocket, naming the field;
// emoji joined with U+200D are ordinary chat.
func TestInvisibleCharactersRefused(t *testing.T) {
	forEachRealtimeStore(t, func(t *testing.T, e *rtEnv) {
		w := e.newWorld()
		o := e.place(w)
		for i, tc := range []struct{ path, token, body, field string }{
			{orderPath(o.ID) + "/messages", w.Customer.Token, `{"text":"pay \u202Egnp.exe","client_msg_id":"b1"}`, "text"},
			{orderPath(o.ID) + "/messages", w.Customer.Token, `{"text":"door\u200Bcode","client_msg_id":"b2"}`, "text"},
			{"/api/v1/auth/register", "", `{"email":"z@example.com","password":"correct horse battery","name":"Lu\u2066igi","role":"customer"}`, "name"},
			{menuPath(w.Restaurant.User.RestaurantID), w.Restaurant.Token, `{"name":"Pizza\uFEFF","price_cents":100}`, "name"},
		} {
			r := e.send("POST", tc.path, tc.token, "application/json", tc.body)
			if r.Status != 400 || r.errorCode(t) != delivery.EINVALID || !strings.Contains(string(r.Body), `"`+tc.field+`: must not contain`) {
				t.Errorf("%d: %d %s, want 400 naming %s", i, r.Status, r.Body, tc.field)
			}
		}
		cust := e.dial(w.Customer)
		cust.mustFail(delivery.EINVALID, chatFrame(o, "abc\u2067def", "b3"))
		if m := e.mustPost(o, w.Customer, "👩‍🍳 thanks!", "ok1"); m.Text != "👩‍🍳 thanks!" {
			t.Errorf("stored %q", m.Text)
		}
		cust.ok(chatFrame(o, "🏳️‍🌈", "ok2"))
		if n := len(e.history(o, w.Customer, "").Messages); n != 2 {
			t.Errorf("%d messages stored, want the 2 with emoji", n)
		}
		if _, err := e.Store.UserByEmail(context.Background(), "z@example.com"); delivery.ErrorCode(err) != delivery.ENOTFOUND {
			t.Errorf("the refused registration was stored: %v", err)
		}
		var menu struct{ Items []delivery.MenuItem }
		e.must(200, "GET", menuPath(w.Restaurant.User.RestaurantID), "", nil).decode(t, &menu)
		if len(menu.Items) != 2 {
			t.Errorf("menu %+v, want the two items of the world: the refused one was stored", menu.Items)
		}
	})
}
