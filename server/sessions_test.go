package server_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/sessions"
	"github.com/ordercast/ordercast/internal/wire"
)

// testSessionID is the sid of access tokens the tests issue themselves.
const testSessionID = "test-session"

// sessionEndDeadline is API.md's promise: the sockets of an ended session
// are closed within 2 seconds, on every instance.
const sessionEndDeadline = 2 * time.Second

// closedWithin waits at most d for c to end and returns its close code;
// it fails the test if c is still open then.
func (c *wsClient) closedWithin(d time.Duration) websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		c.t.Fatalf("%s: still open %v after its session ended", c.name, d)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return websocket.CloseStatus(c.closeErr)
}

// stillServes checks that c is open and answers frames.
func (c *wsClient) stillServes() {
	c.t.Helper()
	if a := c.request(map[string]any{"type": "unsubscribe", "channel": "order:1"}); a.Type != "ack" {
		c.t.Fatalf("%s: %+v, want an ack", c.name, a)
	}
}

// signInAgain signs p in once more: another session of the same user.
func (e *testEnv) signInAgain(p party) party {
	e.t.Helper()
	var s accounts.Session
	e.must(http.StatusOK, "POST", "/api/v1/auth/login", "", map[string]string{
		"email": p.User.Email, "password": "correct horse battery",
	}).decode(e.t, &s)
	return party{User: s.User, Token: s.AccessToken, RefreshToken: s.RefreshToken}
}

// wantEnded checks that token is refused on REST and at the handshake.
func (e *rtEnv) wantEnded(what, token string) {
	e.t.Helper()
	if r := e.do("GET", "/api/v1/me", token, nil); r.Status != 401 || r.errorCode(e.t) != "unauthorized" {
		e.t.Errorf("%s on REST: %d %s, want 401 unauthorized", what, r.Status, r.Body)
	}
	if status, code := e.handshake("?access_token="+token, nil); status != 401 || code != "unauthorized" {
		e.t.Errorf("%s at the handshake: %d %s, want 401 unauthorized", what, status, code)
	}
}

// After a logout the session's access token is refused on REST and at
// the handshake, its socket is closed with 4001 within 2 s, and another
// session of the same user keeps working, socket and all; an auth frame
// with the ended session's token is refused. On both engines.
func TestSessionLogoutEndsTokensAndSockets(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newRealtimeEnvOn(t, open(t))
			laptop := e.register(delivery.RoleCustomer)
			phone := e.signInAgain(laptop)
			sockL, sockP := e.dial(laptop), e.dial(phone)

			e.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", laptop.Token, nil)
			if code := sockL.closedWithin(sessionEndDeadline); code != wire.CloseTokenExpired {
				t.Fatalf("socket of the ended session closed with %d, want 4001", code)
			}
			e.wantEnded("token of the ended session", laptop.Token)
			if r := e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": laptop.RefreshToken}); r.Status != 401 {
				t.Errorf("refresh of the ended session: %d %s", r.Status, r.Body)
			}

			e.must(http.StatusOK, "GET", "/api/v1/me", phone.Token, nil)
			sockP.stillServes()
			sockP.mustFail(wire.CodeUnauthorized, map[string]any{"type": "auth", "token": laptop.Token})
			sockP.stillServes()
		})
	}
}

// A reused refresh token ends its session: the access tokens issued in it
// (the thief's and the owner's) are refused and its socket is closed.
func TestSessionRefreshReuseEndsSession(t *testing.T) {
	for name, open := range storeFactories() {
		t.Run(name, func(t *testing.T) {
			e := newRealtimeEnvOn(t, open(t))
			p := e.register(delivery.RoleCustomer)
			other := e.signInAgain(p)
			sock, otherSock := e.dial(p), e.dial(other)
			var next accounts.Session
			e.must(http.StatusOK, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken}).decode(t, &next)
			e.must(http.StatusOK, "GET", "/api/v1/me", next.AccessToken, nil)

			r := e.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken})
			if r.Status != 401 || r.errorCode(t) != "token_reused" {
				t.Fatalf("reuse: %d %s", r.Status, r.Body)
			}
			if code := sock.closedWithin(sessionEndDeadline); code != wire.CloseTokenExpired {
				t.Fatalf("socket closed with %d, want 4001", code)
			}
			e.wantEnded("first token of the session", p.Token)
			e.wantEnded("token of the rotated pair", next.AccessToken)
			otherSock.stillServes()
			e.must(http.StatusOK, "GET", "/api/v1/me", other.Token, nil)
		})
	}
}

// A socket takes the session of the token of its last auth frame: once
// it moved to another session of its user, the end of the first one
// leaves it open, and the end of the second closes it.
func TestSessionFollowsTheAuthFrame(t *testing.T) {
	e := newRealtimeEnv(t)
	first := e.register(delivery.RoleCustomer)
	second := e.signInAgain(first)
	sock := e.dial(first)
	if a := sock.request(map[string]any{"type": "auth", "token": second.Token}); a.Type != "ack" {
		t.Fatalf("auth: %+v", a)
	}
	e.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", first.Token, nil)
	e.wantEnded("token of the first session", first.Token)
	sock.stillServes()
	e.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", second.Token, nil)
	if code := sock.closedWithin(sessionEndDeadline); code != wire.CloseTokenExpired {
		t.Fatalf("socket closed with %d, want 4001", code)
	}
}

// A session ended in the store by another process that has no bus (as
// ordercast admin revoke without Redis) is picked up by the instance's
// periodic read: its socket is closed within 2 s, its token refused.
func TestSessionEndedInTheStoreAlone(t *testing.T) {
	e := newRealtimeEnv(t)
	p := e.register(delivery.RoleCustomer)
	other := e.register(delivery.RoleCustomer)
	sock, otherSock := e.dial(p), e.dial(other)
	sids, err := e.Store.RevokeUserSessions(t.Context(), p.User.ID, time.Now())
	if err != nil || len(sids) != 1 {
		t.Fatalf("RevokeUserSessions: %v, %v", sids, err)
	}
	if code := sock.closedWithin(sessionEndDeadline); code != wire.CloseTokenExpired {
		t.Fatalf("socket closed with %d, want 4001", code)
	}
	e.wantEnded("token of the ended session", p.Token)
	otherSock.stillServes()
}

// Tokens issued before sessions existed carry no sid: refused with 401
// (their clients refresh, and get a token of a session).
func TestTokenWithoutSessionRefused(t *testing.T) {
	e := newRealtimeEnv(t)
	p := e.register(delivery.RoleCustomer)
	claims := jwt.MapClaims{
		"sub": p.User.ID.String(), "role": string(p.User.Role), "iss": "ordercast", "aud": "ordercast-api",
		"iat": time.Now().Unix(), "exp": time.Now().Add(time.Minute).Unix(), "jti": "old",
	}
	old, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
	if err != nil {
		t.Fatal(err)
	}
	e.wantEnded("token without sid", old)
	var next accounts.Session
	e.must(http.StatusOK, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": p.RefreshToken}).decode(t, &next)
	e.must(http.StatusOK, "GET", "/api/v1/me", next.AccessToken, nil)
}

// Across two instances on one Redis: a logout on one, and a refresh token
// reused on the other, close the session's sockets on both within 2 s and
// the other instance refuses its tokens at once. The instances read the
// store only hourly here, so the news can only have come over the bus.
func TestClusterSessionEndReachesEveryInstance(t *testing.T) {
	c := newCluster(t, 2)
	hourly := instanceOpts{sessions: sessions.Options{Refresh: time.Hour}}
	a, b := c.start(0, hourly), c.start(1, hourly)
	laptop := a.register(delivery.RoleCustomer)
	phone := b.signInAgain(laptop)
	tablet := b.signInAgain(laptop)
	laptopOnA, laptopOnB := a.dial(laptop), b.dial(laptop)
	phoneOnA, tabletOnB := a.dial(phone), b.dial(tablet)

	a.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", laptop.Token, nil)
	for name, sock := range map[string]*wsClient{"on a": laptopOnA, "on b": laptopOnB} {
		if code := sock.closedWithin(sessionEndDeadline); code != wire.CloseTokenExpired {
			t.Fatalf("laptop's socket %s closed with %d, want 4001", name, code)
		}
	}
	b.wantEnded("laptop's token on b", laptop.Token)

	// The phone's refresh token, used on a, comes back on b.
	a.must(http.StatusOK, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": phone.RefreshToken})
	if r := b.do("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": phone.RefreshToken}); r.Status != 401 || r.errorCode(t) != "token_reused" {
		t.Fatalf("reuse on b: %d %s", r.Status, r.Body)
	}
	if code := phoneOnA.closedWithin(sessionEndDeadline); code != wire.CloseTokenExpired {
		t.Fatalf("phone's socket on a closed with %d, want 4001", code)
	}
	a.wantEnded("phone's token on a", phone.Token)

	tabletOnB.stillServes()
	a.must(http.StatusOK, "GET", "/api/v1/me", tablet.Token, nil)
}

// The bus channel of ended sessions is no channel of the protocol: no
// client subscribes to it, and the publish API cannot forge its news.
func TestSessionControlChannelIsInternal(t *testing.T) {
	e := newRealtimeEnv(t)
	p := e.register(delivery.RoleCustomer)
	sock := e.dial(p)
	sock.mustFail(wire.CodeInvalid, map[string]any{"type": "subscribe", "channel": sessions.ControlChannel})
	r := e.do("POST", "/api/v1/publish", testAPIKey, map[string]any{
		"channel": sessions.ControlChannel, "event": "x", "data": map[string]any{"ended": []string{"s"}},
	})
	if r.Status != http.StatusBadRequest {
		t.Fatalf("publish to %s: %d %s, want 400", sessions.ControlChannel, r.Status, r.Body)
	}
	sock.stillServes()
}
