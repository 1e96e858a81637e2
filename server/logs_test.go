package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// logLine is a line of the instance's JSON log, the fields the tests
// read.
type logLine struct {
	Level     string   `json:"level"`
	Message   string   `json:"message"`
	RequestID string   `json:"request_id"`
	ConnID    string   `json:"conn_id"`
	UserID    string   `json:"user_id"`
	Role      string   `json:"role"`
	Transport string   `json:"transport"`
	CloseCode int      `json:"close_code"`
	Reason    string   `json:"reason"`
	FramesIn  *int     `json:"frames_in"`
	FramesOut *int     `json:"frames_out"`
	Duration  *float64 `json:"duration_ms"`
	Path      string   `json:"path"`
	Status    int      `json:"status"`
}

// logLines parses the log written so far.
func (e *testEnv) logLines() []logLine {
	e.t.Helper()
	var lines []logLine
	sc := bufio.NewScanner(strings.NewReader(e.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			e.t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

// closedLine waits for the connection closed line of the connection
// whose handshake had requestID, and checks that it names the same
// connection as the handshake's request line.
func (e *testEnv) closedLine(requestID string) logLine {
	e.t.Helper()
	if requestID == "" {
		e.t.Fatal("the handshake's answer carried no X-Request-ID")
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		var request, closed []logLine
		for _, l := range e.logLines() {
			switch {
			case l.RequestID != requestID:
			case l.Message == "request":
				request = append(request, l)
			case l.Message == "connection closed":
				closed = append(closed, l)
			}
		}
		if len(closed) > 0 {
			if len(closed) != 1 || len(request) != 1 {
				e.t.Fatalf("request %s: %d request lines and %d closed lines, want one each", requestID, len(request), len(closed))
			}
			c := closed[0]
			// A viewer (a tracking link's) has no user: neither line names one.
			if c.UserID != request[0].UserID || (c.UserID == "") != (c.Role == string(delivery.RoleViewer)) || len(c.ConnID) != 16 || c.Level != "info" ||
				c.FramesIn == nil || c.FramesOut == nil || c.Duration == nil || *c.Duration <= 0 {
				e.t.Fatalf("closed line %+v of request line %+v", c, request[0])
			}
			return c
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no connection closed line for request %s within %v:\n%s", requestID, waitTimeout, e.logs.String())
		}
		time.Sleep(5 * time.Millisecond) // poll interval of a bounded wait
	}
}

// checkClosed fails unless l says code and reason, with the frame counts.
func checkClosed(t *testing.T, name string, l logLine, transport string, role delivery.Role, code int, reason string, in, out int) {
	t.Helper()
	if l.Transport != transport || l.Role != string(role) || l.CloseCode != code || l.Reason != reason || *l.FramesIn != in || *l.FramesOut != out {
		t.Errorf("%s: closed %s %s %d %s, frames in %d out %d; want %s %s %d %s, frames in %d out %d",
			name, l.Transport, l.Role, l.CloseCode, l.Reason, *l.FramesIn, *l.FramesOut, transport, role, code, reason, in, out)
	}
}

// Each socket and stream ends with one line that names it as its
// handshake's request line does and says how it ended: closed by the
// client (its code, never its text), over the frame limit, by a logout
// (the hub's reason), a stream the client went away from, a frame the
// websocket library refused, a stream's peer that wrote to it.
func TestEveryConnectionEndsWithOneClosedLine(t *testing.T) {
	e := newRealtimeEnv(t)

	t.Run("client closes", func(t *testing.T) {
		p := e.register(delivery.RoleCustomer)
		ws := e.dial(p)
		ws.subscribe("user:" + p.User.ID.String()) // held already: acked
		e.barrier(ws)
		const secretText = "closing text no log may hold"
		if err := ws.conn.Close(websocket.StatusNormalClosure, secretText); err != nil {
			t.Fatal(err)
		}
		l := e.closedLine(ws.requestID)
		checkClosed(t, "client close", l, "ws", delivery.RoleCustomer, 1000, "peer_closed", 1, len(ws.received()))
		if strings.Contains(e.logs.String(), secretText) {
			t.Error("the client's close text is in the log")
		}
	})

	t.Run("frame over the limit", func(t *testing.T) {
		p := e.register(delivery.RoleCourier)
		ws := e.dial(p)
		ws.send(strings.Repeat("x", 17<<10))
		if code := ws.closeCode(); code != websocket.StatusMessageTooBig {
			t.Fatalf("closed %d, want 1009", code)
		}
		checkClosed(t, "over the limit", e.closedLine(ws.requestID), "ws", delivery.RoleCourier, 1009, "too_big", 0, 0)
	})

	t.Run("logout", func(t *testing.T) {
		p := e.register(delivery.RoleCustomer)
		ws := e.dial(p)
		e.barrier(ws)
		e.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", p.Token, nil)
		if code := ws.closeCode(); code != 4001 {
			t.Fatalf("closed %d, want 4001", code)
		}
		checkClosed(t, "logout", e.closedLine(ws.requestID), "ws", delivery.RoleCustomer, 4001, "session_ended", 0, len(ws.received()))
	})

	t.Run("tracking link deleted", func(t *testing.T) {
		w := e.newWorld()
		o := e.claimed(w)
		l := e.share(o, w)
		ws := e.dialViewer(l)
		ws.subscribe(wire.TrackChannel(o.ID))
		e.track(l.Token)
		e.do("GET", "/t/"+l.Token, "", nil)
		e.do("GET", "/api/v1/track/"+l.Token+"/more", "", nil) // no route: logged all the same
		// Routing ignores case; unmatched paths are logged as well.
		e.do("GET", "/T/"+l.Token, "", nil)
		e.do("GET", "/API/V1/Track/"+l.Token, "", nil)
		e.do("GET", "//t/"+l.Token, "", nil)
		e.do("GET", "/a%70i/v1/track/"+l.Token, "", nil)
		e.unshare(o, w, l)
		if code := ws.closeCode(); code != 4001 {
			t.Fatalf("closed %d, want 4001", code)
		}
		checkClosed(t, "tracking link deleted", e.closedLine(ws.requestID), "ws", delivery.RoleViewer, 4001, "session_ended", 1, len(ws.received()))
		var paths []string
		for _, line := range e.logLines() {
			if line.Message == "request" && strings.HasSuffix(line.Path, "{token}") {
				paths = append(paths, line.Path)
			}
		}
		if want := []string{"/api/v1/track/{token}", "/t/{token}", "/api/v1/track/{token}", "/t/{token}", "/api/v1/track/{token}", "/t/{token}", "/api/v1/track/{token}"}; !slices.Equal(paths, want) {
			t.Errorf("request lines of the token's paths name %q, want %q", paths, want)
		}
		if strings.Contains(e.logs.String(), l.Token) {
			t.Error("a tracking token is in the log")
		}
	})

	t.Run("stream logout", func(t *testing.T) {
		p := e.register(delivery.RoleRestaurant)
		st := e.openSSE(p, "channels=restaurant:"+p.User.RestaurantID.String())
		e.barrierOf(st)
		e.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", p.Token, nil)
		if cl := st.closed(); cl.Code != 4001 {
			t.Fatalf("closed %+v, want 4001", cl)
		}
		checkClosed(t, "stream logout", e.closedLine(st.resp.Header.Get("X-Request-ID")), "sse", delivery.RoleRestaurant, 4001, "session_ended", 0, len(st.received()))
	})

	t.Run("stream cut", func(t *testing.T) {
		p := e.register(delivery.RoleCourier)
		st := e.openSSE(p, "channels=dispatch")
		e.barrierOf(st)
		st.cut()
		checkClosed(t, "stream cut", e.closedLine(st.resp.Header.Get("X-Request-ID")), "sse", delivery.RoleCourier, 1006, "peer_gone", 0, len(st.received()))
	})

	// Raw clients: a websocket frame with a reserved bit set, which the
	// library refuses (1002), and a stream's peer that writes.
	raw := func(p party, path, requestID, headers string) (net.Conn, *bufio.Reader) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		_ = conn.SetDeadline(time.Now().Add(waitTimeout))
		if _, err := fmt.Fprintf(conn, "GET %s?access_token=%s HTTP/1.1\r\nHost: x\r\nX-Request-ID: %s\r\n%s\r\n", path, p.Token, requestID, headers); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.Header.Get("X-Request-ID") != requestID {
			t.Fatalf("%s: %v %v", path, err, resp)
		}
		return conn, br
	}
	t.Run("reserved bit", func(t *testing.T) {
		p := e.register(delivery.RoleCustomer)
		conn, _ := raw(p, "/ws", "reserved-bit", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
		rsv2 := clientFrame("hi")
		rsv2[0] |= 0x20
		if _, err := conn.Write(rsv2); err != nil {
			t.Fatal(err)
		}
		checkClosed(t, "reserved bit", e.closedLine("reserved-bit"), "ws", delivery.RoleCustomer, 1002, "protocol_error", 0, 0)
	})
	t.Run("stream peer writes", func(t *testing.T) {
		p := e.register(delivery.RoleCourier)
		conn, _ := raw(p, "/sse", "stream-peer-writes", "")
		if _, err := conn.Write([]byte("hello\n")); err != nil {
			t.Fatal(err)
		}
		checkClosed(t, "stream peer writes", e.closedLine("stream-peer-writes"), "sse", delivery.RoleCourier, 1006, "peer_sent_data", 0, 0)
	})

	t.Run("handshake failing in the hub", func(t *testing.T) {
		p := e.register(delivery.RoleCustomer)
		conn, _ := raw(p, "/ws", "no-key", "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n")
		_ = conn.Close()
		deadline := time.Now().Add(waitTimeout)
		for !slices.ContainsFunc(e.logLines(), func(l logLine) bool {
			return l.Message == "websocket handshake" && l.Level == "warn" && l.RequestID == "no-key" && l.UserID == p.User.ID.String()
		}) {
			if time.Now().After(deadline) {
				t.Fatalf("no websocket handshake warning with the request's id and user:\n%s", e.logs.String())
			}
			time.Sleep(5 * time.Millisecond) // poll interval of a bounded wait
		}
		if slices.ContainsFunc(e.logLines(), func(l logLine) bool { return l.Message == "connection closed" && l.RequestID == "no-key" }) {
			t.Error("a socket that never opened has a closed line")
		}
	})

	t.Run("caller's request id", func(t *testing.T) {
		p := e.register(delivery.RoleCustomer)
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		conn, resp, err := websocket.Dial(ctx, e.wsURL()+"?access_token="+p.Token, &websocket.DialOptions{HTTPHeader: http.Header{"X-Request-ID": {"caller-chosen-id"}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("X-Request-ID"); got != "caller-chosen-id" {
			t.Errorf("101 echoed X-Request-ID %q", got)
		}
		_ = conn.Close(websocket.StatusGoingAway, "")
		checkClosed(t, "caller's id", e.closedLine("caller-chosen-id"), "ws", delivery.RoleCustomer, 1001, "peer_closed", 0, 0)
	})
}

// TestRequestIDs: a request without a plain X-Request-ID of its own is
// given one, 16 hex digits, never the same twice; a plain one is echoed.
func TestRequestIDs(t *testing.T) {
	e := newTestEnv(t)
	seen := map[string]bool{}
	for _, h := range [][]string{nil, nil, {"X-Request-ID", "has space"}, {"X-Request-ID", strings.Repeat("a", 65)}} {
		id := e.must(http.StatusOK, "GET", "/healthz", "", nil, h...).Header.Get("X-Request-ID")
		if len(id) != 16 || strings.Trim(id, "0123456789abcdef") != "" || seen[id] {
			t.Fatalf("request %d (%q) got id %q; made before: %v", len(seen), h, id, seen)
		}
		seen[id] = true
	}
	if id := e.must(http.StatusOK, "GET", "/healthz", "", nil, "X-Request-ID", "caller-1").Header.Get("X-Request-ID"); id != "caller-1" {
		t.Fatalf("caller's id came back as %q", id)
	}
}
