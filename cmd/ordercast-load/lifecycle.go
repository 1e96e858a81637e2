package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The lifecycle scenario: W workers each take orders through their whole
// life over REST (place; the restaurant accepts; the courier claims; the
// restaurant starts and readies it; the courier picks it up and delivers
// it), one order at a time, while the customer's socket follows
// order:{id} from seq 0. Every change is one durable event; its latency
// is taken from the REST request's start and from the event's ts (the
// commit's time, in milliseconds) to its arrival on the socket.

type lifecycleStats struct {
	Orders           uint64    `json:"orders"` // completed, whole run
	Changes          uint64    `json:"changes"`
	ChangesPerSecond float64   `json:"changes_per_second"`
	REST             latencies `json:"rest"`              // a change's round trip
	RequestToSocket  latencies `json:"request_to_socket"` // request start to the event's arrival
	CommitToSocket   latencies `json:"commit_to_socket"`  // the event's ts to its arrival
	CPUPer1kChanges  float64   `json:"cpu_s_per_1k_changes"`
	Failed           uint64    `json:"failed"`
	LastError        string    `json:"last_error,omitempty"`
}

func (l *lifecycleStats) print(w io.Writer) {
	fmt.Fprintf(w, "status changes: %d in the window (%.0f/s), %d orders completed, %d failed\n", l.Changes, l.ChangesPerSecond, l.Orders, l.Failed)
	for _, x := range []struct {
		name string
		l    latencies
	}{{"REST round trip", l.REST}, {"request to socket", l.RequestToSocket}, {"commit (event ts) to socket", l.CommitToSocket}} {
		fmt.Fprintf(w, "  %s: p50 %s, p90 %s, p99 %s, max %s\n", x.name, ms(x.l.P50), ms(x.l.P90), ms(x.l.P99), ms(x.l.Max))
	}
	if l.CPUPer1kChanges > 0 {
		fmt.Fprintf(w, "CPU per 1k status changes: %.3f s\n", l.CPUPer1kChanges)
	}
	if l.LastError != "" {
		fmt.Fprintf(w, "  last error: %s\n", l.LastError)
	}
}

// lifecycle is the shared state of the workers.
type lifecycle struct {
	o        *ordercast
	p        pool
	couriers []session
	window   recorder // by request start; its histogram is the REST round trip
	toSocket histogram
	commit   histogram

	changes, orders, failed atomic.Uint64
	lastErr                 atomic.Value // string
	mu                      sync.Mutex
	sum                     tally
	expected                uint64
}

// lcFrame is what a worker's reader passes on: events of order channels
// and the answers to its subscribes.
type lcFrame struct {
	Type    string `json:"type"`
	Channel string `json:"channel"`
	Seq     uint64 `json:"seq"`
	Ts      int64  `json:"ts"`
	Code    string `json:"code"`
	at      time.Time
}

func runLifecycle(ctx context.Context, cfg config, o *ordercast, procs []process) (*result, error) {
	res := &result{Target: o.name(), Scenario: cfg.scenario, Settings: map[string]any{"workers": cfg.workers, "users": cfg.users}}
	setupStart := time.Now()
	p, err := o.accounts(ctx)
	if err != nil {
		return nil, err
	}
	// A courier holds at most MAX_ACTIVE_PER_COURIER (3 by default)
	// active orders: one courier per three workers.
	couriers, err := o.registerMany(ctx, "courier", (cfg.workers+2)/3)
	if err != nil {
		return nil, err
	}
	lc := &lifecycle{o: o, p: p, couriers: couriers}
	base, err := sampleAll(ctx, procs)
	if err != nil {
		return nil, err
	}
	workCtx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	var wg sync.WaitGroup
	defer wg.Wait()
	conns := make([]*websocket.Conn, cfg.workers)
	for w := range conns {
		if conns[w], err = o.dial(ctx, p.customers[w%len(p.customers)].identity(), ""); err != nil {
			for _, c := range conns[:w] {
				c.CloseNow()
			}
			return nil, err
		}
	}
	res.Connections, res.Setup = len(conns), time.Since(setupStart)
	for w, conn := range conns {
		wg.Go(func() {
			defer conn.CloseNow()
			lc.work(workCtx, w, conn, cfg.drain)
		})
	}
	if err := sleepCtx(ctx, cfg.warmUp); err != nil {
		return nil, err
	}
	start, err := sampleAll(ctx, procs)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	lc.window.start(t0)
	c0 := lc.changes.Load()
	err = sleepCtx(ctx, cfg.duration)
	now := time.Now()
	lc.window.stop(now)
	res.Window = now.Sub(t0)
	if err != nil {
		return nil, err
	}
	end, err := sampleAll(ctx, procs)
	if err != nil {
		return nil, err
	}
	changes := lc.changes.Load() - c0
	stopWork()
	wg.Wait()
	res.measure(procs, base, start, end, 0)
	res.Deliveries = newDeliveryStats(lc.toSocket.summary(), res.Window, lc.expected, lc.sum)
	l := &lifecycleStats{Orders: lc.orders.Load(), Changes: changes, ChangesPerSecond: float64(changes) / res.Window.Seconds(),
		REST: lc.window.lat.summary(), RequestToSocket: lc.toSocket.summary(), CommitToSocket: lc.commit.summary(), Failed: lc.failed.Load()}
	l.LastError, _ = lc.lastErr.Load().(string)
	if changes > 0 {
		var cpu time.Duration
		for _, p := range res.Processes {
			cpu += p.CPU
		}
		l.CPUPer1kChanges = cpu.Seconds() / float64(changes) * 1000
	}
	res.Lifecycle = l
	return res, nil
}

// work drives orders one after the other until ctx ends.
func (lc *lifecycle) work(ctx context.Context, w int, conn *websocket.Conn, wait time.Duration) {
	frames := make(chan lcFrame, 256)
	readCtx, stopRead := context.WithCancel(ctx)
	var rd sync.WaitGroup
	rd.Go(func() { lcRead(readCtx, conn, frames) })
	defer rd.Wait()
	defer stopRead()
	cust := lc.p.customers[w%len(lc.p.customers)]
	cour := lc.couriers[w%len(lc.couriers)]
	var next time.Time // when the socket may take its next command
	for i := 0; ctx.Err() == nil; i++ {
		if err := lc.order(ctx, conn, frames, &next, cust, cour, fmt.Sprintf("lc-%d-%d", w, i), wait); err != nil && ctx.Err() == nil {
			lc.failed.Add(1)
			lc.lastErr.Store(err.Error())
			if sleepCtx(ctx, 100*time.Millisecond) != nil { // do not spin on a failing server
				return
			}
		}
	}
}

// lcRead passes event and answer frames to frames until ctx ends; it
// blocks while frames is full, which holds the socket's reads back (the
// worker drains it after each order).
func lcRead(ctx context.Context, conn *websocket.Conn, frames chan<- lcFrame) {
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return
		}
		var f lcFrame
		if json.Unmarshal(b, &f) != nil || f.Type == "event" && (len(f.Channel) < 6 || f.Channel[:6] != "order:") {
			continue
		}
		f.at = time.Now()
		select {
		case frames <- f:
		case <-ctx.Done():
			return
		}
	}
}

type change struct {
	seq   uint64
	start time.Time
}

// order takes one order through its life and accounts its events.
func (lc *lifecycle) order(ctx context.Context, conn *websocket.Conn, frames <-chan lcFrame, next *time.Time, cust, cour session, key string, wait time.Duration) error {
	o, rest := lc.o, lc.p.restaurant.AccessToken
	id, err := o.placeOrder(ctx, lc.p.kitchen, cust, key)
	if err != nil {
		return err
	}
	ch := "order:" + id
	if err := lcCommand(ctx, conn, frames, next, `{"type":"subscribe","id":"s","channel":"`+ch+`","since":0}`); err != nil {
		return err
	}
	steps := []struct{ token, path, status string }{
		{rest, "/status", "accepted"}, {cour.AccessToken, "/claim", ""}, {rest, "/status", "preparing"},
		{rest, "/status", "ready"}, {cour.AccessToken, "/status", "picked_up"}, {cour.AccessToken, "/status", "delivered"},
	}
	changes := make([]change, 0, len(steps))
	for _, s := range steps {
		var body any
		if s.status != "" {
			body = map[string]any{"status": s.status}
		}
		var answer struct {
			Seq uint64 `json:"seq"`
		}
		start := time.Now()
		if err := o.do(ctx, "POST", "/api/v1/orders/"+id+s.path, s.token, body, &answer, 200); err != nil {
			return err
		}
		lc.changes.Add(1)
		if lc.window.in(start.UnixNano()) {
			lc.window.lat.add(time.Since(start))
		}
		changes = append(changes, change{seq: answer.Seq, start: start})
	}
	last := changes[len(changes)-1].seq
	var win seqWindow
	var t tally
	timeout := time.NewTimer(wait)
	defer timeout.Stop()
	for win.top < last || t.distinct < last {
		select {
		case f := <-frames:
			if f.Type != "event" || f.Channel != ch || f.Seq == 0 {
				continue // the order's ETAs (ephemeral) are not its changes
			}
			a := win.observe(f.Seq)
			t.count(a)
			if a == arrivalDuplicate {
				continue
			}
			for _, c := range changes {
				if c.seq == f.Seq && lc.window.in(c.start.UnixNano()) {
					lc.toSocket.add(f.at.Sub(c.start))
					lc.commit.add(f.at.Sub(time.UnixMilli(f.Ts)))
				}
			}
		case <-timeout.C:
			lc.account(last, t)
			return fmt.Errorf("%s: events up to seq %d of %d within %s", ch, win.top, last, wait)
		case <-ctx.Done():
			return nil
		}
	}
	lc.account(last, t)
	lc.orders.Add(1)
	return lcCommand(ctx, conn, frames, next, `{"type":"unsubscribe","id":"u","channel":"`+ch+`"}`)
}

func (lc *lifecycle) account(expected uint64, t tally) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	lc.expected += expected
	t.addTo(&lc.sum)
}

// lcCommand sends a frame and waits for its ack, passing over events (of
// an order already accounted).
// commandInterval keeps a worker's socket under the server's frame limit
// (20 a second sustained; beyond its burst the socket is closed with 4008).
const commandInterval = time.Second / 15

func lcCommand(ctx context.Context, conn *websocket.Conn, frames <-chan lcFrame, next *time.Time, frame string) error {
	if err := sleepCtx(ctx, time.Until(*next)); err != nil {
		return ctx.Err() // the run ended
	}
	*next = time.Now().Add(commandInterval)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, []byte(frame)); err != nil {
		return err
	}
	for {
		select {
		case f := <-frames:
			switch f.Type {
			case "ack":
				return nil
			case "error":
				return fmt.Errorf("%s: error %s", frame, f.Code)
			}
		case <-ctx.Done():
			return fmt.Errorf("%s: no answer: %w", frame, ctx.Err())
		}
	}
}
