package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlite"
	"github.com/ordercast/ordercast/internal/wire"
)

// trackLink is the answer of POST /orders/{id}/track-links.
type trackLink struct {
	ID        delivery.ID `json:"id"`
	Token     string      `json:"token"`
	URL       string      `json:"url"`
	ExpiresAt *time.Time  `json:"expires_at"`
}

func trackLinksPath(o delivery.Order) string { return orderPath(o.ID) + "/track-links" }

// share creates a tracking link of o as its customer.
func (e *testEnv) share(o delivery.Order, w world) trackLink {
	e.t.Helper()
	var l trackLink
	e.must(http.StatusCreated, "POST", trackLinksPath(o), w.Customer.Token, nil).decode(e.t, &l)
	return l
}

// listLinks is GET /orders/{id}/track-links as token's holder, each link's
// fields as raw JSON (strings).
func (e *testEnv) listLinks(o delivery.Order, token string) []map[string]string {
	e.t.Helper()
	var body struct {
		Links []map[string]json.RawMessage `json:"links"`
	}
	e.must(http.StatusOK, "GET", trackLinksPath(o), token, nil).decode(e.t, &body)
	if body.Links == nil {
		e.t.Fatal("no links list")
	}
	out := make([]map[string]string, len(body.Links))
	for i, l := range body.Links {
		out[i] = map[string]string{}
		for k, v := range l {
			out[i][k] = string(v)
		}
	}
	return out
}

// unshare deletes the link as o's customer.
func (e *testEnv) unshare(o delivery.Order, w world, l trackLink) {
	e.t.Helper()
	e.must(http.StatusNoContent, "DELETE", trackLinksPath(o)+"/"+l.ID.String(), w.Customer.Token, nil)
}

// tracking is the answer of GET /track/{token}, every field kept to find
// any that should not be there.
type tracking struct {
	Order    map[string]json.RawMessage `json:"order"`
	Location *delivery.Location         `json:"location"`
}

func (e *testEnv) track(token string) tracking {
	e.t.Helper()
	var v tracking
	e.must(http.StatusOK, "GET", "/api/v1/track/"+token, "", nil).decode(e.t, &v)
	return v
}

// position sends a position of w.Courier taken now.
func (e *testEnv) position(w world, lat, lng float64) {
	e.t.Helper()
	e.must(http.StatusAccepted, "POST", locationPath, w.Courier.Token, map[string]any{"lat": lat, "lng": lng, "ts": time.Now().UnixMilli()})
}

// The customer creates and deletes links; the other parties and anyone
// else get 403, unknown orders and links 404; a link's token opens the
// tracking view, with no person, address or notes, until deleted.
func TestTrackLinks(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	o := e.claimed(w)
	other := e.register(delivery.RoleCustomer)
	for name, token := range map[string]string{
		"restaurant": w.Restaurant.Token, "courier": w.Courier.Token, "other courier": w.Courier2.Token, "other customer": other.Token,
	} {
		if r := e.do("POST", trackLinksPath(o), token, nil); r.Status != http.StatusForbidden || r.errorCode(t) != delivery.EFORBIDDEN {
			t.Errorf("%s creates a link: %d %s, want 403 forbidden", name, r.Status, r.Body)
		}
	}
	if r := e.do("POST", trackLinksPath(o), "", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", r.Status)
	}
	if r := e.do("POST", orderPath(1<<40)+"/track-links", w.Customer.Token, nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown order: %d, want 404", r.Status)
	}

	l := e.share(o, w)
	if len(l.Token) < 22 || l.ExpiresAt != nil || l.URL != e.URL+"/t/"+l.Token {
		t.Fatalf("link %+v: want a token of 128 bits or more, no expiry while active, the page's url", l)
	}
	if stored, err := e.Store.TrackLinkByHash(context.Background(), l.Token); err == nil {
		t.Fatalf("the store finds the token itself: %+v", stored)
	}
	e.position(w, 52.5, 13.4)
	view := e.track(l.Token)
	var keys []string
	for k := range view.Order {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if got := strings.Join(keys, ","); got != "eta,id,restaurant_name,status" {
		t.Errorf("tracking view has %s, want eta,id,restaurant_name,status only", got)
	}
	if string(view.Order["status"]) != `"accepted"` || view.Location == nil || view.Location.Lat != 52.5 {
		t.Errorf("tracking view %+v location %+v", view.Order, view.Location)
	}

	for name, token := range map[string]string{"restaurant": w.Restaurant.Token, "courier": w.Courier.Token, "other customer": other.Token} {
		if r := e.do("DELETE", trackLinksPath(o)+"/"+l.ID.String(), token, nil); r.Status != http.StatusForbidden {
			t.Errorf("%s deletes the link: %d, want 403", name, r.Status)
		}
	}
	second := e.place(w)
	if r := e.do("DELETE", trackLinksPath(second)+"/"+l.ID.String(), w.Customer.Token, nil); r.Status != http.StatusNotFound {
		t.Errorf("the link under another order: %d, want 404", r.Status)
	}
	// The customer lists them (to stop sharing from another page), with no token.
	if got := e.listLinks(o, w.Customer.Token); len(got) != 1 || got[0]["id"] != `"`+l.ID.String()+`"` ||
		got[0]["expires_at"] != "null" || got[0]["created_at"] == "" || got[0]["token"] != "" || got[0]["url"] != "" {
		t.Errorf("the customer's list %v, want the one link without its token", got)
	}
	if got := e.listLinks(second, w.Customer.Token); len(got) != 0 {
		t.Errorf("links of an order not shared: %v", got)
	}
	for name, token := range map[string]string{"restaurant": w.Restaurant.Token, "courier": w.Courier.Token, "other customer": other.Token} {
		if r := e.do("GET", trackLinksPath(o), token, nil); r.Status != http.StatusForbidden {
			t.Errorf("%s lists the links: %d, want 403", name, r.Status)
		}
	}
	e.unshare(o, w, l)
	if got := e.listLinks(o, w.Customer.Token); len(got) != 0 {
		t.Errorf("after the deletion the list is %v, want none", got)
	}
	for _, token := range []string{l.Token, "x", strings.Repeat("A", 43)} {
		if r := e.do("GET", "/api/v1/track/"+token, "", nil); r.Status != http.StatusNotFound || r.errorCode(t) != delivery.ENOTFOUND {
			t.Errorf("GET /track of a deleted or unknown token: %d %s, want 404", r.Status, r.Body)
		}
	}
	if r := e.do("DELETE", trackLinksPath(o)+"/"+l.ID.String(), w.Customer.Token, nil); r.Status != http.StatusNotFound {
		t.Errorf("deleted twice: %d, want 404", r.Status)
	}
}

// An order holds at most ten links; the eleventh is 422 until one is
// deleted.
func TestTrackLinkCap(t *testing.T) {
	e := newTestEnv(t)
	w := e.newWorld()
	o := e.place(w)
	var first trackLink
	for i := range delivery.MaxTrackLinks {
		l := e.share(o, w)
		if i == 0 {
			first = l
		}
	}
	r := e.do("POST", trackLinksPath(o), w.Customer.Token, nil)
	if r.Status != http.StatusUnprocessableEntity || r.errorCode(t) != delivery.EUNPROCESSABLE || !strings.Contains(string(r.Body), "at most 10") {
		t.Fatalf("the eleventh link: %d %s, want 422 unprocessable naming the cap", r.Status, r.Body)
	}
	e.unshare(o, w, first)
	e.share(o, w)
}

// A link expires an hour after its order ended: expires_at says when,
// and from then on its token opens nothing.
func TestTrackLinkExpiry(t *testing.T) {
	clock := &testClock{}
	e := &rtEnv{newTestEnv(t, withClock(clock))}
	w := e.newWorld()
	o := e.place(w)
	active := e.share(o, w)
	e.setStatus(http.StatusOK, o, w.Customer, delivery.StatusCancelled, "")
	var ended delivery.Order
	e.must(http.StatusOK, "GET", orderPath(o.ID), w.Customer.Token, nil).decode(t, &ended)
	l := e.share(o, w)
	if l.ExpiresAt == nil || !l.ExpiresAt.Equal(ended.FinishedAt.Add(time.Hour)) {
		t.Fatalf("link of an ended order expires at %v, want an hour after %v", l.ExpiresAt, ended.FinishedAt)
	}
	if got := e.track(active.Token).Order["status"]; string(got) != `"cancelled"` {
		t.Fatalf("status %s within the hour, want cancelled", got)
	}
	clock.Advance(time.Hour + time.Second)
	for _, token := range []string{active.Token, l.Token} {
		if r := e.do("GET", "/api/v1/track/"+token, "", nil); r.Status != http.StatusNotFound {
			t.Errorf("GET /track past the hour: %d, want 404", r.Status)
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		_, resp, err := websocket.Dial(ctx, e.wsURL()+"?access_token="+token, nil)
		cancel()
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("handshake past the hour: %v %v, want 401", err, resp)
		}
	}
	if r := e.do("POST", trackLinksPath(o), w.Customer.Token, nil); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("a link of an order ended over an hour ago: %d, want 422", r.Status)
	}
}

// publicRoutes answer without an account; every other route must refuse
// a viewer's token with 401, as any token that is no access token.
var publicRoutes = map[string]bool{
	"GET /healthz": true, "GET /readyz": true, "GET /metrics": true,
	"POST /api/v1/auth/register": true, "POST /api/v1/auth/login": true, "POST /api/v1/auth/refresh": true,
	"GET /api/v1/restaurants": true, "GET /api/v1/restaurants/:id/menu": true, "GET /api/v1/push/key": true,
	"GET /": true, "GET /ops": true, "GET /sw.js": true, "GET /app/*": true, "GET /client/*": true, "GET /t/:token": true,
	// The viewer's own: the tracking view.
	"GET /api/v1/track/:token": true,
}

// Every route of the app, with a viewer's token, is 401 but the public
// ones and the tracking view (push subscriptions among them: a viewer
// registers none).
func TestViewerTokenOpensNoRoute(t *testing.T) {
	e := newPushEnv(t, sqlite.OpenTest(t))
	w := e.newWorld()
	o := e.claimed(w)
	l := e.share(o, w)
	routes := e.Server.App().GetRoutes(true)
	seen := 0
	for _, r := range routes {
		if r.Method == "HEAD" || r.Method == "CONNECT" || r.Method == "TRACE" || r.Method == "OPTIONS" {
			continue
		}
		key := r.Method + " " + r.Path
		if key == "GET /ws" || key == "GET /sse" {
			continue // a viewer's own, with their tests (TestViewerSocket, TestViewerStream): a stream would not end
		}
		path := r.Path
		for _, p := range r.Params {
			value := o.ID.String()
			if p == "token" {
				value = l.Token
			}
			path = strings.Replace(path, ":"+p, value, 1)
		}
		path = strings.Replace(path, "*", "x", 1)
		resp := e.do(r.Method, path, l.Token, map[string]any{"endpoint": "https://push.example/x", "keys": map[string]string{"p256dh": "a", "auth": "b"}})
		seen++
		switch {
		case key == "GET /api/v1/track/:token":
			if resp.Status != http.StatusOK {
				t.Errorf("%s with the viewer's token: %d, want 200", key, resp.Status)
			}
		case publicRoutes[key]:
		case resp.Status != http.StatusUnauthorized:
			t.Errorf("%s (%s) with a viewer's token: %d %s, want 401", key, path, resp.Status, resp.Body)
		}
	}
	if seen < 30 {
		t.Fatalf("walked %d routes: the app's list is not the one served", seen)
	}
	if n, err := e.Store.PushSubscriptions(context.Background(), delivery.PushAudience{Users: []delivery.ID{0, w.Customer.User.ID}, Limit: 10}); err != nil || len(n) != 0 {
		t.Fatalf("push subscriptions after a viewer's tries: %v %v", n, err)
	}
}

// dialViewer connects over /ws with a link's token, as the page does.
func (e *rtEnv) dialViewer(l trackLink) *wsClient {
	e.t.Helper()
	c := e.dialPaused("viewer", l.Token)
	c.start()
	return c
}

// viewerBarrier publishes a marker on the track channel and waits for
// it: what the viewer lacks then, it was not sent.
func (e *rtEnv) viewerBarrier(c subscriber, o delivery.Order) {
	e.t.Helper()
	n := fmt.Sprint(time.Now().UnixNano())
	if err := e.publish(context.Background(), wire.TrackChannel(o.ID), barrierEvent, []byte(n)); err != nil {
		e.t.Fatal(err)
	}
	c.waitUntil("barrier", func(fs []frame) bool {
		for _, f := range fs {
			if f.Event == barrierEvent && string(f.Data) == n {
				return true
			}
		}
		return false
	})
}

// A viewer subscribes to its order's track channel and nothing else: it
// gets the current state, then status changes and positions live with no
// person, address or notes; every other frame type and channel kind is
// forbidden; deleting the link closes the socket with 4001.
func TestViewerSocket(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.claimed(w)
	otherOrder := e.place(w)
	l := e.share(o, w)
	e.position(w, 52.5, 13.4)
	c := e.dialViewer(l)
	track := wire.TrackChannel(o.ID)
	c.subscribe(track)
	first := c.waitEvents(track, 2) // the status, then the position
	if first[0].Event != delivery.EventOrderStatus || !strings.Contains(string(first[0].Data), `"status":"accepted"`) {
		t.Fatalf("first event %s %s, want the current status", first[0].Event, first[0].Data)
	}
	if first[1].Event != delivery.EventCourierLocation {
		t.Fatalf("second event %s, want the last position", first[1].Event)
	}

	for _, ch := range []string{
		wire.OrderChannel(o.ID), wire.UserChannel(w.Customer.User.ID), wire.RestaurantChannel(w.Restaurant.User.RestaurantID),
		wire.DispatchChannel, wire.OpsChannel, wire.TrackChannel(otherOrder.ID),
	} {
		c.mustFail(wire.CodeForbidden, map[string]any{"type": "subscribe", "channel": ch})
	}
	for _, f := range []map[string]any{
		{"type": "chat", "order_id": o.ID, "text": "hi", "client_msg_id": "m1"},
		{"type": "typing", "order_id": o.ID},
		{"type": "read", "order_id": o.ID, "seq": 1},
		{"type": "location", "lat": 1, "lng": 2, "ts": time.Now().UnixMilli()},
		{"type": "auth", "token": w.Customer.Token},
		{"type": "publish", "channel": track, "event": "x", "data": 1},
	} {
		a := c.request(f)
		if a.Type != "error" || (a.Code != wire.CodeForbidden && f["type"] != "publish") {
			t.Errorf("viewer's %s frame answered %s %s %s, want forbidden", f["type"], a.Type, a.Code, a.Message)
		}
	}
	if n, err := e.Store.MessagesBefore(context.Background(), o.ID, 0, 10); err != nil || len(n) != 0 {
		t.Fatalf("messages after a viewer's chat frame: %v %v", n, err)
	}

	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusPreparing, "")
	c.waitUntil("the status change", func([]frame) bool {
		for _, f := range c.events(track) {
			if f.Event == delivery.EventOrderStatus && strings.Contains(string(f.Data), `"status":"preparing"`) {
				return true
			}
		}
		return false
	})
	e.viewerBarrier(c, o)
	for _, f := range c.events(track) {
		for _, secret := range []string{"1 Main St", "customer_id", "delivery_address", "notes", w.Customer.User.Name, "items"} {
			if strings.Contains(string(f.Data), secret) {
				t.Errorf("viewer's %s shows %s: %s", f.Event, secret, f.Data)
			}
		}
		switch f.Event {
		case delivery.EventOrderStatus, delivery.EventCourierLocation, delivery.EventOrderETA, barrierEvent:
		default:
			t.Errorf("viewer got %s", f.Event)
		}
	}
	for _, f := range c.received() {
		if f.Type == "event" && f.Channel != track {
			t.Errorf("viewer got %s on %s", f.Event, f.Channel)
		}
	}

	e.unshare(o, w, l)
	if code := c.closeCode(); code != 4001 {
		t.Fatalf("viewer's socket closed with %d after the deletion, want 4001", code)
	}
}

// Over /sse a viewer's stream of its track channel gets the same events,
// other channels are refused, and the deletion ends it with close 4001.
func TestViewerStream(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.claimed(w)
	l := e.share(o, w)
	track := wire.TrackChannel(o.ID)
	s := e.openSSEAs("viewer", "/sse?access_token="+l.Token+"&channels="+track+","+wire.OrderChannel(o.ID))
	if code := s.refusal(wire.OrderChannel(o.ID)); code != wire.CodeForbidden {
		t.Fatalf("the order channel refused with %q, want forbidden", code)
	}
	s.waitEvents(track, 1)
	e.setStatus(http.StatusOK, o, w.Restaurant, delivery.StatusPreparing, "")
	s.waitEvents(track, 2)
	e.unshare(o, w, l)
	if got := s.closed(); got.Code != 4001 {
		t.Fatalf("viewer's stream closed with %+v after the deletion, want 4001", got)
	}
	r := e.do("GET", "/sse?channels="+track+"&access_token="+l.Token, "", nil)
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("a deleted link's stream: %d, want 401", r.Status)
	}
}
