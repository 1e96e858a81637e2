package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// handshake dials /ws and returns the HTTP status of a refused handshake
// (101 when it succeeded) and the error code of its JSON body.
func (e *rtEnv) handshake(query string, header http.Header) (int, string) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, e.wsURL()+query, &websocket.DialOptions{HTTPHeader: header})
	if err == nil {
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return http.StatusSwitchingProtocols, ""
	}
	if resp == nil {
		e.t.Fatalf("dial: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	var eb struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(body, &eb) != nil || eb.Error.Code == "" || eb.Error.Message == "" {
		e.t.Fatalf("refused handshake %d without the error shape: %q", resp.StatusCode, body)
	}
	return resp.StatusCode, eb.Error.Code
}

func TestWSHandshakeAuth(t *testing.T) {
	e := newRealtimeEnv(t)
	p := e.register(delivery.RoleCustomer)
	other := auth.NewTokens([]byte("another-secret-another-secret-0123456"), "ordercast", "ordercast-api", time.Minute)
	forged, _, _ := other.Issue(p.User, testSessionID)

	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	cases := []struct {
		name   string
		query  string
		header http.Header
		status int
		code   string
	}{
		{"query token", "?access_token=" + p.Token, nil, 101, ""},
		{"bearer header", "", bearer(p.Token), 101, ""},
		{"no token", "", nil, 401, "unauthorized"},
		{"empty query token", "?access_token=", nil, 401, "unauthorized"},
		{"garbage token", "?access_token=abc.def.ghi", nil, 401, "unauthorized"},
		{"wrong key", "?access_token=" + forged, nil, 401, "unauthorized"},
		{"refresh token is no access token", "?access_token=" + p.RefreshToken, nil, 401, "unauthorized"},
		{"expired token", "?access_token=" + expiredToken(t, p.User), nil, 401, "unauthorized"},
		{"same origin", "?access_token=" + p.Token, http.Header{"Origin": {e.URL}}, 101, ""},
		{"foreign origin", "?access_token=" + p.Token, http.Header{"Origin": {"https://evil.example"}}, 403, "forbidden"},
	}
	for _, c := range cases {
		if status, code := e.handshake(c.query, c.header); status != c.status || code != c.code {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, code, c.status, c.code)
		}
	}
	e.expectMetric(6, refusals, "transport", "websocket", "reason", "unauthorized")
	e.expectMetric(1, refusals, "transport", "websocket", "reason", "origin")
	// The test's own closes are normal ones, once the hub saw them.
	e.waitMetric(3, connsClosed, "transport", "websocket", "code", "1000")
	e.expectMetric(3, connsOpened, "transport", "websocket")
}

func TestWSHandshakeNotUpgrade(t *testing.T) {
	e := newRealtimeEnv(t)
	p := e.register(delivery.RoleCustomer)
	r := e.do("GET", "/ws?access_token="+p.Token, "", nil)
	if r.Status != http.StatusBadRequest || r.errorCode(t) != "invalid" {
		t.Errorf("plain GET /ws: %d %s", r.Status, r.Body)
	}
	e.expectMetric(1, refusals, "transport", "websocket", "reason", "bad_request")
}

func TestWSAllowedOrigins(t *testing.T) {
	e := newRealtimeEnv(t, func(cfg *app.Config) {
		cfg.Server.AllowedOrigins = []string{"https://app.example.com", "*.partner.example"}
	})
	p := e.register(delivery.RoleCustomer)
	for origin, want := range map[string]int{
		"https://app.example.com":      101,
		"https://APP.example.com":      101,
		"https://shop.partner.example": 101,
		"https://evil.example":         403,
		"http://app.example.com":       403,
		e.URL:                          403, // the list replaces same-origin
		"null":                         403,
	} {
		if status, _ := e.handshake("?access_token="+p.Token, http.Header{"Origin": {origin}}); status != want {
			t.Errorf("origin %s: %d, want %d", origin, status, want)
		}
	}
	star := newRealtimeEnv(t, func(cfg *app.Config) { cfg.Server.AllowedOrigins = []string{"*"} })
	q := star.register(delivery.RoleCustomer)
	if status, _ := star.handshake("?access_token="+q.Token, http.Header{"Origin": {"https://anything.example"}}); status != 101 {
		t.Errorf("origin with *: %d", status)
	}
}

// A request that passes the server's checks but not the websocket
// handshake itself (no Sec-WebSocket-Key) is refused by the library after
// the hand-over, and still counted.
func TestWSHandshakeFailingAfterTheChecksIsCounted(t *testing.T) {
	e := newRealtimeEnv(t)
	p := e.register(delivery.RoleCustomer)
	r := e.do("GET", "/ws?access_token="+p.Token, "", nil,
		"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13")
	if r.Status != http.StatusBadRequest {
		t.Errorf("upgrade without a key: %d %s, want 400", r.Status, r.Body)
	}
	e.waitMetric(1, refusals, "transport", "websocket", "reason", "handshake_failed")
	e.expectMetric(0, connsOpened, "transport", "websocket")
}
