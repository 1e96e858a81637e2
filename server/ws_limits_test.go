package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/wire"
	"github.com/ordercast/ordercast/server"
)

func withLimits(l hub.Limits) func(*hub.Config, *server.Config) {
	return func(hc *hub.Config, _ *server.Config) { hc.Limits = l }
}

// waitStat waits until cond holds over the hub's counters.
func (e *rtEnv) waitStat(what string, cond func(hub.Stats) bool) {
	e.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond(e.Hub.Stats()) {
		if time.Now().After(deadline) {
			e.t.Fatalf("no %s within %v: %+v", what, waitTimeout, e.Hub.Stats())
		}
		time.Sleep(5 * time.Millisecond) // polling a counter: no event to wait on
	}
}

func TestWSMalformedFramesKeepTheConnection(t *testing.T) {
	e := newRealtimeEnv(t)
	w := e.newWorld()
	c := e.dial(w.Customer)
	for _, tc := range []struct{ in, code string }{
		{`not json`, wire.CodeBadFrame},
		{`{"type":"subscribe",`, wire.CodeBadFrame},
		{`[{"type":"subscribe"}]`, wire.CodeBadFrame},
		{`42`, wire.CodeBadFrame},
		{`{"type":"subscribe","channel":42}`, wire.CodeInvalid},
		{`{"type":"subscribe","channel":"order:1","since":"yesterday"}`, wire.CodeInvalid},
		{`{"type":"subscribe"}`, wire.CodeInvalid},
		{`{"channel":"dispatch"}`, wire.CodeInvalid},
		{`{"type":"dance"}`, wire.CodeUnknownType},
		{`{"type":"auth"}`, wire.CodeInvalid},
		{`{"type":"chat","text":"hi","client_msg_id":"m1"}`, wire.CodeInvalid},
		{`{"type":"typing","order_id":"one"}`, wire.CodeInvalid},
		{`{"type":"read","seq":3}`, wire.CodeInvalid},
	} {
		c.send(tc.in)
		got := c.waitUntil("error for "+tc.in, func(fs []frame) bool { return len(fs) > 0 && fs[len(fs)-1].Type == "error" })
		if f := got[len(got)-1]; f.Code != tc.code || f.Message == "" || f.ID != nil {
			t.Errorf("%s: got %+v, want code %s", tc.in, f, tc.code)
		}
		c.mu.Lock()
		c.frames = nil
		c.mu.Unlock()
	}
	// With an id, the error answers it, even when another field is wrong.
	if a := c.request(map[string]any{"type": "subscribe", "channel": 7}); a.Type != "error" || a.Code != wire.CodeInvalid {
		t.Errorf("answer: %+v", a)
	}
	// A binary message is refused the same way.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageBinary, []byte(`{"type":"subscribe"}`)); err != nil {
		t.Fatal(err)
	}
	c.waitUntil("binary refused", func(fs []frame) bool {
		return len(fs) > 0 && fs[len(fs)-1].Type == "error" && fs[len(fs)-1].Code == wire.CodeBadFrame
	})
	// Still up and serving.
	o := e.place(w)
	c.subscribe(wire.OrderChannel(o.ID), 0)
	c.waitEvents(wire.OrderChannel(o.ID), 1)
}

func TestWSOversizedFrameCloses1009(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{MaxMessageBytes: 1024}))
	w := e.newWorld()
	big, other := e.dial(w.Customer), e.dial(w.Restaurant)
	big.subscribe(wire.UserChannel(w.Customer.User.ID)) // under the limit: fine
	big.send(`{"type":"subscribe","channel":"dispatch","pad":"` + strings.Repeat("x", 64<<10) + `"}`)
	if code := big.closeCode(); code != websocket.StatusMessageTooBig {
		t.Errorf("close code %d, want 1009", code)
	}
	other.subscribe(rest(w)) // others are untouched
}

func TestWSRateLimitCloses4008(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{RatePerSecond: 1, RateBurst: 5}))
	w := e.newWorld()
	c := e.dial(w.Customer)
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		err := c.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"unsubscribe","channel":"dispatch"}`))
		cancel()
		if err != nil {
			break // closed under us: expected
		}
	}
	if code := c.closeCode(); code != wire.CloseRateLimited {
		t.Errorf("close code %d, want 4008", code)
	}
	if st := e.Hub.Stats(); st.RateLimited != 1 {
		t.Errorf("rate limited: %d", st.RateLimited)
	}
}

func TestWSMaxSubscriptions(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{MaxSubscriptions: 3}))
	w := e.newWorld()
	c := e.dial(w.Restaurant) // user:{id} is the first
	c.subscribe(rest(w))
	o1, o2 := e.place(w), e.place(w)
	c.subscribe(wire.OrderChannel(o1.ID))
	c.mustFail(wire.CodeTooManySubscriptions, map[string]any{"type": "subscribe", "channel": wire.OrderChannel(o2.ID)})
	if a := c.request(map[string]any{"type": "unsubscribe", "channel": wire.OrderChannel(o1.ID)}); a.Type != "ack" {
		t.Fatalf("unsubscribe: %+v", a)
	}
	c.subscribe(wire.OrderChannel(o2.ID))
}

// TestWSSlowConsumerCloses4009: a client that stops reading is closed
// with 4009 once its queue overflows, while a client on the same channel
// keeps receiving everything, and publishing never waits.
func TestWSSlowConsumerCloses4009(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{SendQueueFrames: 64}))
	w := e.newWorld()
	slow := e.dialPaused(w.Courier.User.Email, w.Courier.Token)
	fast := e.dial(w.Courier2)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := slow.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","channel":"dispatch"}`)); err != nil {
		t.Fatal(err)
	}
	fast.subscribe(wire.DispatchChannel)
	// Two user feeds and two dispatch subscriptions.
	e.waitStat("slow subscription", func(s hub.Stats) bool { return s.Subscriptions == 4 })
	pad := strings.Repeat("x", 30<<10)
	sent := 0
	for e.Hub.Stats().SlowClosed == 0 {
		if sent == 5000 {
			t.Fatalf("no 4009 after %d frames: %+v", sent, e.Hub.Stats())
		}
		start := time.Now()
		e.must(http.StatusOK, "POST", "/api/v1/publish", testAPIKey, map[string]any{
			"channel": wire.DispatchChannel, "event": "test.load", "data": map[string]any{"pad": pad},
		})
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a publish took %v: blocked by the slow client?", d)
		}
		sent++
	}
	fast.waitEvents(wire.DispatchChannel, sent)
	fast.subscribe(wire.UserChannel(w.Courier2.User.ID)) // and it is still up
	slow.start()                                         // the slow client reads at last: what was written, then 4009
	if code := slow.closeCode(); code != wire.CloseSlow {
		t.Errorf("slow client closed with %d, want 4009", code)
	}
	t.Logf("4009 after %d frames of 30 KiB", sent)
}
