package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// gatedConn is the server's end of a loopback connection whose writes,
// once the test holds them, wait until it releases them: a client that
// stopped reading, without the kernel's buffers in between, so that the
// test knows exactly what the hub's queue holds.
type gatedConn struct {
	net.Conn
	mu      sync.Mutex
	gate    chan struct{} // nil: writes go through
	waiting chan struct{} // gets a value when a write waits at the gate
}

func (g *gatedConn) Write(p []byte) (int, error) {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case g.waiting <- struct{}{}:
		default:
		}
		<-gate
	}
	return g.Conn.Write(p)
}

// hold makes the writes from now on wait; release lets them through.
func (g *gatedConn) hold() (release func()) {
	gate := make(chan struct{})
	g.mu.Lock()
	g.gate = gate
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.gate = nil
			g.mu.Unlock()
			close(gate)
		})
	}
}

// shedEnv is a hub serving one admin (a party of every order) over a
// real websocket whose server end is gated.
type shedEnv struct {
	t     *testing.T
	h     *Hub
	store *logStore
	ws    *websocket.Conn
	gc    *gatedConn
}

const shedQueue = 16 // SendQueueFrames of these tests

func newShedEnv(t *testing.T) *shedEnv {
	t.Helper()
	store := &logStore{events: map[delivery.ID][]delivery.Event{}}
	bus := memory.New()
	cfg := testConfig(t, store, bus)
	cfg.Limits = Limits{SendQueueFrames: shedQueue}
	h := startHub(t, cfg)
	gc := &gatedConn{waiting: make(chan struct{}, 1)}
	ws := serveLoopback(t, h, adminClaims(), func(raw net.Conn) net.Conn { gc.Conn = raw; return gc }, nil)
	return &shedEnv{t: t, h: h, store: store, ws: ws, gc: gc}
}

// request sends a frame with an id and reads up to its ack.
func (e *shedEnv) request(f map[string]any) {
	e.t.Helper()
	f["id"] = "r"
	b, _ := json.Marshal(f)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	if err := e.ws.Write(ctx, websocket.MessageText, b); err != nil {
		e.t.Fatal(err)
	}
	if got := e.read(); got != "ack" {
		e.t.Fatalf("%s: got %s, want its ack", b, got)
	}
}

// read returns the next frame, named: "ack", "7" for the durable event of
// seq 7, "<event> <channel> <data>" for an ephemeral one.
func (e *shedEnv) read() string {
	e.t.Helper()
	b := readFrame(e.t, e.ws)
	var f struct {
		Type, Channel, Event string
		Seq                  int64
		Data                 json.RawMessage
	}
	if err := json.Unmarshal(b, &f); err != nil {
		e.t.Fatal(err)
	}
	switch {
	case f.Type != "event":
		return f.Type
	case f.Seq != 0:
		return fmt.Sprint(f.Seq)
	}
	return f.Event + " " + f.Channel + " " + string(f.Data)
}

// stall holds the socket's writes and gets the writer stuck in one, with
// the frame "test.first" on dispatch: the hub's queue is empty then, and
// fills with whatever comes next. release lets the writes through.
func (e *shedEnv) stall() (release func()) {
	e.t.Helper()
	release = e.gc.hold()
	e.t.Cleanup(release) // before the hub's shutdown, registered earlier
	e.ephemeral(wire.DispatchChannel, "test.first", 0)
	select {
	case <-e.gc.waiting:
	case <-time.After(testWait):
		e.t.Fatal("the writer never wrote")
	}
	return release
}

// ephemeral publishes an ephemeral event as the hub's own publishers
// build it (typing with its sender, positions with their courier).
func (e *shedEnv) ephemeral(channel, event string, n int) {
	e.t.Helper()
	data := []byte(fmt.Sprintf(`{"n":%d}`, n))
	msg := delivery.BusMessage{Channel: channel, Frame: encodeEvent(channel, event, 0, data, time.Now().UnixMilli())}
	switch event {
	case wire.EventChatTyping:
		msg.Except = 7
	case delivery.EventCourierLocation:
		msg.Courier = 8
	}
	if err := e.h.cfg.Bus.Publish(context.Background(), msg); err != nil {
		e.t.Fatal(err)
	}
}

// durable commits the next event of order id and publishes it, as the
// order service does; the bus delivers it before returning.
func (e *shedEnv) durable(id delivery.ID) {
	e.t.Helper()
	ev := e.store.commit(id)
	ch := wire.OrderChannel(id)
	if err := e.h.cfg.Publisher.Publish(context.Background(), delivery.Publication{Channel: ch, Event: ev.Type, Data: ev.Data, Seq: ev.Seq}); err != nil {
		e.t.Fatal(err)
	}
}

// fillEphemeral fills the stalled queue with shedQueue ephemeral frames
// of every class: positions on order:1 and order:2, typing, a read mark,
// offers and non-durable publishes.
func (e *shedEnv) fillEphemeral() {
	e.t.Helper()
	for i := 1; i <= 5; i++ {
		e.ephemeral("order:1", delivery.EventCourierLocation, i)
	}
	for i := 1; i <= 3; i++ {
		e.ephemeral("order:2", delivery.EventCourierLocation, i)
	}
	for i := 1; i <= 3; i++ {
		e.ephemeral("order:1", wire.EventChatTyping, i)
	}
	e.ephemeral("order:1", delivery.EventChatRead, 1)
	e.ephemeral(wire.DispatchChannel, wire.EventOrderOffered, 1)
	e.ephemeral(wire.DispatchChannel, wire.EventOrderClaimed, 1)
	for i := 1; i <= 2; i++ {
		if err := e.h.cfg.Publisher.Publish(context.Background(), delivery.Publication{Channel: wire.DispatchChannel, Event: "test.note", Data: []byte(`{}`)}); err != nil {
			e.t.Fatal(err)
		}
	}
	if n := e.queued(); n != shedQueue {
		e.t.Fatalf("%d frames queued, want a full queue of %d", n, shedQueue)
	}
}

// queued returns the length of the one client's queue.
func (e *shedEnv) queued() int {
	e.h.mu.Lock()
	defer e.h.mu.Unlock()
	n := 0
	for c := range e.h.clients {
		c.mu.Lock()
		n += len(c.queue)
		c.mu.Unlock()
	}
	return n
}

// subscribeAll subscribes the client to order:1, order:2 and dispatch.
func (e *shedEnv) subscribeAll() {
	e.t.Helper()
	for _, ch := range []string{"order:1", "order:2", wire.DispatchChannel} {
		e.request(map[string]any{"type": "subscribe", "channel": ch})
	}
}

// shedCounts are the counters these tests look at.
type shedCounts struct{ Locations, Typing, Reads, Offers, Publishes, SlowClosed uint64 }

func (e *shedEnv) checkShed(want shedCounts) {
	e.t.Helper()
	st := e.h.Stats()
	got := shedCounts{st.ShedLocations, st.ShedTyping, st.ShedReads, st.ShedOffers, st.ShedPublishes, st.SlowClosed}
	if got != want {
		e.t.Errorf("shed counters %+v, want %+v", got, want)
	}
}

func (e *shedEnv) expect(want ...string) {
	e.t.Helper()
	for i, w := range want {
		if got := e.read(); got != w {
			e.t.Fatalf("frame %d: got %q, want %q (all: %q)", i, got, w, want)
		}
	}
}

// TestShedEphemeralForDurable: a connection whose queue is full of
// positions, typing, a read mark, offers and publishes still gets every
// durable event sent after, in order, and stays open. The queue keeps the
// newest position of order:2, and of order:1 the position that arrived
// last, which made the others stale.
func TestShedEphemeralForDurable(t *testing.T) {
	e := newShedEnv(t)
	e.subscribeAll()
	release := e.stall()
	e.fillEphemeral()
	e.ephemeral("order:1", delivery.EventCourierLocation, 6)
	const durables = shedQueue - 4
	for range durables {
		e.durable(1)
	}
	e.checkShed(shedCounts{Locations: 5 + 2, Typing: 3, Reads: 1, Offers: 2, Publishes: 2})
	release()
	want := []string{"test.first dispatch {\"n\":0}", `courier.location order:2 {"n":3}`, `courier.location order:1 {"n":6}`}
	for seq := 1; seq <= durables; seq++ {
		want = append(want, fmt.Sprint(seq))
	}
	e.expect(want...)
	e.durable(1)
	e.expect(fmt.Sprint(durables + 1))
	e.request(map[string]any{"type": "unsubscribe", "channel": "order:2"}) // still open
	e.checkShed(shedCounts{Locations: 7, Typing: 3, Reads: 1, Offers: 2, Publishes: 2})
}

// TestShedDropsEphemeralAtDurableQueue: an ephemeral frame that finds the
// queue full of durable events is dropped and counted, and the
// connection stays open with every durable event.
func TestShedDropsEphemeralAtDurableQueue(t *testing.T) {
	e := newShedEnv(t)
	e.request(map[string]any{"type": "subscribe", "channel": "order:1"})
	e.request(map[string]any{"type": "subscribe", "channel": wire.DispatchChannel})
	release := e.stall()
	for range shedQueue {
		e.durable(1)
	}
	e.ephemeral("order:1", delivery.EventCourierLocation, 1)
	e.ephemeral("order:1", wire.EventChatTyping, 1)
	e.ephemeral(wire.DispatchChannel, wire.EventOrderOffered, 1)
	e.ephemeral("order:1", delivery.EventChatRead, 1)
	if err := e.h.cfg.Publisher.Publish(context.Background(), delivery.Publication{Channel: wire.DispatchChannel, Event: "test.note", Data: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	e.checkShed(shedCounts{Locations: 1, Typing: 1, Reads: 1, Offers: 1, Publishes: 1})
	release()
	want := []string{"test.first dispatch {\"n\":0}"}
	for seq := 1; seq <= shedQueue; seq++ {
		want = append(want, fmt.Sprint(seq))
	}
	e.expect(want...)
	e.ephemeral("order:1", delivery.EventCourierLocation, 2) // room again
	e.expect(`courier.location order:1 {"n":2}`)
	e.request(map[string]any{"type": "unsubscribe", "channel": "order:1"})
}

// TestDurableFloodCloses4009: durable events beyond the queue close the
// connection with 4009, once the queue holds nothing else: the ephemeral
// frames before them, even the newest positions, make room first.
func TestDurableFloodCloses4009(t *testing.T) {
	e := newShedEnv(t)
	e.subscribeAll()
	release := e.stall()
	e.fillEphemeral()
	for seq := 1; seq <= shedQueue; seq++ {
		e.durable(1)
		if st := e.h.Stats(); st.SlowClosed != 0 {
			t.Fatalf("closed at durable event %d of a queue of %d: %+v", seq, shedQueue, st)
		}
	}
	e.checkShed(shedCounts{Locations: 8, Typing: 3, Reads: 1, Offers: 2, Publishes: 2})
	e.durable(1)
	e.checkShed(shedCounts{Locations: 8, Typing: 3, Reads: 1, Offers: 2, Publishes: 2, SlowClosed: 1})
	release()
	e.expect("test.first dispatch {\"n\":0}") // the queue went with the close
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	_, _, err := e.ws.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != wire.CloseSlow {
		t.Errorf("read after the flood: %v, want close 4009", err)
	}
}
