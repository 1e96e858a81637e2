package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	"github.com/ordercast/ordercast/internal/wire"
)

// The Limits table of API.md, on a frozen clock (stepClock) that the
// tests move instead of waiting. Requests name their client address in
// X-Forwarded-For, trusted from 127.0.0.0/8 (TRUSTED_PROXIES).

const testPassword = "correct horse battery" // testEnv.register's

// withRateLimits turns the rate limits on, on clock.
func withRateLimits(clock *stepClock) func(*app.Config) {
	return func(cfg *app.Config) {
		cfg.Limits = limits.New(limits.Options{Now: clock.Now})
		cfg.Server.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
}

// expectRefused fails the test unless r is status with the error code and
// Retry-After.
func expectRefused(t *testing.T, what string, r response, status int, code, retryAfter string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
	if got := r.errorCode(t); got != code {
		t.Errorf("%s: code %s, want %s", what, got, code)
	}
	if got := r.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("%s: Retry-After %q, want %q", what, got, retryAfter)
	}
}

// expectRetryHint fails the test unless a websocket error frame's message
// ends with the wait a REST answer gives in Retry-After (a frame has no
// header).
func expectRetryHint(t *testing.T, what string, f frame, retryAfter string) {
	t.Helper()
	if want := "retry in " + retryAfter + " s"; !strings.HasSuffix(f.Message, want) {
		t.Errorf("%s: message %q, want it to end with %q", what, f.Message, want)
	}
}

func (e *testEnv) login(addr, email, password string) response {
	e.t.Helper()
	return e.do("POST", "/api/v1/auth/login", "", map[string]any{"email": email, "password": password}, "X-Forwarded-For", addr)
}

func TestLoginFailuresAreLimitedPerAddressAndEmail(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		clock := newStepClock()
		e := newEnv(withRateLimits(clock))
		ann, bo := e.register(delivery.RoleCustomer), e.register(delivery.RoleCustomer)
		// Refused as malformed: no attempt, no cost.
		for range 20 {
			if r := e.do("POST", "/api/v1/auth/login", "", `{"email": 1}`, "X-Forwarded-For", "192.0.2.1"); r.Status != http.StatusBadRequest {
				t.Fatalf("malformed login: %d %s", r.Status, r.Body)
			}
		}
		for i := range 10 {
			if r := e.login("192.0.2.1", ann.User.Email, "wrong password"); r.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		// Even the right password is refused now.
		expectRefused(t, "11th login", e.login("192.0.2.1", ann.User.Email, testPassword), http.StatusTooManyRequests, "rate_limited", "6")
		e.expectMetric(1, limitRefusals, "limit", "login")
		if r := e.login("192.0.2.1", bo.User.Email, testPassword); r.Status != http.StatusOK {
			t.Errorf("another email from the address: %d %s", r.Status, r.Body)
		}
		if r := e.login("192.0.2.2", ann.User.Email, testPassword); r.Status != http.StatusOK {
			t.Errorf("the email from another address: %d %s", r.Status, r.Body)
		}
		clock.Advance(6 * time.Second)
		if r := e.login("192.0.2.1", ann.User.Email, testPassword); r.Status != http.StatusOK {
			t.Errorf("after Retry-After: %d %s", r.Status, r.Body)
		}

		for i := range 30 {
			if r := e.login("198.51.100.9", fmt.Sprintf("nobody%d@example.com", i), "wrong password"); r.Status != http.StatusUnauthorized {
				t.Fatalf("failure %d from one address: %d %s", i+1, r.Status, r.Body)
			}
		}
		expectRefused(t, "31st login from the address", e.login("198.51.100.9", ann.User.Email, testPassword), http.StatusTooManyRequests, "rate_limited", "2")
		e.expectMetric(2, limitRefusals, "limit", "login")
		e.expectMetric(0, limitRefusals, "limit", "register")
		if r := e.login("198.51.100.10", ann.User.Email, testPassword); r.Status != http.StatusOK {
			t.Errorf("a neighbouring address: %d %s", r.Status, r.Body)
		}
		// Successes cost nothing.
		for i := range 40 {
			if r := e.login("203.0.113.1", bo.User.Email, testPassword); r.Status != http.StatusOK {
				t.Fatalf("successful login %d: %d %s", i+1, r.Status, r.Body)
			}
		}
	})
}

func TestRegistrationsAreLimitedPerAddress(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		clock := newStepClock()
		e := newEnv(withRateLimits(clock))
		register := func(addr, email string) response {
			return e.do("POST", "/api/v1/auth/register", "", map[string]any{
				"email": email, "password": testPassword, "name": "N", "role": "customer",
			}, "X-Forwarded-For", addr)
		}
		// Refused as invalid: no cost.
		for range 5 {
			r := e.do("POST", "/api/v1/auth/register", "", map[string]any{"email": "x@example.com", "password": "short", "name": "N", "role": "customer"}, "X-Forwarded-For", "192.0.2.1")
			if r.Status != http.StatusBadRequest {
				t.Fatalf("invalid registration: %d %s", r.Status, r.Body)
			}
		}
		for i := range 10 {
			if r := register("192.0.2.1", fmt.Sprintf("r%d@example.com", i)); r.Status != http.StatusCreated {
				t.Fatalf("registration %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		expectRefused(t, "11th registration", register("192.0.2.1", "r10@example.com"), http.StatusTooManyRequests, "rate_limited", "360")
		if _, err := e.Store.UserByEmail(context.Background(), "r10@example.com"); delivery.ErrorCode(err) != delivery.ENOTFOUND {
			t.Errorf("the refused registration was stored: %v", err)
		}
		if r := register("192.0.2.2", "r10@example.com"); r.Status != http.StatusCreated {
			t.Errorf("another address: %d %s", r.Status, r.Body)
		}
		// Probing for taken emails counts too.
		for i := range 10 {
			if r := register("192.0.2.3", "r0@example.com"); r.Status != http.StatusConflict {
				t.Fatalf("probe %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		expectRefused(t, "11th probe", register("192.0.2.3", "r0@example.com"), http.StatusTooManyRequests, "rate_limited", "360")
		e.expectMetric(2, limitRefusals, "limit", "register")
		clock.Advance(6 * time.Minute)
		if r := register("192.0.2.1", "r11@example.com"); r.Status != http.StatusCreated {
			t.Errorf("after Retry-After: %d %s", r.Status, r.Body)
		}
	})
}

func TestOrderPlacementsAreLimitedPerCustomer(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		clock := newStepClock()
		e := newEnv(withRateLimits(clock))
		w := e.newWorld()
		for range 10 {
			e.place(w)
		}
		r := e.do("POST", "/api/v1/orders", w.Customer.Token, placeBody(w), "Idempotency-Key", "over-the-limit")
		expectRefused(t, "11th order", r, http.StatusTooManyRequests, "rate_limited", "1")
		e.expectMetric(1, limitRefusals, "limit", "placements")
		var list struct{ Orders []delivery.Order }
		e.must(http.StatusOK, "GET", "/api/v1/orders?limit=100", w.Customer.Token, nil).decode(t, &list)
		if len(list.Orders) != 10 {
			t.Errorf("%d orders stored, want 10: the refused one was stored", len(list.Orders))
		}
		other := w
		other.Customer = e.register(delivery.RoleCustomer)
		e.place(other)
		clock.Advance(time.Second)
		r = e.do("POST", "/api/v1/orders", w.Customer.Token, placeBody(w), "Idempotency-Key", "over-the-limit")
		if r.Status != http.StatusCreated || r.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("the refused order retried after Retry-After: %d %s (replayed %q)", r.Status, r.Body, r.Header.Get("Idempotent-Replayed"))
		}
	})
}

// newLimitedRealtimeEnv is a realtime server started by newEnv (of
// forEachStore) whose REST and websocket share one set of limits on
// clock.
func newLimitedRealtimeEnv(newEnv func(...func(*app.Config)) *testEnv, clock *stepClock) *rtEnv {
	lim := limits.New(limits.Options{Now: clock.Now})
	return &rtEnv{newEnv(func(cfg *app.Config) {
		cfg.Limits = lim
	})}
}

func TestChatIsLimitedPerUserOverRESTAndWebsocketTogether(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		clock := newStepClock()
		e := newLimitedRealtimeEnv(newEnv, clock)
		w := e.newWorld()
		o := e.place(w)
		cust, cust2, kitchen := e.dial(w.Customer), e.dial(w.Customer), e.dial(w.Restaurant)
		for i := range 5 {
			e.mustPost(o, w.Customer, "over REST", fmt.Sprintf("rest-%d", i))
			cust.ok(chatFrame(o, "over the socket", fmt.Sprintf("ws-%d", i)))
		}
		expectRefused(t, "11th message, REST", e.post(o, w.Customer, "one too many", "rest-over"), http.StatusTooManyRequests, "rate_limited", "1")
		// Another socket of the user shares the budget; it is answered with an
		// error frame and stays open.
		expectRetryHint(t, "11th message, websocket", cust2.mustFail("rate_limited", chatFrame(o, "one too many", "ws-over")), "1")
		e.expectMetric(2, limitRefusals, "limit", "chat")
		cust2.subscribe(orderChannel(o))
		// Other users are not touched.
		e.mustPost(o, w.Restaurant, "from the kitchen", "kitchen-1")
		kitchen.ok(chatFrame(o, "from the kitchen's socket", "kitchen-2"))

		page := e.history(o, w.Customer, "?limit=100")
		if len(page.Messages) != 12 {
			t.Fatalf("%d messages stored, want 12 (10 of the customer, 2 of the kitchen)", len(page.Messages))
		}
		for _, m := range page.Messages {
			if m.Text == "one too many" {
				t.Errorf("a refused message was stored: %+v", m)
			}
		}
		clock.Advance(time.Second)
		cust2.ok(chatFrame(o, "a second later", "ws-later"))
	})
}

func TestPositionsAreLimitedPerCourierOverRESTAndWebsocketTogether(t *testing.T) {
	forEachStore(t, func(t *testing.T, newEnv func(...func(*app.Config)) *testEnv) {
		clock := newStepClock()
		e := newLimitedRealtimeEnv(newEnv, clock)
		w := e.newWorld()
		o := e.claimed(w)
		cour := e.dial(w.Courier)
		// Taken after the assignment (a second ahead, within the skew allowed),
		// each later than the one before.
		ts := time.Now().Add(time.Second).UnixMilli()
		next := func() int64 { ts++; return ts }
		rest := func(p party, lat float64) response {
			return e.do("POST", "/api/v1/couriers/me/location", p.Token, map[string]any{"lat": lat, "lng": 2, "ts": next()})
		}
		for i := range 3 {
			if r := rest(w.Courier, 10+float64(i)); r.Status != http.StatusAccepted {
				t.Fatalf("position %d: %d %s", i+1, r.Status, r.Body)
			}
		}
		cour.ok(locationFrame(13, 2, next()))
		cour.ok(locationFrame(14, 2, next()))
		expectRefused(t, "6th position, REST", rest(w.Courier, 50), http.StatusTooManyRequests, "rate_limited", "1")
		expectRetryHint(t, "6th position, websocket", cour.mustFail("rate_limited", locationFrame(51, 2, next())), "1")
		e.expectMetric(2, limitRefusals, "limit", "positions")
		cour.subscribe(orderChannel(o)) // the connection stays

		var got struct{ Location *delivery.Location }
		e.must(http.StatusOK, "GET", orderPath(o.ID)+"/location", w.Customer.Token, nil).decode(t, &got)
		if got.Location == nil || got.Location.Lat != 14 {
			t.Errorf("last position %+v, want lat 14: a refused one was stored", got.Location)
		}
		// Another courier is not touched.
		if r := rest(w.Courier2, 60); r.Status != http.StatusAccepted {
			t.Errorf("another courier: %d %s", r.Status, r.Body)
		}
		clock.Advance(time.Second)
		if r := rest(w.Courier, 15); r.Status != http.StatusAccepted {
			t.Errorf("a second later: %d %s", r.Status, r.Body)
		}
	})
}

// dialWS opens a socket for token and returns it, or the refused
// handshake's response (its body read into the returned response).
func (e *rtEnv) dialWS(token string) (*websocket.Conn, response) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, e.wsURL()+"?access_token="+token, nil)
	if err == nil {
		e.t.Cleanup(func() { _ = conn.CloseNow() })
		return conn, response{Status: http.StatusSwitchingProtocols}
	}
	if resp == nil {
		e.t.Fatalf("dial: %v", err)
	}
	return nil, readResponse(e.t, resp)
}

func readResponse(t testing.TB, resp *http.Response) response {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// waitAdmitted retries a handshake until it is admitted: a closed
// socket's place comes back once the server has seen it close.
func (e *rtEnv) waitAdmitted(t *testing.T, token string) {
	t.Helper()
	waitFor(t, "a freed socket place", func() bool {
		conn, r := e.dialWS(token)
		if conn != nil {
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return true
		}
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("handshake: %d %s", r.Status, r.Body)
		}
		return false
	})
}

func TestSocketsPerUserAreCapped(t *testing.T) {
	e := newRealtimeEnv(t, func(cfg *app.Config) {
		cfg.Conns = limits.NewConns(limits.ConnsConfig{PerUser: 3, Max: 100})
	})
	ann, bo := e.register(delivery.RoleCustomer), e.register(delivery.RoleCustomer)
	socks := []*wsClient{e.dial(ann), e.dial(ann), e.dial(ann)}
	conn, r := e.dialWS(ann.Token)
	if conn != nil {
		t.Fatal("a fourth socket of one user was upgraded")
	}
	expectRefused(t, "4th socket", r, http.StatusTooManyRequests, "too_many_connections", "5")
	e.expectMetric(1, refusals, "transport", "websocket", "reason", "too_many_connections")
	e.expectMetric(1, limitRefusals, "limit", "conns_per_user")
	e.dial(bo)                // another user
	for _, s := range socks { // the user's sockets are not touched
		s.subscribe(wire.UserChannel(ann.User.ID))
	}
	_ = socks[2].conn.Close(websocket.StatusNormalClosure, "")
	e.waitAdmitted(t, ann.Token)
}

func TestSocketsPerInstanceAreCapped(t *testing.T) {
	e := newRealtimeEnv(t, func(cfg *app.Config) {
		cfg.Conns = limits.NewConns(limits.ConnsConfig{Max: 2})
	})
	ann, bo, cy := e.register(delivery.RoleCustomer), e.register(delivery.RoleCustomer), e.register(delivery.RoleCustomer)
	first := e.dial(ann)
	e.dial(bo)
	conn, r := e.dialWS(cy.Token)
	if conn != nil {
		t.Fatal("a third socket on a full instance was upgraded")
	}
	expectRefused(t, "3rd socket", r, http.StatusServiceUnavailable, "unavailable", "5")
	e.expectMetric(1, refusals, "transport", "websocket", "reason", "unavailable")
	e.expectMetric(1, limitRefusals, "limit", "conns_instance")
	first.subscribe(wire.UserChannel(ann.User.ID))
	_ = first.conn.Close(websocket.StatusNormalClosure, "")
	waitFor(t, "a freed place on the instance", func() bool {
		conn, _ := e.dialWS(cy.Token)
		if conn != nil {
			_ = conn.Close(websocket.StatusNormalClosure, "")
		}
		return conn != nil
	})
}

// The per-user cap holds across instances through Redis: the sockets on
// both count, and a socket closed on one frees a place on the other.
func TestSocketsPerUserAreCappedAcrossInstances(t *testing.T) {
	c := newCluster(t, 2)
	withConns := func(cfg *app.Config) {
		rdb := redistest.Client(t, c.url)
		cfg.Conns = limits.NewConns(limits.ConnsConfig{
			PerUser: 3,
			Shared:  limits.NewShared(rdb, limits.SharedOptions{Prefix: c.prefix}),
			Log:     cfg.Log,
		})
		t.Cleanup(cfg.Conns.Close) // after the hub's shutdown, before rdb closes
	}
	a, b := c.start(0, instanceOpts{edit: withConns}), c.start(1, instanceOpts{edit: withConns})
	ann, bo := a.register(delivery.RoleCustomer), a.register(delivery.RoleCustomer)
	onA := []*wsClient{a.dial(ann), a.dial(ann)}
	b.dial(ann)
	for name, inst := range map[string]*instance{"a": a, "b": b} {
		conn, r := inst.dialWS(ann.Token)
		if conn != nil {
			t.Fatalf("a fourth socket of one user was upgraded on %s", name)
		}
		expectRefused(t, "4th socket on "+name, r, http.StatusTooManyRequests, "too_many_connections", "5")
	}
	b.dial(bo) // another user
	onA[0].subscribe(wire.UserChannel(ann.User.ID))
	_ = onA[1].conn.Close(websocket.StatusNormalClosure, "")
	b.waitAdmitted(t, ann.Token)
}

// A login or registration waits for a password hashing slot at most 5 s,
// then is refused with 503; the test holds the gate's one slot and fires
// the wait's timer itself.
func TestPasswordHashingWaitsAtMostFiveSeconds(t *testing.T) {
	timers := make(chan chan time.Time, 1)
	gate := limits.NewGate(limits.GateConfig{Slots: 1, After: func(d time.Duration) (<-chan time.Time, func()) {
		if d != 5*time.Second {
			t.Errorf("wait %v, want 5s", d)
		}
		c := make(chan time.Time, 1)
		timers <- c
		return c, func() {}
	}})
	e := newTestEnv(t, func(cfg *app.Config) { cfg.HashGate = gate })
	ann := e.register(delivery.RoleCustomer)

	held, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gate.Do(context.Background(), func() { close(held); <-release })
	}()
	<-held
	answers := make(chan response, 2)
	go func() { answers <- e.login("", ann.User.Email, testPassword) }()
	(<-timers) <- time.Now() // its 5 s are up
	expectRefused(t, "login with every slot taken", <-answers, http.StatusServiceUnavailable, "unavailable", "5")
	go func() {
		answers <- e.do("POST", "/api/v1/auth/register", "", map[string]any{
			"email": "late@example.com", "password": testPassword, "name": "N", "role": "customer",
		})
	}()
	(<-timers) <- time.Now()
	expectRefused(t, "registration with every slot taken", <-answers, http.StatusServiceUnavailable, "unavailable", "5")
	e.expectMetric(2, limitRefusals, "limit", "hashing")
	if _, err := e.Store.UserByEmail(context.Background(), "late@example.com"); delivery.ErrorCode(err) != delivery.ENOTFOUND {
		t.Errorf("the refused registration was stored: %v", err)
	}
	e.must(http.StatusOK, "GET", "/api/v1/restaurants", "", nil) // the rest of the API is not held up
	close(release)
	<-done
	e.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]any{"email": ann.User.Email, "password": testPassword})
}
