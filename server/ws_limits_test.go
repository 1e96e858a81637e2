package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/metrics/metricstest"
	"github.com/ordercast/ordercast/internal/wire"
)

func withLimits(l hub.Limits) func(*app.Config) {
	return func(cfg *app.Config) { cfg.HubLimits = l }
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
	e.waitMetric(1, connsClosed, "transport", "websocket", "code", "1009")
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
	e.expectMetric(1, limitRefusals, "limit", "frames")
	e.expectMetric(1, connsOpened, "transport", "websocket")
	e.waitMetric(1, connsClosed, "transport", "websocket", "code", "4008")
	e.expectMetric(0, connsClosed, "transport", "websocket", "code", "none")
	// A client that vanishes without a close frame sends no code.
	gone := e.dial(w.Restaurant)
	gone.subscribe(rest(w)) // started: the hub counts its end
	_ = gone.conn.CloseNow()
	e.waitMetric(1, connsClosed, "transport", "websocket", "code", "none")
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

// slowOrderClients dials a restaurant that stops reading and a customer
// that reads, both subscribed to a new order's channel.
func slowOrderClients(e *rtEnv) (slow, fast *wsClient, channel string) {
	e.t.Helper()
	w := e.newWorld()
	channel = wire.OrderChannel(e.place(w).ID)
	slow = e.dialPaused(w.Restaurant.User.Email, w.Restaurant.Token)
	fast = e.dial(w.Customer)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := slow.conn.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","channel":"`+channel+`"}`)); err != nil {
		e.t.Fatal(err)
	}
	fast.subscribe(channel)
	// Two user feeds and two order subscriptions.
	e.waitStat("slow subscription", func(s hub.Stats) bool { return s.Subscriptions == 4 })
	return slow, fast, channel
}

// publishLoad publishes a 30 KiB event. Publishing never waits on a
// socket: one that waited on the paused client would wait for good.
func (e *rtEnv) publishLoad(channel string, durable bool) {
	e.t.Helper()
	e.must(http.StatusOK, "POST", "/api/v1/publish", testAPIKey, map[string]any{
		"channel": channel, "event": "test.load", "data": map[string]any{"pad": strings.Repeat("x", 30<<10)}, "durable": durable,
	})
}

// slowLimits are the hub's limits for the slow-client tests: a small
// queue, and writes that wait for the paused client as long as a test
// may take (durable publishes commit to SQLite first).
var slowLimits = hub.Limits{SendQueueFrames: 64, WriteTimeout: time.Minute}

// TestWSSlowConsumerCloses4009: a client that stops reading is closed
// with 4009 once durable events overflow its queue, while a client on the
// same channel keeps receiving everything, and publishing never waits.
func TestWSSlowConsumerCloses4009(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(slowLimits))
	slow, fast, channel := slowOrderClients(e)
	sent := 0
	for e.Hub.Stats().SlowClosed == 0 {
		if sent == 5000 {
			t.Fatalf("no 4009 after %d frames: %+v", sent, e.Hub.Stats())
		}
		e.publishLoad(channel, true)
		sent++
	}
	fast.waitEvents(channel, sent)
	fast.subscribe(channel) // and it is still up
	slow.start()            // the slow client reads at last: what was written, then 4009
	if code := slow.closeCode(); code != wire.CloseSlow {
		t.Errorf("slow client closed with %d, want 4009", code)
	}
	e.waitMetric(1, connsClosed, "transport", "websocket", "code", "4009")
	t.Logf("4009 after %d frames of 30 KiB", sent)
}

// TestWSSlowConsumerShedsEphemeral: a client that stops reading while
// non-durable publishes flood it is not closed: once its queue is full
// they are shed (and counted), and the durable events published after
// reach it, every one in order, when it reads again.
func TestWSSlowConsumerShedsEphemeral(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(slowLimits))
	slow, fast, channel := slowOrderClients(e)
	sent := 0
	for e.Hub.Stats().ShedPublishes == 0 {
		if sent == 5000 {
			t.Fatalf("nothing shed after %d frames: %+v", sent, e.Hub.Stats())
		}
		e.publishLoad(channel, false)
		sent++
	}
	const durables = 10
	for range durables {
		e.publishLoad(channel, true)
	}
	fast.waitEvents(channel, sent+durables)
	// The slow client's writer is stuck in a write (publishes were shed),
	// so the durable events wait in its queue, 10 frames or more, and at
	// most its cap of 64: so say the sweeper's samples.
	metricstest.WaitFor(t, e.URL+"/metrics", "a sampled queue of over 4 frames", func(f metricstest.Families) bool {
		h := f.Histogram(sendQueue)
		return metricstest.Above(h, 4) > 0 && metricstest.Above(h, 64) == 0
	})
	slow.start()
	var seqs []int64
	slow.waitUntil("the durable events", func([]frame) bool {
		seqs = seqs[:0]
		for _, f := range slow.events(channel) {
			if f.Seq != 0 {
				seqs = append(seqs, f.Seq)
			}
		}
		return len(seqs) >= durables
	})
	first := seqs[0]
	for i, s := range seqs {
		if s != first+int64(i) {
			t.Fatalf("durable seqs %v: not consecutive", seqs)
		}
	}
	slow.subscribe(channel) // acked: still open
	st := e.Hub.Stats()
	if st.SlowClosed != 0 {
		t.Errorf("closed: %+v", st)
	}
	if got := len(slow.events(channel)) - len(seqs); uint64(got)+st.ShedPublishes != uint64(sent) {
		t.Errorf("%d publishes received and %d shed, of %d sent", got, st.ShedPublishes, sent)
	}
	e.expectMetric(float64(st.ShedPublishes), "ordercast_hub_shed_total", "class", "publish")
	t.Logf("%d of %d publishes of 30 KiB shed", st.ShedPublishes, sent)
}
