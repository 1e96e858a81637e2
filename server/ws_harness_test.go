package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/sessions"
	"github.com/ordercast/ordercast/internal/store/sqlite"
	"github.com/ordercast/ordercast/internal/wire"
)

const testAPIKey = "test-hub-api-key"

// waitTimeout bounds every wait of the realtime tests.
const waitTimeout = 10 * time.Second

// rtEnv is a test instance seen from its realtime side.
type rtEnv struct {
	*testEnv
}

// newRealtimeEnv starts an instance on SQLite and the in-process bus;
// edit may change its Config.
func newRealtimeEnv(t testing.TB, edit ...func(*app.Config)) *rtEnv {
	t.Helper()
	return newRealtimeEnvOn(t, sqlite.OpenTest(t), edit...)
}

// newRealtimeEnvOn is newRealtimeEnv on store (instances of one
// deployment share it).
func newRealtimeEnvOn(t testing.TB, store app.Store, edit ...func(*app.Config)) *rtEnv {
	t.Helper()
	return newRealtimeEnvWith(t, store, sessions.Options{}, edit...)
}

// newRealtimeEnvWith is newRealtimeEnvOn with a list of ended sessions
// tuned by so.
func newRealtimeEnvWith(t testing.TB, store app.Store, so sessions.Options, edit ...func(*app.Config)) *rtEnv {
	t.Helper()
	return &rtEnv{newTestEnvWith(t, store, newSessionList(t, store, so), edit...)}
}

func (e *rtEnv) wsURL() string { return "ws" + strings.TrimPrefix(e.URL, "http") + "/ws" }

// frame is any server frame.
type frame struct {
	Type    string          `json:"type"`
	ID      json.RawMessage `json:"id"`
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Seq     int64           `json:"seq"`
	Data    json.RawMessage `json:"data"`
	Ts      int64           `json:"ts"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
}

// wsClient is a test client: a goroutine reads every frame into frames.
type wsClient struct {
	t    testing.TB
	name string
	conn *websocket.Conn
	// requestID is the handshake's X-Request-ID, as the 101 echoed it.
	requestID string

	mu       sync.Mutex
	frames   []frame
	closeErr error
	notify   chan struct{} // signalled on every frame and at the end
	done     chan struct{} // closed when the reader ended
	started  bool
	nextID   int
}

// dial connects with token in the query, like a browser, and starts
// reading.
func (e *rtEnv) dial(p party) *wsClient {
	e.t.Helper()
	c := e.dialPaused(p.User.Email, p.Token)
	c.start()
	return c
}

// dialPaused connects but reads nothing until start: the socket's
// buffers fill up, as with a client on a bad network.
func (e *rtEnv) dialPaused(name, token string) *wsClient {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, e.wsURL()+"?access_token="+token, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v (%v)", name, err, resp)
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{t: e.t, name: name, conn: conn, requestID: resp.Header.Get("X-Request-ID"), notify: make(chan struct{}, 1), done: make(chan struct{})}
	e.t.Cleanup(func() {
		_ = conn.CloseNow()
		if c.started {
			<-c.done
		}
	})
	return c
}

func (c *wsClient) start() {
	c.started = true
	go func() {
		defer close(c.done)
		for {
			_, b, err := c.conn.Read(context.Background())
			if err != nil {
				c.mu.Lock()
				c.closeErr = err
				c.mu.Unlock()
				c.signal()
				return
			}
			var f frame
			if err := json.Unmarshal(b, &f); err != nil {
				c.t.Errorf("%s: frame is not JSON: %s", c.name, b)
			}
			c.mu.Lock()
			c.frames = append(c.frames, f)
			c.mu.Unlock()
			c.signal()
		}
	}()
}

func (c *wsClient) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// waitUntil waits until cond holds over the frames received so far.
func (c *wsClient) waitUntil(what string, cond func([]frame) bool) []frame {
	c.t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		frames, closed := append([]frame(nil), c.frames...), c.closeErr
		c.mu.Unlock()
		if cond(frames) {
			return frames
		}
		if closed != nil {
			c.t.Fatalf("%s: connection ended (%v) before %s; got %s", c.name, closed, what, dump(frames))
		}
		select {
		case <-c.notify:
		case <-deadline.C:
			c.t.Fatalf("%s: no %s within %v; got %s", c.name, what, waitTimeout, dump(frames))
		}
	}
}

func dump(frames []frame) string {
	var b strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&b, "\n  %s %s %s %s seq=%d %s %s", f.Type, f.ID, f.Channel, f.Event, f.Seq, f.Code, f.Message)
	}
	return b.String()
}

// send writes v as one text message.
func (c *wsClient) send(v any) {
	c.t.Helper()
	b, ok := v.([]byte)
	if !ok {
		if s, isString := v.(string); isString {
			b = []byte(s)
		} else {
			var err error
			if b, err = json.Marshal(v); err != nil {
				c.t.Fatal(err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := c.conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// request sends a frame with a fresh id and returns its answer.
func (c *wsClient) request(f map[string]any) frame {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := fmt.Sprintf("r%d", c.nextID)
	c.mu.Unlock()
	f["id"] = id
	c.send(f)
	want := `"` + id + `"`
	frames := c.waitUntil("answer to "+id, func(fs []frame) bool { return answerOf(fs, want) != nil })
	return *answerOf(frames, want)
}

func answerOf(frames []frame, id string) *frame {
	for i := range frames {
		if (frames[i].Type == "ack" || frames[i].Type == "error") && string(frames[i].ID) == id {
			return &frames[i]
		}
	}
	return nil
}

// subscribe subscribes and fails the test unless acked.
func (c *wsClient) subscribe(channel string, since ...int64) {
	c.t.Helper()
	f := map[string]any{"type": "subscribe", "channel": channel}
	if len(since) > 0 {
		f["since"] = since[0]
	}
	if a := c.request(f); a.Type != "ack" {
		c.t.Fatalf("%s: subscribe %s: %s %s", c.name, channel, a.Code, a.Message)
	}
}

// subscribeLive is subscribe that returns once the subscription is live:
// the ack comes before the replay (without since, of what was committed
// since the order's seq was read), and the reader replays inline before
// it reads the next frame, whose ack (a second subscribe, harmless) comes
// after the replay ended. A test that counts replays publishes only then.
func (c *wsClient) subscribeLive(channel string, since ...int64) {
	c.t.Helper()
	c.subscribe(channel, since...)
	c.subscribe(channel)
}

// mustFail sends a frame and fails the test unless it is answered with
// an error of code; it returns the error frame.
func (c *wsClient) mustFail(code string, f map[string]any) frame {
	c.t.Helper()
	a := c.request(f)
	if a.Type != "error" || a.Code != code {
		c.t.Fatalf("%s: %v answered %s %s %s, want error %s", c.name, f, a.Type, a.Code, a.Message, code)
	}
	return a
}

// received returns a copy of every frame received so far.
func (c *wsClient) received() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]frame(nil), c.frames...)
}

// events returns the event frames received on channel, barriers left out.
func (c *wsClient) events(channel string) []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []frame
	for _, f := range c.frames {
		if f.Type == "event" && f.Channel == channel && f.Event != barrierEvent {
			out = append(out, f)
		}
	}
	return out
}

// allEvents returns every event frame but barriers.
func (c *wsClient) allEvents() []frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []frame
	for _, f := range c.frames {
		if f.Type == "event" && f.Event != barrierEvent {
			out = append(out, f)
		}
	}
	return out
}

// waitEvents waits until n events arrived on channel.
func (c *wsClient) waitEvents(channel string, n int) []frame {
	c.t.Helper()
	c.waitUntil(fmt.Sprintf("%d events on %s", n, channel), func([]frame) bool { return len(c.events(channel)) >= n })
	return c.events(channel)
}

// closeCode waits for the connection to end and returns its close code.
func (c *wsClient) closeCode() websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(waitTimeout):
		c.t.Fatalf("%s: still open after %v", c.name, waitTimeout)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return websocket.CloseStatus(c.closeErr)
}

const barrierEvent = "test.barrier"

// barrier publishes a marker to each client's own feed and waits until
// each received it. Fan-out of a commit is done before its REST call
// answers, and a socket's frames keep their order, so after the barrier a
// client holds everything published to it before: what it lacks, it was
// not sent.
func (e *rtEnv) barrier(clients ...*wsClient) {
	e.t.Helper()
	for _, c := range clients {
		e.barrierOf(c)
	}
}

// barrierOf is barrier for one client of either transport.
func (e *rtEnv) barrierOf(c subscriber) {
	e.t.Helper()
	n := time.Now().UnixNano()
	e.must(http.StatusOK, "POST", "/api/v1/publish", testAPIKey, map[string]any{
		"channel": wire.UserChannel(e.userOf(c.label())), "event": barrierEvent, "data": map[string]any{"n": n},
	})
	want := fmt.Sprintf(`{"n":%d}`, n)
	c.waitUntil("barrier", func(fs []frame) bool {
		for _, f := range fs {
			if f.Event == barrierEvent && string(f.Data) == want {
				return true
			}
		}
		return false
	})
}

func (c *wsClient) label() string { return c.name }

// userOf finds a party's id by the email the client was named after.
func (e *rtEnv) userOf(email string) delivery.ID {
	e.t.Helper()
	u, err := e.Store.UserByEmail(context.Background(), email)
	if err != nil {
		e.t.Fatalf("user %s: %v", email, err)
	}
	return u.ID
}

// seqs returns the seqs of frames.
func seqs(frames []frame) []int64 {
	out := make([]int64, 0, len(frames))
	for _, f := range frames {
		out = append(out, f.Seq)
	}
	return out
}

// withoutETA drops the order.eta frames: estimates follow the lifecycle
// at moments the clock decides (at most every 10 s, when they moved), so
// tests of the durable events and positions compare the rest; the ETA's
// own tests (eta_test.go) hold its clock still.
func withoutETA(frames []frame) []frame {
	return slices.DeleteFunc(frames, func(f frame) bool { return f.Event == delivery.EventOrderETA })
}

// eventNames returns "event#seq" for each frame.
func eventNames(frames []frame) []string {
	out := make([]string, 0, len(frames))
	for _, f := range frames {
		out = append(out, fmt.Sprintf("%s#%d", f.Event, f.Seq))
	}
	return out
}

// publishEvent publishes a committed event as its committer would (the
// order service's routing), behind the outbox's back: tests commit in the
// Store directly to publish out of order, or not at all.
func (e *rtEnv) publishEvent(o delivery.Order, ev delivery.Event) {
	e.t.Helper()
	pubs, err := orders.Route(o, ev)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.App.Publisher.Publish(context.Background(), pubs...); err != nil {
		e.t.Fatal(err)
	}
}

// publish publishes an ephemeral event to channel, as the publish API does.
func (e *rtEnv) publish(ctx context.Context, channel, event string, data []byte) error {
	return e.App.Publisher.Publish(ctx, delivery.Publication{Channel: channel, Event: event, Data: data, Ts: time.Now().UnixMilli()})
}
