package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// shortTokens issues tokens the server accepts, living 2 s.
func shortTokens() *auth.Tokens {
	return auth.NewTokens(testSecret, "ordercast", "ordercast-api", 2*time.Second)
}

func TestWSTokenExpiryCloses4001(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{SweepInterval: 50 * time.Millisecond}))
	p := e.register(delivery.RoleCustomer)
	tok, exp, err := shortTokens().Issue(p.User, testSessionID)
	if err != nil {
		t.Fatal(err)
	}
	c := e.dialPaused(p.User.Email, tok)
	c.start()
	if code := c.closeCode(); code != wire.CloseTokenExpired {
		t.Fatalf("close code %d, want 4001", code)
	}
	if now := time.Now(); now.Before(exp) {
		t.Errorf("closed %v before the token's exp", exp.Sub(now))
	}
	if st := e.Hub.Stats(); st.Expired != 1 {
		t.Errorf("expired: %d", st.Expired)
	}
}

func TestWSAuthFrameExtendsTheConnection(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{SweepInterval: 50 * time.Millisecond}))
	w := e.newWorld()
	short := shortTokens()
	tok, exp, err := short.Issue(w.Customer.User, testSessionID)
	if err != nil {
		t.Fatal(err)
	}
	c := e.dialPaused(w.Customer.User.Email, tok)
	c.start()
	// A second connection on the same token, never refreshed: its 4001
	// shows that the sweep past exp has run.
	control := e.dialPaused(w.Customer.User.Email, tok)
	control.start()
	c.mustFail(wire.CodeUnauthorized, map[string]any{"type": "auth", "token": "not-a-token"})
	fresh, _, err := e.Tokens.Issue(w.Customer.User, testSessionID) // a minute
	if err != nil {
		t.Fatal(err)
	}
	if a := c.request(map[string]any{"type": "auth", "token": fresh}); a.Type != "ack" {
		t.Fatalf("auth: %+v", a)
	}
	if code := control.closeCode(); code != wire.CloseTokenExpired {
		t.Fatalf("control connection closed with %d, want 4001", code)
	}
	if time.Now().Before(exp) {
		t.Fatalf("closed before the token's exp %v", exp)
	}
	o := e.place(w)
	c.subscribe(wire.OrderChannel(o.ID), 0) // still open, still serving
	c.waitEvents(wire.OrderChannel(o.ID), 1)

	// A token of someone else is refused and ends the connection.
	d := e.dial(w.Courier)
	other, _, _ := e.Tokens.Issue(w.Customer.User, testSessionID)
	d.send(map[string]any{"type": "auth", "id": "x", "token": other})
	d.waitUntil("forbidden", func(fs []frame) bool {
		return answerOf(fs, `"x"`) != nil && answerOf(fs, `"x"`).Code == wire.CodeForbidden
	})
	if code := d.closeCode(); code != wire.CloseForbidden {
		t.Errorf("close code %d, want 4003", code)
	}
}

func TestWSGracefulShutdown1012(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	clients := []*wsClient{e.dial(w.Customer), e.dial(w.Restaurant), e.dial(w.Courier)}
	clients[2].subscribe(wire.DispatchChannel)
	// A socket the hub had not started yet would get its 1012 uncounted.
	e.waitStat("three connections", func(s hub.Stats) bool { return s.Connections == 3 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Hub.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	for _, c := range clients {
		if code := c.closeCode(); code != wire.CloseRestart {
			t.Errorf("%s: close code %d, want 1012", c.name, code)
		}
	}
	if st := e.Hub.Stats(); st.Connections != 0 || st.Subscriptions != 0 {
		t.Errorf("after shutdown: %+v", st)
	}
	// New upgrades are refused while the server drains.
	if status, code := e.handshake("?access_token="+w.Customer.Token, nil); status != http.StatusServiceUnavailable || code != "unavailable" {
		t.Errorf("upgrade after shutdown: %d %s", status, code)
	}
	e.expectMetric(3, connsClosed, "transport", "websocket", "code", "1012")
	e.expectMetric(1, refusals, "transport", "websocket", "reason", "closing")
}

// TestWSShutdownCutsUnresponsiveClients: a client that never answers the
// close handshake does not hold Shutdown beyond its context.
func TestWSShutdownCutsUnresponsiveClients(t *testing.T) {
	e := newRealtimeEnv(t)
	p := e.register(delivery.RoleCustomer)
	e.dialPaused(p.User.Email, p.Token) // never reads: never answers
	e.waitStat("connection", func(s hub.Stats) bool { return s.Connections == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := e.Hub.Shutdown(ctx); err != context.DeadlineExceeded {
		t.Errorf("shutdown: %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("shutdown took %v", d)
	}
	if st := e.Hub.Stats(); st.Connections != 0 {
		t.Errorf("after shutdown: %+v", st)
	}
}

// TestWSPingsKeepLiveClientsAndDropDeadOnes: with a short read timeout a
// client that answers pings (its library does, while it reads) stays for
// many timeouts; one that does not read is dropped.
func TestWSPingsKeepLiveClientsAndDropDeadOnes(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{
		// A timeout of ten ping intervals: the live client's pongs are
		// late only when the machine stalls it for half a second.
		PingInterval: 50 * time.Millisecond, ReadTimeout: 500 * time.Millisecond, SweepInterval: 20 * time.Millisecond,
	}))
	w := e.newWorld()
	pings := make(chan struct{}, 100)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, e.wsURL()+"?access_token="+w.Customer.Token, &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool {
			select {
			case pings <- struct{}{}:
			default:
			}
			return true
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	live := &wsClient{t: t, name: "live", conn: conn, notify: make(chan struct{}, 1), done: make(chan struct{})}
	live.start()
	t.Cleanup(func() { _ = conn.CloseNow(); <-live.done })
	dead := e.dialPaused(w.Restaurant.User.Email, w.Restaurant.Token)
	e.waitStat("two connections", func(s hub.Stats) bool { return s.Connections == 2 })
	e.waitStat("dead peer dropped", func(s hub.Stats) bool { return s.Connections == 1 })
	for i := 0; i < 25; i++ { // 25 pings: 2.5 read timeouts
		select {
		case <-pings:
		case <-time.After(waitTimeout):
			t.Fatal("no ping")
		}
	}
	live.subscribe(wire.UserChannel(w.Customer.User.ID))
	if st := e.Hub.Stats(); st.Connections != 1 {
		t.Errorf("live client dropped: %+v", st)
	}
	if l := e.closedLine(dead.requestID); l.CloseCode != 1006 || l.Reason != "read_timeout" {
		t.Errorf("dead peer's closed line %+v, want 1006 read_timeout", l)
	}
}
