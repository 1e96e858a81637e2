package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/push"
	"github.com/ordercast/ordercast/internal/push/pushtest"
	"github.com/ordercast/ordercast/internal/store/sqlite"
)

// The parties with no socket open are pushed an order's status changes,
// its offer (couriers) and its chat messages, each decrypted here with
// the subscription's keys, the VAPID JWT checked; the party that caused
// an event is not pushed it.
func TestPushToPartiesWithNoSocket(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newPushEnv(t, open(t))
			w := e.newWorld()
			o := e.place(w)
			e.subscribe(w.Customer, "customer")
			e.subscribe(w.Restaurant, "kitchen")
			e.subscribe(w.Courier, "courier")

			e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
			st := waitStats(t, "the accept resolved", e.App.Push, func(s push.Stats) bool { return s.Resolved == 1 })
			if st.Queued != 2 {
				t.Fatalf("accept queued %d messages, want 2 (the customer's status, the courier's offer): %+v", st.Queued, st)
			}
			e.push.WaitMessages(2, waitTimeout)
			id := o.ID.String()
			got := bySubscription(e.push.Messages())
			wantMessage(t, got["customer"], pushtest.Message{Subscription: "customer", Topic: "order-" + id, TTL: "3600", Urgency: "high",
				Subject: "mailto:ops@localhost", Payload: pushtest.Payload{OrderID: id, Event: "order.status",
					Title: "Order " + id + " was accepted", Body: restaurantName(t, e.testEnv, w), URL: "/#/orders/" + id}})
			wantMessage(t, got["courier"], pushtest.Message{Subscription: "courier", Topic: "order-" + id, TTL: "3600", Urgency: "normal",
				Subject: "mailto:ops@localhost", Payload: pushtest.Payload{OrderID: id, Event: "order.offered",
					Title: "Order " + id + " is up for delivery", Body: restaurantName(t, e.testEnv, w) + ", 3 items", URL: "/#/orders/" + id}})

			e.must(http.StatusOK, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil) // order.assigned: not pushed
			e.must(http.StatusCreated, "POST", orderPath(o.ID)+"/messages", w.Customer.Token,
				map[string]any{"text": "at the door, please", "client_msg_id": "m1"})
			waitStats(t, "the chat message resolved", e.App.Push, func(s push.Stats) bool { return s.Resolved == 2 })
			e.push.WaitMessages(4, waitTimeout)
			got = bySubscription(e.push.Messages())
			if n := len(got["customer"]); n != 1 {
				t.Errorf("the customer got %d pushes, want 1: not its own message", n)
			}
			chat := pushtest.Payload{OrderID: id, Event: "chat.message", Title: "Message about order " + id,
				Body: "Customer: at the door, please", URL: "/#/orders/" + id}
			for _, sub := range []string{"kitchen", "courier"} {
				last := got[sub][len(got[sub])-1]
				if last.Payload != chat || last.Urgency != "normal" || last.Topic != "order-"+id {
					t.Errorf("%s's last push: %+v, want %+v with Urgency normal", sub, last, chat)
				}
			}
			if n := len(got["kitchen"]); n != 1 {
				t.Errorf("the restaurant got %d pushes, want the chat message only (it set the status itself)", n)
			}
			if st := waitStats(t, "4 sent", e.App.Push, func(s push.Stats) bool { return s.Sent == 4 }); st.Queued != 4 {
				t.Errorf("stats %+v, want 4 queued", st)
			}
		})
	}
}

// wantMessage checks the one message msgs should hold.
func wantMessage(t *testing.T, msgs []pushtest.Message, want pushtest.Message) {
	t.Helper()
	if len(msgs) != 1 {
		t.Fatalf("%s: %d pushes, want 1: %+v", want.Subscription, len(msgs), msgs)
	}
	got := msgs[0]
	got.At = time.Time{}
	if got != want {
		t.Errorf("%s: push\n got %+v\nwant %+v", want.Subscription, got, want)
	}
}

// A user with a socket open is not pushed; once it closed, the next
// event is.
func TestPushSkipsAUserWithASocketOpen(t *testing.T) {
	e := newPushEnv(t, sqlite.OpenTest(t))
	w := e.newWorld()
	o := e.place(w)
	e.subscribe(w.Customer, "customer")
	ws := e.dial(w.Customer)

	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	st := waitStats(t, "the accept resolved", e.App.Push, func(s push.Stats) bool { return s.Resolved == 1 })
	if st.OnlineNotSent != 1 || st.Queued != 0 {
		t.Fatalf("with a socket open: %+v, want 1 skipped, none queued", st)
	}

	_ = ws.conn.Close(websocket.StatusNormalClosure, "bye")
	waitAbsent(t, e.conns, w.Customer.User.ID)
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusPreparing, "")
	msgs := e.push.WaitMessages(1, waitTimeout)
	if want := fmt.Sprintf("Order %s is being prepared", o.ID); msgs[0].Payload.Title != want {
		t.Errorf("push after the socket closed: %+v, want %q", msgs[0].Payload, want)
	}
	if n := len(e.push.Posts()); n != 1 {
		t.Errorf("%d posts, want 1: nothing of the accept", n)
	}
}

// A subscription the push service no longer knows (404, 410) is deleted.
func TestPushGoneSubscriptionIsDeleted(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusGone} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e := newPushEnv(t, sqlite.OpenTest(t))
			w := e.newWorld()
			o := e.place(w)
			e.subscribe(w.Customer, "customer")
			e.push.Script("customer", pushtest.Answer{Status: status})
			e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
			waitStats(t, "the subscription gone", e.App.Push, func(s push.Stats) bool { return s.Gone == 1 })
			subs, err := e.Store.PushSubscriptions(context.Background(), delivery.PushAudience{Users: []delivery.ID{w.Customer.User.ID}, Limit: 10})
			if err != nil || len(subs) != 0 {
				t.Fatalf("after %d: subscriptions %+v (%v), want none", status, subs, err)
			}
			e.must(http.StatusNotFound, "DELETE", "/api/v1/push/subscriptions", w.Customer.Token, map[string]any{"endpoint": e.push.Endpoint("customer")})
		})
	}
}

// 429 and 5xx are retried: after Retry-After (seconds or an HTTP date),
// else after a backoff; the message arrives once.
func TestPushRetriesLater(t *testing.T) {
	tests := []struct {
		name    string
		answer  func() pushtest.Answer
		atLeast time.Duration // between the refused post and the retry
	}{
		{"429 with Retry-After in seconds", func() pushtest.Answer {
			return pushtest.Answer{Status: http.StatusTooManyRequests, RetryAfter: "1"}
		}, time.Second},
		{"429 with Retry-After as a date", func() pushtest.Answer {
			// Whole seconds: at least two seconds ahead, when it is set.
			return pushtest.Answer{Status: http.StatusTooManyRequests, RetryAfter: time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat)}
		}, time.Second},
		{"503 without Retry-After", func() pushtest.Answer {
			return pushtest.Answer{Status: http.StatusServiceUnavailable}
		}, 20 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newPushEnv(t, sqlite.OpenTest(t))
			w := e.newWorld()
			o := e.place(w)
			e.subscribe(w.Customer, "customer")
			answer := tt.answer()
			e.push.Script("customer", answer)
			e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
			msgs := e.push.WaitMessages(1, waitTimeout)
			posts := e.push.Posts()
			if len(posts) != 2 || posts[0].Status != answer.Status || posts[1].Status != http.StatusCreated {
				t.Fatalf("posts %+v, want the refused one and its retry", posts)
			}
			if gap := posts[1].At.Sub(posts[0].At); gap < tt.atLeast {
				t.Errorf("retried %v after the refusal, want at least %v", gap, tt.atLeast)
			}
			if msgs[0].Payload.Event != "order.status" || e.App.Push.Stats().Retried != 1 {
				t.Errorf("delivered %+v, stats %+v", msgs[0].Payload, e.App.Push.Stats())
			}
		})
	}
}

// A push service that keeps failing is given up on after MaxAttempts.
func TestPushGivesUpAfterItsAttempts(t *testing.T) {
	e := newPushEnv(t, sqlite.OpenTest(t), func(c *push.Config) { c.MaxAttempts = 3 })
	w := e.newWorld()
	o := e.place(w)
	e.subscribe(w.Customer, "customer")
	fail := pushtest.Answer{Status: http.StatusInternalServerError}
	e.push.Script("customer", fail, fail, fail, fail)
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	st := waitStats(t, "the message given up", e.App.Push, func(s push.Stats) bool { return s.Failed == 1 })
	if n := len(e.push.Posts()); n != 3 || st.Retried != 2 || st.Sent != 0 {
		t.Errorf("%d posts, stats %+v; want 3 posts, 2 retries, none sent", n, st)
	}
}

// Registration takes https endpoints on public addresses only, checked
// after resolving the host, and keys of the right lengths; a repeat by
// another user moves the endpoint; each user deletes only its own.
func TestPushSubscriptionEndpoints(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			resolver := newFakeResolver(map[string][]string{
				"public.push.test": {"1.1.1.1"}, // resolved only: nothing here sends
				"rebind.push.test": {"127.0.0.1"},
				"mixed.push.test":  {"1.1.1.1", "192.168.1.10"},
				"v6.push.test":     {"fd00::1"},
			})
			e := newPushEnv(t, open(t), func(c *push.Config) { c.AllowInsecure, c.Resolver = false, resolver })
			alice, bob := e.register(delivery.RoleCustomer), e.register(delivery.RoleCustomer)
			good := e.push.Subscribe("good")
			keys := good["keys"].(map[string]string)
			body := func(endpoint, p256dh, auth string) map[string]any {
				return map[string]any{"endpoint": endpoint, "keys": map[string]string{"p256dh": p256dh, "auth": auth}}
			}
			refused := []struct {
				endpoint, why string
			}{
				{"", "endpoint: required"},
				{"http://public.push.test/x", "endpoint: must be an https URL"},
				{"push/x", "endpoint: must be an absolute https URL"},
				{"https://user:pw@public.push.test/x", "endpoint: must carry no user name or password"},
				{"https://public.push.test:99999/x", "endpoint: has an invalid port"},
				{"https://" + strings.Repeat("a", push.MaxEndpointLen) + "/x", "endpoint: at most 2048 characters"},
				{"https://127.0.0.1/x", "endpoint: must be on a public address"},
				{"https://[::1]/x", "endpoint: must be on a public address"},
				{"https://[::ffff:127.0.0.1]/x", "endpoint: must be on a public address"},
				{"https://10.1.2.3/x", "endpoint: must be on a public address"},
				{"https://169.254.169.254/latest", "endpoint: must be on a public address"},
				{"https://100.64.0.1/x", "endpoint: must be on a public address"},
				{"https://0.0.0.0/x", "endpoint: must be on a public address"},
				{"https://224.0.0.1/x", "endpoint: must be on a public address"},
				{"https://[fe80::1]/x", "endpoint: must be on a public address"},
				{"https://rebind.push.test/x", "endpoint: must be on a public address"},
				{"https://mixed.push.test/x", "endpoint: must be on a public address"},
				{"https://v6.push.test/x", "endpoint: must be on a public address"},
				{"https://nowhere.push.test/x", "endpoint: its host does not resolve"},
			}
			for _, tt := range refused {
				r := e.do("POST", "/api/v1/push/subscriptions", alice.Token, body(tt.endpoint, keys["p256dh"], keys["auth"]))
				if r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid" || !strings.Contains(string(r.Body), tt.why) {
					t.Errorf("endpoint %.60q: %d %s, want 400 %q", tt.endpoint, r.Status, r.Body, tt.why)
				}
			}
			ok := "https://public.push.test/sub/1"
			offCurve := base64.RawURLEncoding.EncodeToString(append([]byte{4}, make([]byte, 64)...))
			badKeys := []struct {
				p256dh, auth, why string
			}{
				{keys["p256dh"][:40], keys["auth"], "keys.p256dh"},
				{offCurve, keys["auth"], "keys.p256dh"},
				{"not base64!", keys["auth"], "keys.p256dh"},
				{keys["p256dh"], base64.RawURLEncoding.EncodeToString(make([]byte, 15)), "keys.auth"},
				{keys["p256dh"], "", "keys.auth"},
			}
			for _, tt := range badKeys {
				r := e.do("POST", "/api/v1/push/subscriptions", alice.Token, body(ok, tt.p256dh, tt.auth))
				if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), tt.why) {
					t.Errorf("keys %q/%q: %d %s, want 400 naming %s", tt.p256dh, tt.auth, r.Status, r.Body, tt.why)
				}
			}
			e.must(http.StatusBadRequest, "POST", "/api/v1/push/subscriptions", alice.Token, map[string]any{"endpoint": ok, "keys": keys, "extra": 1})
			e.must(http.StatusUnauthorized, "POST", "/api/v1/push/subscriptions", "", body(ok, keys["p256dh"], keys["auth"]))

			// As a browser sends it (expirationTime null), padded base64url too.
			var sub push.Subscription
			e.must(http.StatusCreated, "POST", "/api/v1/push/subscriptions", alice.Token, map[string]any{
				"endpoint": ok, "expirationTime": nil, "keys": map[string]string{"p256dh": keys["p256dh"] + "=", "auth": keys["auth"] + "=="},
			}).decode(t, &sub)
			if sub.Endpoint != ok || sub.CreatedAt.IsZero() {
				t.Errorf("registered %+v", sub)
			}
			e.must(http.StatusCreated, "POST", "/api/v1/push/subscriptions", alice.Token, body(ok, keys["p256dh"], keys["auth"])) // a repeat
			del := map[string]any{"endpoint": ok}
			e.must(http.StatusNotFound, "DELETE", "/api/v1/push/subscriptions", bob.Token, del)
			e.must(http.StatusCreated, "POST", "/api/v1/push/subscriptions", bob.Token, body(ok, keys["p256dh"], keys["auth"])) // moves it
			e.must(http.StatusNotFound, "DELETE", "/api/v1/push/subscriptions", alice.Token, del)
			e.must(http.StatusNoContent, "DELETE", "/api/v1/push/subscriptions", bob.Token, del)
			e.must(http.StatusNotFound, "DELETE", "/api/v1/push/subscriptions", bob.Token, del)
			e.must(http.StatusBadRequest, "DELETE", "/api/v1/push/subscriptions", bob.Token, map[string]any{})
			e.must(http.StatusUnauthorized, "DELETE", "/api/v1/push/subscriptions", "", del)

			var key struct {
				PublicKey string `json:"public_key"`
			}
			e.must(http.StatusOK, "GET", "/api/v1/push/key", "", nil).decode(t, &key)
			raw, err := base64.RawURLEncoding.DecodeString(key.PublicKey)
			if key.PublicKey != e.keys.PublicKey() || err != nil || len(raw) != 65 || raw[0] != 4 {
				t.Errorf("GET /push/key = %q, want the VAPID public key, 65 bytes uncompressed", key.PublicKey)
			}
		})
	}
}

// PUSH_ALLOW_INSECURE takes loopback endpoints, over http too, and still
// refuses http elsewhere and private addresses.
func TestPushAllowInsecureIsLoopbackOnly(t *testing.T) {
	resolver := newFakeResolver(map[string][]string{"public.push.test": {"1.1.1.1"}, "local.push.test": {"127.0.0.1"}})
	e := newPushEnv(t, sqlite.OpenTest(t), func(c *push.Config) { c.Resolver = resolver })
	p := e.register(delivery.RoleCustomer)
	keys := e.push.Subscribe("x")["keys"]
	for endpoint, want := range map[string]int{
		"http://127.0.0.1:9/x":       http.StatusCreated,
		"http://local.push.test:9/x": http.StatusCreated,
		"https://[::1]:9/x":          http.StatusCreated,
		"http://public.push.test/x":  http.StatusBadRequest,
		"http://10.0.0.1/x":          http.StatusBadRequest,
		"https://192.168.0.1/x":      http.StatusBadRequest,
	} {
		if r := e.do("POST", "/api/v1/push/subscriptions", p.Token, map[string]any{"endpoint": endpoint, "keys": keys}); r.Status != want {
			t.Errorf("%s with PUSH_ALLOW_INSECURE: %d %s, want %d", endpoint, r.Status, r.Body, want)
		}
	}
}

// An endpoint whose host resolves to an internal address when it is sent
// to (DNS rebinding) is refused by the dialer: nothing connects.
func TestPushRefusesAnInternalAddressAtSend(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			_ = c.Close()
		}
	}()
	t.Cleanup(func() { _ = ln.Close() })
	resolver := newFakeResolver(map[string][]string{"rebind.push.test": {"127.0.0.1"}})
	e := newPushEnv(t, sqlite.OpenTest(t), func(c *push.Config) { c.AllowInsecure, c.Resolver = false, resolver })
	w := e.newWorld()
	o := e.place(w)
	keys := e.push.Subscribe("x")["keys"].(map[string]string)
	// Stored as if its host had resolved to a public address when it was
	// registered.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if _, err := e.Store.SavePushSubscription(context.Background(), delivery.PushSubscription{
		UserID: w.Customer.User.ID, Endpoint: "https://rebind.push.test:" + port + "/push/x", P256dh: keys["p256dh"], Auth: keys["auth"],
	}, push.DefaultMaxPerUser); err != nil {
		t.Fatal(err)
	}
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	st := waitStats(t, "the send refused", e.App.Push, func(s push.Stats) bool { return s.Refused == 1 })
	if st.Sent != 0 || st.Retried != 0 || accepted.Load() != 0 {
		t.Errorf("stats %+v, %d connections accepted; want the send refused before connecting, not retried", st, accepted.Load())
	}
}

// The courier's arrival at the restaurant is pushed to the customer and
// the restaurant, not to the courier who arrived.
func TestPushOfTheCouriersArrival(t *testing.T) {
	e := newPushEnv(t, sqlite.OpenTest(t))
	w := e.newWorld()
	restaurant := delivery.Place{Lat: 52.52, Lng: 13.405}
	o := e.placedOrder(w, restaurant, north(restaurant, 3000), 20)
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusAccepted, "")
	e.must(http.StatusOK, "POST", orderPath(o.ID)+"/claim", w.Courier.Token, nil)
	// Subscribed once the accept was worked out (with no subscription):
	// the arrival is the only push.
	waitStats(t, "the accept resolved", e.App.Push, func(s push.Stats) bool { return s.Resolved == 1 })
	e.subscribe(w.Customer, "customer")
	e.subscribe(w.Restaurant, "kitchen")
	e.subscribe(w.Courier, "courier")

	// The courier stays within 50 m for 5 s by its positions' ts.
	at := time.Now().UnixMilli()
	for _, p := range []struct {
		m  float64
		dt int64
	}{{-30, 0}, {-10, 2000}, {5, 5000}} {
		pos := north(restaurant, p.m)
		e.must(http.StatusAccepted, "POST", "/api/v1/couriers/me/location", w.Courier.Token,
			map[string]any{"lat": pos.Lat, "lng": pos.Lng, "speed": 4, "ts": at + p.dt})
	}
	st := waitStats(t, "the arrival resolved", e.App.Push, func(s push.Stats) bool { return s.Resolved == 2 })
	if st.Queued != 2 {
		t.Fatalf("the arrival queued %d messages, want 2 (customer, restaurant): %+v", st.Queued, st)
	}
	got := bySubscription(e.push.WaitMessages(2, waitTimeout))
	want := pushtest.Payload{OrderID: o.ID.String(), Event: "courier.arrived",
		Title: "Order " + o.ID.String() + ": the courier is at the restaurant", Body: restaurantName(t, e.testEnv, w), URL: "/#/orders/" + o.ID.String()}
	for _, sub := range []string{"customer", "kitchen"} {
		if len(got[sub]) != 1 || got[sub][0].Payload != want || got[sub][0].Urgency != "normal" {
			t.Errorf("%s's pushes %+v, want one %+v", sub, got[sub], want)
		}
	}
	if len(got["courier"]) != 0 {
		t.Errorf("the courier was pushed its own arrival: %+v", got["courier"])
	}
}
