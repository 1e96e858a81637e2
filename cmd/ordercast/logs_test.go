package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
)

// The whole program's log over a realistic session, at debug level, as
// JSON: every token, password, email, address, note, message text and
// position the session used is nowhere in it, and the lines an operator
// follows are all there: one per REST request with its request id, one
// per socket and stream closed with its handshake's request id and
// counts that match what the client sent and received, and one for the
// relay round that published an event a Redis outage left behind.
func TestLogsOfAWholeSessionHoldNothingSecret(t *testing.T) {
	redis := redistest.StartServer(t)
	logs := newNotifyingBuffer()
	base, stop := startProgramWith(t, map[string]string{
		"HUB_ADDR": "127.0.0.1:0", "DATABASE_URL": "sqlite://" + filepath.Join(t.TempDir(), "oc.db"),
		"REDIS_URL": "redis://" + redis.Addr, "LOG_LEVEL": "debug", "LOG_FORMAT": "json",
	}, logs, false)
	s := &loggedSession{t: t, base: base}

	chef := s.register("logtest-chef@example.org", "chef password 7781", "Chefname Quillfeather", "restaurant", `,"restaurant_name":"Trattoria"`)
	ann := s.register("logtest-ann@example.org", "ann password 5532", "Annabel Thistlewood", "customer", "")
	bo := s.register("logtest-bo@example.org", "bo password 9904", "Bohdan Wrenfield", "courier", "")
	ann = s.login("logtest-ann@example.org", "ann password 5532")
	ann = s.refresh(ann)
	s.secret("wrong password 4410")
	s.call("", "POST", "/auth/login", `{"email":"logtest-ann@example.org","password":"wrong password 4410"}`, http.StatusUnauthorized)
	const badToken = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI5OTkifQ.bad-logtest-signature"
	s.secret(badToken)
	s.call(badToken, "GET", "/me", "", http.StatusUnauthorized)
	s.refusedHandshake("/ws", badToken)
	s.refusedHandshake("/sse", badToken)
	s.malformedRequest(ann.access)

	// Before any order: the customer's own socket, closed by the client,
	// and the courier's stream, cut, see nothing but their answers.
	quiet := s.dial(ann, "ann-quiet")
	quiet.request(`{"type":"subscribe","id":"q1","channel":"user:` + ann.userID + `"}`) // held already: acked
	quiet.request(`{"type":"unsubscribe","id":"q2","channel":"dispatch"}`)
	quiet.closeByClient(s)
	cut := s.openStream(bo, "bo-cut", "dispatch")
	cut.cut()

	var item struct {
		ID string `json:"id"`
	}
	decode(t, s.call(chef.access, "POST", "/restaurants/"+chef.restaurantID+"/menu", `{"name":"Margherita","price_cents":1250}`, http.StatusCreated), &item)
	custWS := s.dial(ann, "ann")
	courWS := s.dial(bo, "bo")
	courWS.request(`{"type":"subscribe","id":"d1","channel":"dispatch"}`)
	chefSSE := s.openStream(chef, "chef", "restaurant:"+chef.restaurantID)

	const address, notes = "17 Marigold Crescent, Flat 9", "ring twice, the dog is called Biscuit"
	s.secret(address, notes)
	var order struct {
		ID string `json:"id"`
	}
	decode(t, s.call(ann.access, "POST", "/orders", fmt.Sprintf(`{"restaurant_id":%q,"items":[{"menu_item_id":%q,"quantity":1}],"delivery_address":%q,"notes":%q}`,
		chef.restaurantID, item.ID, address, notes), http.StatusCreated, "Idempotency-Key", "logtest-1"), &order)
	custWS.request(`{"type":"subscribe","id":"o1","channel":"order:` + order.ID + `"}`)
	s.call(chef.access, "POST", "/orders/"+order.ID+"/status", `{"status":"accepted"}`, http.StatusOK)
	courWS.waitFor(`"order.offered"`)
	s.call(bo.access, "POST", "/orders/"+order.ID+"/claim", "", http.StatusOK)
	custWS.waitFor(`"order.assigned"`)

	const restText, wsText = "the gate code is 4471", "I am at the blue door with the parcel"
	s.secret(restText, wsText)
	s.call(ann.access, "POST", "/orders/"+order.ID+"/messages", fmt.Sprintf(`{"text":%q,"client_msg_id":"logtest-m1"}`, restText), http.StatusCreated)
	courWS.request(fmt.Sprintf(`{"type":"chat","id":"c1","order_id":%q,"text":%q,"client_msg_id":"logtest-m2"}`, order.ID, wsText))
	courWS.request(fmt.Sprintf(`{"type":"typing","id":"t1","order_id":%q}`, order.ID))
	custWS.waitFor(wsText)
	s.secret("52.5200731", "13.4049542", "52.5201843", "13.4050653")
	courWS.request(fmt.Sprintf(`{"type":"location","id":"l1","lat":52.5200731,"lng":13.4049542,"ts":%d}`, time.Now().UnixMilli()))
	custWS.waitFor("52.5200731")
	s.call(bo.access, "POST", "/couriers/me/location", fmt.Sprintf(`{"lat":52.5201843,"lng":13.4050653,"ts":%d}`, time.Now().UnixMilli()), http.StatusAccepted)
	custWS.waitFor("52.5201843") // held back up to a second: nothing is pending after it

	// A commit while Redis is down is left unpublished; once Redis is
	// back, a relay round publishes it.
	redis.Stop()
	s.call(chef.access, "POST", "/orders/"+order.ID+"/status", `{"status":"preparing"}`, http.StatusOK)
	redis.Start()
	logs.waitFor(t, `"message":"relay round"`)
	custWS.waitFor(`"preparing"`)

	// Logouts close the sockets and the stream (4001), after everything
	// queued for them.
	for _, p := range []session{ann, bo, chef} {
		s.call(p.access, "POST", "/auth/logout", `{"refresh_token":"`+p.refresh+`"}`, http.StatusNoContent)
	}
	for _, c := range []*countedSocket{custWS, courWS} {
		if code := c.closed(t); code != 4001 {
			t.Errorf("%s: closed %d, want 4001", c.name, code)
		}
	}
	if code := chefSSE.closed(t); code != 4001 {
		t.Errorf("chef's stream: closed %d, want 4001", code)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	for _, secret := range s.secrets {
		if strings.Contains(out, secret) {
			t.Errorf("the log holds %q", secret)
		}
	}
	if strings.Contains(out, "access_token") {
		t.Error("the log holds a query string with an access_token")
	}
	lines := parseLogLines(t, out)
	s.checkRequestLines(lines)
	for _, c := range []connection{quiet.connection(1000, "peer_closed"), cut.connection(1006, "peer_gone"),
		custWS.connection(4001, "session_ended"), courWS.connection(4001, "session_ended"), chefSSE.connection(4001, "session_ended")} {
		checkClosedLine(t, lines, c)
	}
	relayed := false
	for _, l := range lines {
		if l.Message == "relay round" && l.Component == "outbox" && l.Events >= 1 && l.Publications >= l.Events {
			relayed = true
		}
	}
	if !relayed {
		t.Error("no relay round line with the events and publications it relayed")
	}
	if t.Failed() {
		t.Logf("the log:\n%s", out)
	}
}

// loggedSession drives the program and remembers what the log must hold
// (a line per request, by the request id the test gave it) and what it
// must not (secrets).
type loggedSession struct {
	t        *testing.T
	base     string
	n        int
	requests []loggedRequest
	secrets  []string
}

type loggedRequest struct {
	id, method, path string
	status           int
}

// session is a signed-in user.
type session struct {
	userID, restaurantID, role, access, refresh string
}

func (s *loggedSession) secret(secrets ...string) { s.secrets = append(s.secrets, secrets...) }

// nextID is a request id of the test's own.
func (s *loggedSession) nextID() string {
	s.n++
	return fmt.Sprintf("logtest-%d", s.n)
}

// call sends a REST request (path under /api/v1) that must be answered
// want, and returns the body.
func (s *loggedSession) call(token, method, path, body string, want int, header ...string) []byte {
	s.t.Helper()
	id := s.nextID()
	status, b := request(s.t, s.base, token, method, path, body, append(header, "X-Request-ID", id)...)
	if status != want {
		s.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	p, _, _ := strings.Cut("/api/v1"+path, "?")
	s.requests = append(s.requests, loggedRequest{id, method, p, status})
	return b
}

// keep takes a session answer and its tokens as secrets.
func (s *loggedSession) keep(b []byte) session {
	s.t.Helper()
	var out struct {
		User struct {
			ID           string `json:"id"`
			RestaurantID string `json:"restaurant_id"`
			Role         string `json:"role"`
		} `json:"user"`
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	decode(s.t, b, &out)
	// A log holding part of a token (its signature) leaks it too.
	parts := strings.Split(out.AccessToken, ".")
	if len(parts) != 3 {
		s.t.Fatalf("access token %q is not a JWT", out.AccessToken)
	}
	s.secret(out.AccessToken, parts[2], out.RefreshToken)
	return session{userID: out.User.ID, restaurantID: out.User.RestaurantID, role: out.User.Role, access: out.AccessToken, refresh: out.RefreshToken}
}

func (s *loggedSession) register(email, password, name, role, extra string) session {
	s.t.Helper()
	s.secret(email, password, name)
	return s.keep(s.call("", "POST", "/auth/register", fmt.Sprintf(`{"email":%q,"password":%q,"name":%q,"role":%q%s}`, email, password, name, role, extra), http.StatusCreated))
}

func (s *loggedSession) login(email, password string) session {
	s.t.Helper()
	return s.keep(s.call("", "POST", "/auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password), http.StatusOK))
}

func (s *loggedSession) refresh(p session) session {
	s.t.Helper()
	return s.keep(s.call("", "POST", "/auth/refresh", fmt.Sprintf(`{"refresh_token":%q}`, p.refresh), http.StatusOK))
}

// refusedHandshake opens path (/ws or /sse) with token in the query, which
// must be refused with 401.
func (s *loggedSession) refusedHandshake(path, token string) {
	s.t.Helper()
	id := s.nextID()
	req, err := http.NewRequest("GET", s.base+path+"?channels=dispatch&access_token="+token, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("X-Request-ID", id)
	if path == "/ws" {
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		s.t.Fatalf("%s with a bad token: %d, want 401", path, resp.StatusCode)
	}
	s.requests = append(s.requests, loggedRequest{id, "GET", path, http.StatusUnauthorized})
}

// malformedRequest sends a request that fasthttp cannot parse, a token in
// its query: fasthttp's error quotes the request, which must reach no log.
func (s *loggedSession) malformedRequest(token string) {
	s.t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), 10*time.Second)
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(conn, "GET /ws?access_token=%s HTTP/1.1\r\nHost: x\r\nthis header has no colon\r\n\r\n", token); err != nil {
		s.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		s.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		s.t.Fatalf("malformed request: %d, want 400", resp.StatusCode)
	}
}

// connection is what the closed line of a socket or stream must say.
type connection struct {
	name, requestID, userID, role, transport string
	code                                     int
	reason                                   string
	in, out                                  int
}

// countedSocket is a websocket that counts the frames it sent and keeps
// those it received.
type countedSocket struct {
	t               *testing.T
	name, requestID string
	user            session
	conn            *websocket.Conn
	sent            int

	mu       sync.Mutex
	frames   []string
	closeErr error
	notify   chan struct{}
	done     chan struct{}
}

// dial opens /ws as p, the token in the query as a browser sends it.
func (s *loggedSession) dial(p session, name string) *countedSocket {
	s.t.Helper()
	c := &countedSocket{t: s.t, name: name, requestID: s.nextID(), user: p, notify: make(chan struct{}, 1), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(s.base, "http")+"/ws?access_token="+p.access,
		&websocket.DialOptions{HTTPHeader: http.Header{"X-Request-ID": {c.requestID}}})
	if err != nil {
		s.t.Fatalf("dial %s: %v", name, err)
	}
	c.conn = conn
	s.t.Cleanup(func() { _ = conn.CloseNow() })
	s.requests = append(s.requests, loggedRequest{c.requestID, "GET", "/ws", http.StatusSwitchingProtocols})
	go func() {
		defer close(c.done)
		for {
			_, b, err := conn.Read(context.Background())
			c.mu.Lock()
			if err != nil {
				c.closeErr = err
			} else {
				c.frames = append(c.frames, string(b))
			}
			c.mu.Unlock()
			select {
			case c.notify <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	return c
}

// request sends a frame with an id and waits for its answer.
func (c *countedSocket) request(frame string) {
	c.t.Helper()
	var f struct{ ID string }
	if err := json.Unmarshal([]byte(frame), &f); err != nil || f.ID == "" {
		c.t.Fatalf("%s: request needs a frame with an id, got %s", c.name, frame)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
	c.sent++
	c.waitFor(`"id":"` + f.ID + `"`)
}

// waitFor waits until a received frame contains s.
func (c *countedSocket) waitFor(s string) {
	c.t.Helper()
	deadline := time.NewTimer(15 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for _, f := range c.frames {
			if strings.Contains(f, s) {
				c.mu.Unlock()
				return
			}
		}
		frames, err := c.frames, c.closeErr
		c.mu.Unlock()
		if err != nil {
			c.t.Fatalf("%s: socket ended (%v) before a frame with %s; got %q", c.name, err, s, frames)
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			c.t.Fatalf("%s: no frame with %s within 15s; got %q", c.name, s, frames)
		}
	}
}

// closeByClient closes the socket with 1000 and a text of the client's,
// which no log may hold.
func (c *countedSocket) closeByClient(s *loggedSession) {
	c.t.Helper()
	const text = "client close text 8812"
	s.secret(text)
	if err := c.conn.Close(websocket.StatusNormalClosure, text); err != nil {
		c.t.Fatalf("%s: close: %v", c.name, err)
	}
	<-c.done
}

// closed waits for the socket to end and returns its close code.
func (c *countedSocket) closed(t *testing.T) websocket.StatusCode {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: still open after 15s", c.name)
	}
	return websocket.CloseStatus(c.closeErr)
}

func (c *countedSocket) connection(code int, reason string) connection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return connection{c.name, c.requestID, c.user.userID, c.user.role, "ws", code, reason, c.sent, len(c.frames)}
}

// countedStream is an event stream that counts the events it received,
// the close event left out.
type countedStream struct {
	name, requestID string
	user            session
	stop            context.CancelFunc
	events          int
	closeCode       int
	done            chan struct{}
}

// openStream opens /sse?channels=channels as p, the token in the query.
func (s *loggedSession) openStream(p session, name, channels string) *countedStream {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st := &countedStream{name: name, requestID: s.nextID(), user: p, stop: cancel, done: make(chan struct{})}
	req, err := http.NewRequestWithContext(ctx, "GET", s.base+"/sse?channels="+channels+"&access_token="+p.access, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("X-Request-ID", st.requestID)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		s.t.Fatalf("open stream %s: %v %v", name, err, resp)
	}
	s.t.Cleanup(st.cut)
	s.requests = append(s.requests, loggedRequest{st.requestID, "GET", "/sse", http.StatusOK})
	go func() {
		defer close(st.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		closing := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "event: close":
				closing = true
			case closing && strings.HasPrefix(line, "data: "):
				var cl struct{ Code int }
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &cl)
				st.closeCode = cl.Code
			case strings.HasPrefix(line, "event: "):
				st.events++
			}
		}
	}()
	return st
}

// cut ends the stream from the client's side.
func (st *countedStream) cut() {
	st.stop()
	<-st.done
}

// closed waits for the stream to end and returns the code of its close
// event.
func (st *countedStream) closed(t *testing.T) int {
	t.Helper()
	select {
	case <-st.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: still open after 15s", st.name)
	}
	return st.closeCode
}

func (st *countedStream) connection(code int, reason string) connection {
	<-st.done
	return connection{st.name, st.requestID, st.user.userID, st.user.role, "sse", code, reason, 0, st.events}
}

// logLine is a line of the program's log, the fields the test reads.
type logLine struct {
	Level, Message, Component, Method, Path, Role, Transport, Reason string
	RequestID                                                        string  `json:"request_id"`
	ConnID                                                           string  `json:"conn_id"`
	UserID                                                           string  `json:"user_id"`
	Status                                                           int     `json:"status"`
	CloseCode                                                        int     `json:"close_code"`
	FramesIn                                                         int     `json:"frames_in"`
	FramesOut                                                        int     `json:"frames_out"`
	Duration                                                         float64 `json:"duration_ms"`
	Events, Publications                                             int
}

// parseLogLines parses the log, every line of which must be JSON.
func parseLogLines(t *testing.T, out string) []logLine {
	t.Helper()
	var lines []logLine
	for _, raw := range strings.Split(strings.TrimSpace(out), "\n") {
		var l logLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Errorf("log line %q is not JSON: %v", raw, err)
		}
		lines = append(lines, l)
	}
	return lines
}

// checkRequestLines finds the one request line of every request the test
// sent, by its request id.
func (s *loggedSession) checkRequestLines(lines []logLine) {
	s.t.Helper()
	for _, r := range s.requests {
		var found []logLine
		for _, l := range lines {
			if l.Message == "request" && l.RequestID == r.id {
				found = append(found, l)
			}
		}
		if len(found) != 1 || found[0].Method != r.method || found[0].Path != r.path || found[0].Status != r.status {
			s.t.Errorf("request %s %s %s (%d): request lines %+v, want one", r.id, r.method, r.path, r.status, found)
		}
	}
	for _, l := range lines {
		if l.Message == "request" && l.RequestID == "" {
			s.t.Errorf("a request line without request_id: %+v", l)
		}
	}
}

// checkClosedLine finds the one closed line of c, by its handshake's
// request id, and checks it against what the test saw.
func checkClosedLine(t *testing.T, lines []logLine, c connection) {
	t.Helper()
	var found []logLine
	for _, l := range lines {
		if l.Message == "connection closed" && l.RequestID == c.requestID {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Errorf("%s: %d connection closed lines with request id %s, want 1", c.name, len(found), c.requestID)
		return
	}
	l := found[0]
	if l.Level != "info" || l.Component != "hub" || len(l.ConnID) != 16 || l.UserID != c.userID || l.Role != c.role || l.Transport != c.transport ||
		l.CloseCode != c.code || l.Reason != c.reason || l.FramesIn != c.in || l.FramesOut != c.out || l.Duration <= 0 {
		t.Errorf("%s: closed line %+v; want user %s (%s), %s, code %d, reason %s, frames in %d, out %d",
			c.name, l, c.userID, c.role, c.transport, c.code, c.reason, c.in, c.out)
	}
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}
