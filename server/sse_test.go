package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	"github.com/ordercast/ordercast/internal/sessions"
	"github.com/ordercast/ordercast/internal/wire"
)

func TestSSEEveryLifecycleEventToExactlyItsParties(t *testing.T) {
	e := newRealtimeEnv(t)
	sseLifecycle(t, e, e)
}

func TestSSEResumeWithLastEventIDWhileCommitting(t *testing.T) {
	e := newRealtimeEnv(t)
	sseResume(t, e, e)
}

// sseLifecycle drives an order through its whole lifecycle over api's
// REST while its parties, and a courier who is none, hold streams on
// streams: each party gets every event of the order once, in order, on
// every channel it holds; the outsider's order channel is refused and its
// other channel stays.
func sseLifecycle(t *testing.T, api, streams *rtEnv) {
	w := api.newWorld()
	rid := w.Restaurant.User.RestaurantID
	o := api.place(w)
	order := orderChannel(o)
	fromStart := "&last_event_id=" + order + "=0"
	cust := streams.openSSE(w.Customer, "channels="+order+fromStart)
	// The header form of the token, as non-browser clients send it.
	rest := streams.openSSEAs(w.Restaurant.User.Email, "/sse?channels="+order+","+wire.RestaurantChannel(rid)+fromStart,
		"Authorization", "Bearer "+w.Restaurant.Token)
	dispatch := streams.openSSE(w.Courier, "channels=dispatch")
	outsider := streams.openSSE(w.Courier2, "channels="+order+",dispatch")
	if code := outsider.refusal(order); code != wire.CodeForbidden {
		t.Fatalf("outsider's %s refused with %q, want forbidden", order, code)
	}

	api.setStatus(200, o, w.Restaurant, delivery.StatusAccepted, "")
	dispatch.waitUntil("order.offered", func(fs []frame) bool { return hasEvent(fs, wire.EventOrderOffered) })
	api.claim(w.Courier)(o)
	cour := streams.openSSE(w.Courier, "channels="+order+fromStart) // a party now
	api.setStatus(200, o, w.Restaurant, delivery.StatusPreparing, "")
	api.setStatus(200, o, w.Restaurant, delivery.StatusReady, "")
	api.setStatus(200, o, w.Courier, delivery.StatusPickedUp, "")
	api.setStatus(200, o, w.Courier, delivery.StatusDelivered, "")

	all := seqRange(1, 7)
	parties := []*sseClient{cust, rest, cour}
	for _, c := range parties {
		c.waitEvents(order, len(all))
	}
	outsider.waitUntil("order.claimed", func(fs []frame) bool { return hasEvent(fs, wire.EventOrderClaimed) })
	for _, c := range append(parties, dispatch, outsider) {
		api.barrierOf(c)
	}
	for _, c := range parties {
		expectSeqs(t, c, order, all)
		if got, want := c.lastID(), order+"=7"; got != want {
			t.Errorf("%s: last id %q, want %q", c.name, got, want)
		}
	}
	want := []string{"order.created#1", "order.status#2", "order.assigned#3", "order.status#4", "order.status#5", "order.status#6", "order.status#7"}
	if got := eventNames(withoutETA(cust.events(order))); !slices.Equal(got, want) {
		t.Errorf("customer's events %v, want %v", got, want)
	}
	// Feeds are live from the stream's start, after the order's creation.
	expectSeqs(t, cust, wire.UserChannel(w.Customer.User.ID), seqRange(2, 7))
	expectSeqs(t, rest, wire.RestaurantChannel(rid), seqRange(2, 7))
	expectSeqs(t, outsider, order, nil)
	if got := len(outsider.events(wire.DispatchChannel)); got != 2 {
		t.Errorf("outsider's dispatch: %d events, want order.offered and order.claimed", got)
	}
	// A feed's durable events carry the cursor too; it names only order
	// channels, at what each was given so far (a feed's event may come
	// before the order channel's replay from 0 gave anything).
	cursor := regexp.MustCompile("^" + order + "=[0-7]$")
	for _, id := range cust.ids("order.status") {
		if !cursor.MatchString(id) {
			t.Errorf("id %q of an order.status, want %s={seq}", id, order)
		}
	}
	if ids := cust.ids("order.status"); len(ids) != 2*5 {
		t.Errorf("%d order.status on the order and the feed, want 10", len(ids))
	}
}

func hasEvent(frames []frame, event string) bool {
	return slices.ContainsFunc(frames, func(f frame) bool { return f.Event == event })
}

// sseResume commits events to two orders concurrently through writer's
// service while a customer keeps cutting its stream and reopening it, on
// each of streams in turn, with the last id it was given (the query
// parameter first, then the header, as browsers send it): across all its
// streams it gets every event of both orders once, in order.
func sseResume(t *testing.T, writer *rtEnv, streams ...*rtEnv) {
	w := writer.newWorld()
	orders := []delivery.Order{writer.place(w), writer.place(w)}
	const perOrder = 60
	final := int64(1 + perOrder)
	channels := orderChannel(orders[0]) + "," + orderChannel(orders[1])

	var wg sync.WaitGroup
	for _, o := range orders {
		wg.Go(func() {
			for i := range perOrder {
				if _, _, err := writer.Orders.AppendEvent(context.Background(), o.ID, "test.step", json.RawMessage(fmt.Sprint(i))); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	got := map[string][]int64{}
	done := func() bool {
		for _, o := range orders {
			if s := got[orderChannel(o)]; len(s) == 0 || s[len(s)-1] < final {
				return false
			}
		}
		return true
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cursor := orderChannel(orders[0]) + "=0," + orderChannel(orders[1]) + "=0"
	for round := 0; !done(); round++ {
		env := streams[round%len(streams)]
		var s *sseClient
		if round == 0 {
			s = env.openSSE(w.Customer, "channels="+channels+"&last_event_id="+cursor)
		} else {
			s = env.openSSE(w.Customer, "channels="+channels, "Last-Event-ID", cursor)
		}
		n := 1 + rng.IntN(15)
		s.waitUntil(fmt.Sprintf("%d more events", n), func(fs []frame) bool {
			more, complete := 0, true
			for _, o := range orders {
				ch := orderChannel(o)
				more += len(s.eventsLocked(ch))
				complete = complete && max(lastSeqOf(fs, ch), cursorSeq(cursor, ch)) >= final
			}
			return more >= n || complete
		})
		s.cut()
		for _, o := range orders {
			got[orderChannel(o)] = append(got[orderChannel(o)], seqs(s.events(orderChannel(o)))...)
		}
		cursor = s.lastID()
	}
	wg.Wait()
	for _, o := range orders {
		if s := got[orderChannel(o)]; !slices.Equal(s, seqRange(1, final)) {
			t.Errorf("%s across streams: %v, want 1..%d once each, in order", orderChannel(o), s, final)
		}
	}
	if want := fmt.Sprintf("%s=%d,%s=%d", orderChannel(orders[0]), final, orderChannel(orders[1]), final); cursor != want {
		t.Errorf("last id %q, want %q", cursor, want)
	}
}

// cursorSeq is channel's seq in a stream's id ("order:42=18,order:43=5").
func cursorSeq(cursor, channel string) int64 {
	for entry := range strings.SplitSeq(cursor, ",") {
		if name, seq, _ := strings.Cut(entry, "="); name == channel {
			n, _ := strconv.ParseInt(seq, 10, 64)
			return n
		}
	}
	return 0
}

// The data of an event is the websocket's event frame, byte for byte,
// a publish's data as the websocket has it (compacted).
func TestSSEDataIsTheWebsocketFrame(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.place(w)
	e.must(http.StatusOK, "POST", "/api/v1/publish", testAPIKey,
		`{"channel":"`+orderChannel(o)+`","event":"test.lines","durable":true,"data":{"a":`+"\n"+`[1,  2]}}`)

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, e.wsURL()+"?access_token="+w.Customer.Token, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":"1","channel":"`+orderChannel(o)+`","since":0}`)); err != nil {
		t.Fatal(err)
	}
	var frames []string
	for len(frames) < 3 { // the ack, then both events
		_, b, err := conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, string(b))
	}
	s := e.openSSE(w.Customer, "channels="+orderChannel(o)+"&last_event_id="+orderChannel(o)+"=0")
	s.waitEvents(orderChannel(o), 2)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, ev := range s.sse[:2] {
		if ev.Data != frames[i+1] {
			t.Errorf("event %d: data %q, websocket frame %q", i, ev.Data, frames[i+1])
		}
	}
}

func TestSSERefusedBeforeTheStream(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	o := e.place(w)
	tooMany := make([]string, 64)
	for i := range tooMany {
		tooMany[i] = fmt.Sprintf("order:%d", i+1)
	}
	for _, tc := range []struct {
		name, path, token string
		header            []string
		status            int
		code              string
	}{
		{"no token", "/sse?channels=" + orderChannel(o), "", nil, 401, "unauthorized"},
		{"bad token", "/sse?channels=" + orderChannel(o), "not-a-token", nil, 401, "unauthorized"},
		{"bad query token", "/sse?access_token=x.y.z", "", nil, 401, "unauthorized"},
		{"malformed channel", "/sse?channels=order:01", w.Customer.Token, nil, 400, "invalid"},
		{"empty channel", "/sse?channels=" + orderChannel(o) + ",", w.Customer.Token, nil, 400, "invalid"},
		{"too many channels", "/sse?channels=" + strings.Join(tooMany, ","), w.Customer.Token, nil, 400, "invalid"},
		{"bad cursor", "/sse?channels=" + orderChannel(o), w.Customer.Token, []string{"Last-Event-ID", "order:1=x"}, 400, "invalid"},
		{"cursor of a feed", "/sse?channels=dispatch&last_event_id=dispatch=1", w.Courier.Token, nil, 400, "invalid"},
		{"foreign origin", "/sse", w.Customer.Token, []string{"Origin", "https://evil.example"}, 403, "forbidden"},
	} {
		r := e.do("GET", tc.path, tc.token, nil, tc.header...)
		if r.Status != tc.status || r.errorCode(t) != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, r.Status, r.Body, tc.status, tc.code)
		}
	}
	// A resume ahead of the order is refused for that channel only.
	s := e.openSSE(w.Customer, "channels="+orderChannel(o)+",dispatch", "Last-Event-ID", orderChannel(o)+"=99")
	if code := s.refusal(orderChannel(o)); code != wire.CodeInvalid {
		t.Errorf("resume ahead: %s, want invalid", code)
	}
	if code := s.refusal(wire.DispatchChannel); code != wire.CodeForbidden {
		t.Errorf("a customer on dispatch: %s, want forbidden", code)
	}
	e.barrierOf(s) // the user's own feed is there
}

// A stream's token expiring ends it with the close event 4001, after
// comments kept it alive while it was quiet.
func TestSSETokenExpiryCloses4001(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{SweepInterval: 20 * time.Millisecond, StreamKeepalive: 50 * time.Millisecond}))
	sseExpiry(t, e)
	e.waitMetric(1, connsClosed, "transport", "sse", "code", "4001")
	// A client that leaves sends no code.
	w := e.newWorld()
	e.openSSE(w.Customer, "").cut()
	e.waitMetric(1, connsClosed, "transport", "sse", "code", "none")
	e.expectMetric(2, connsOpened, "transport", "sse")
}

func sseExpiry(t *testing.T, e *rtEnv) {
	p := e.register(delivery.RoleCustomer)
	tok, exp, err := shortTokens().Issue(p.User, testSessionID)
	if err != nil {
		t.Fatal(err)
	}
	s := e.openSSEAs(p.User.Email, "/sse?access_token="+tok)
	s.waitFor("a comment", func() bool { return s.comments > 0 })
	if cl := s.closed(); cl.Code != wire.CloseTokenExpired || cl.Reason == "" {
		t.Fatalf("close %+v, want 4001 with a reason", cl)
	}
	if now := time.Now(); now.Before(exp) {
		t.Errorf("closed %v before the token's exp", exp.Sub(now))
	}
}

// Streams count against the connection caps like sockets, and a shutdown
// ends them with 1012.
func TestSSECappedAndClosed1012OnShutdown(t *testing.T) {
	e := newRealtimeEnv(t, func(cfg *app.Config) {
		cfg.Conns = limits.NewConns(limits.ConnsConfig{PerUser: 1, Max: 100})
	})
	w := e.newWorld()
	s := e.openSSE(w.Customer, "")
	// The answer's headers go out before the hub holds the stream: a
	// shutdown in between closes it as one it never opened.
	e.waitStat("the stream held", func(st hub.Stats) bool { return st.Connections == 1 })
	r := e.do("GET", "/sse", w.Customer.Token, nil)
	expectRefused(t, "2nd stream", r, http.StatusTooManyRequests, "too_many_connections", "5")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := e.Hub.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if cl := s.closed(); cl.Code != wire.CloseRestart {
		t.Errorf("close %+v, want 1012", cl)
	}
	if r := e.do("GET", "/sse", w.Restaurant.Token, nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("stream during shutdown: %d", r.Status)
	}
	e.expectMetric(1, refusals, "transport", "sse", "reason", "too_many_connections")
	e.expectMetric(1, refusals, "transport", "sse", "reason", "closing")
	e.expectMetric(1, connsOpened, "transport", "sse")
	e.expectMetric(1, connsClosed, "transport", "sse", "code", "1012") // Shutdown returned: every stream is gone
}

// Two instances on one PostgreSQL and Redis: the lifecycle over one and
// the streams on the other, resumes alternating between them, a session
// ended on one closing its stream on the other, and a token expiring.
func TestSSECluster(t *testing.T) {
	c := newCluster(t, 2)
	hourly := instanceOpts{sessions: sessions.Options{Refresh: time.Hour}, edit: withLimits(hub.Limits{SweepInterval: 20 * time.Millisecond, StreamKeepalive: 50 * time.Millisecond})}
	a, b := c.start(0, hourly), c.start(1, hourly)
	sseLifecycle(t, a.rtEnv, b.rtEnv)
	sseResume(t, a.rtEnv, b.rtEnv, a.rtEnv)

	p := a.register(delivery.RoleCustomer)
	s := b.openSSE(p, "")
	a.must(http.StatusNoContent, "POST", "/api/v1/auth/logout", p.Token, nil)
	if cl := s.closed(); cl.Code != wire.CloseTokenExpired {
		t.Errorf("stream of an ended session: close %+v, want 4001", cl)
	}
	sseExpiry(t, b.rtEnv)
}
