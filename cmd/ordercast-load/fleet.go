package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"
)

// The location scenario: N couriers, each on an active order watched by
// two sockets (its customer's and its restaurant's), send one position a
// second over their sockets. Couriers are one account each (the server
// throttles and routes positions per courier), customers come from the
// pool.

type courier struct {
	conn      *websocket.Conn
	sentAt    *sendTimes    // when each of its positions was written
	sent      atomic.Uint64 // positions written
	errors    atomic.Uint64 // writes that failed
	refused   atomic.Uint64 // error frames from the server
	lastError atomic.Value  // string: the last error
}

// Positions are numbered in their latitude (the server keeps lat and ts
// and drops fields it does not know): lat = latBase + n·latStep.
const (
	latBase = 52.0
	latStep = 0.0001
)

func runLocation(ctx context.Context, cfg config, o *ordercast, procs []process) (*result, error) {
	r := newSocketRun(ctx, cfg, o, procs, map[string]any{"couriers": cfg.couriers, "users": cfg.users})
	sentAt := make([]sendTimes, cfg.couriers) // courier i's order is channel i
	r.subs.parse = func(ch int, b []byte) (uint64, int64, bool) {
		n, _, ok := parseLocation(b)
		if !ok || ch >= len(sentAt) {
			return 0, 0, false
		}
		return n, sentAt[ch].at(n), true
	}
	defer r.end()
	if o.seed != nil {
		progress("seeding %d couriers and placing their orders…", cfg.couriers)
	} else {
		progress("registering %d couriers (about %.0f s of server CPU) and placing their orders…", cfg.couriers, float64(cfg.couriers)*0.25)
	}
	p, err := o.accounts(ctx)
	if err != nil {
		return nil, err
	}
	couriers, err := o.registerMany(ctx, "courier", cfg.couriers)
	if err != nil {
		return nil, err
	}
	chs := make([]channel, cfg.couriers)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.setupConcurrency)
	for i, cour := range couriers {
		g.Go(func() error {
			cust := p.customers[i%len(p.customers)]
			id, err := o.placeOrder(gctx, p.kitchen, cust, fmt.Sprintf("courier-%d", i))
			if err != nil {
				return err
			}
			if err := o.do(gctx, "POST", "/api/v1/orders/"+id+"/status", p.restaurant.AccessToken, map[string]any{"status": "accepted"}, nil, 200); err != nil {
				return err
			}
			if err := o.do(gctx, "POST", "/api/v1/orders/"+id+"/claim", cour.AccessToken, nil, nil, 200); err != nil {
				return err
			}
			chs[i] = channel{name: "order:" + id, users: []identity{cust.identity(), p.restaurant.identity()}}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := r.open(ctx, chs, 2*len(chs)); err != nil {
		return nil, err
	}
	fleet := make([]*courier, len(couriers))
	var wg sync.WaitGroup
	defer wg.Wait() // after the couriers' sockets closed, below
	defer func() {
		for _, c := range fleet {
			if c != nil {
				c.conn.CloseNow() // ends a write in progress
			}
		}
	}()
	for i, cour := range couriers {
		conn, err := o.dial(ctx, cour.identity(), "")
		if err != nil {
			return nil, err
		}
		fleet[i] = &courier{conn: conn, sentAt: &sentAt[i]}
		wg.Go(func() { fleet[i].read(r.readCtx) })
	}
	r.res.Connections += len(fleet)

	driveCtx, stopDriving := context.WithCancel(ctx)
	start := time.Now()
	for i, c := range fleet {
		// Spread the couriers over the second, as real ones are.
		offset := time.Duration(i) * time.Second / time.Duration(len(fleet))
		wg.Go(func() { c.drive(driveCtx, start.Add(offset)) })
	}
	if err := sleepCtx(ctx, cfg.warmUp); err != nil {
		stopDriving()
		return nil, err
	}
	wStart, wEnd, err := r.window(ctx, cfg.duration)
	stopDriving()
	if err != nil {
		return nil, err
	}
	var sent, sendErrs, refused uint64
	lastErr := ""
	for _, c := range fleet {
		sent += c.sent.Load()
		sendErrs += c.errors.Load()
		refused += c.refused.Load()
		if e, ok := c.lastError.Load().(string); ok {
			lastErr = e
		}
	}
	expected := 2 * sent
	r.drain(expected)
	sum := r.end()
	r.problems()
	if sendErrs+refused > 0 || lastErr != "" {
		r.res.Problems = append(r.res.Problems, fmt.Sprintf("courier writes failed: %d, refused: %d; last error: %s", sendErrs, refused, lastErr))
	}
	lat := r.subs.rec.lat.summary()
	r.res.Deliveries = newDeliveryStats(lat, r.res.Window, expected, sum)
	r.res.measure(procs, r.base, wStart, wEnd, lat.Count)
	return r.res, nil
}

// parseLocation numbers a courier.location by its latitude and gives its
// ts (milliseconds, so latencies timed from it come out up to 1 ms high:
// the run times positions from sendTimes instead).
func parseLocation(b []byte) (uint64, int64, bool) {
	var f struct {
		Event string `json:"event"`
		Data  struct {
			Lat float64 `json:"lat"`
			Ts  int64   `json:"ts"`
		} `json:"data"`
	}
	if json.Unmarshal(b, &f) != nil || f.Event != "courier.location" {
		return 0, 0, false
	}
	n := math.Round((f.Data.Lat - latBase) / latStep)
	if n < 1 {
		return 0, 0, false
	}
	return uint64(n), f.Data.Ts * int64(time.Millisecond), true
}

// read drains the courier's socket (so that pings are answered) and
// counts error frames, until ctx ends.
func (c *courier) read(ctx context.Context) {
	for {
		_, b, err := c.conn.Read(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.lastError.Store(err.Error())
			}
			return
		}
		if strings.Contains(string(b), `"type":"error"`) {
			c.refused.Add(1)
			c.lastError.Store(string(b))
		}
	}
}

// drive sends one position a second from start until ctx ends; ts is the
// send time, which the watchers measure latency from.
func (c *courier) drive(ctx context.Context, start time.Time) {
	if sleepCtx(ctx, time.Until(start)) != nil {
		return
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	buf := make([]byte, 0, 96)
	for n := 1; ; n++ {
		now := time.Now()
		buf = fmt.Appendf(buf[:0], `{"type":"location","lat":%.4f,"lng":13.4,"ts":%d}`, latBase+float64(n)*latStep, now.UnixMilli())
		c.sentAt.record(uint64(n), now.UnixNano())
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.conn.Write(wctx, websocket.MessageText, buf)
		cancel()
		switch {
		case err == nil:
			c.sent.Add(1)
		case ctx.Err() == nil:
			c.errors.Add(1)
			c.lastError.Store(err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sendTimes keeps when a courier wrote each of its last positions, by
// number, for the watchers to time them to the nanosecond: the frame's
// own ts is in milliseconds. A position is read within seconds of its
// write, long before its slot is taken again.
type sendTimes [64]atomic.Int64

func (s *sendTimes) record(n uint64, ns int64) { s[n%uint64(len(s))].Store(ns) }
func (s *sendTimes) at(n uint64) int64         { return s[n%uint64(len(s))].Load() }
