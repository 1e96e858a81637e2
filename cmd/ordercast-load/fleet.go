package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"
)

// fleet is what the location scenario runs: couriers and the watchers of
// their orders, each on a socket of its own.
type fleet struct {
	couriers []*courier
	watchers []*watcher
}

type courier struct {
	conn      *websocket.Conn
	errors    atomic.Uint64 // sends that failed
	refused   atomic.Uint64 // error frames from the server
	lastError atomic.Value  // string: the last error frame
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

type watcher struct{ conn *websocket.Conn }

type session struct {
	AccessToken string `json:"access_token"`
	User        struct {
		ID           string `json:"id"`
		RestaurantID string `json:"restaurant_id"`
	} `json:"user"`
}

var runID = rand.Uint64()

func (a *api) register(ctx context.Context, role string, n int) (session, error) {
	var s session
	body := map[string]any{
		"email": fmt.Sprintf("load-%x-%s-%d@example.com", runID, role, n), "password": "load-test-password",
		"name": fmt.Sprintf("%s %d", role, n), "role": role,
	}
	if role == "restaurant" {
		body["restaurant_name"] = fmt.Sprintf("Load kitchen %x", runID)
	}
	return s, a.do(ctx, "POST", "/api/v1/auth/register", "", body, &s, 201)
}

// readers reads each socket from when it is open until ctx ends.
type readers struct {
	ctx context.Context
	rec *recorder
	wg  sync.WaitGroup
}

// setUp registers a restaurant, and per courier a customer and an order
// accepted and claimed by the courier; then opens the sockets, each read
// by rd from then on.
func setUp(ctx context.Context, a *api, cfg config, rd *readers) (*fleet, error) {
	rest, err := a.register(ctx, "restaurant", 0)
	if err != nil {
		return nil, err
	}
	var item struct {
		ID string `json:"id"`
	}
	if err := a.do(ctx, "POST", "/api/v1/restaurants/"+rest.User.RestaurantID+"/menu", rest.AccessToken,
		map[string]any{"name": "Pizza", "price_cents": 1000}, &item, 201); err != nil {
		return nil, err
	}
	f := &fleet{couriers: make([]*courier, cfg.couriers), watchers: make([]*watcher, 2*cfg.couriers)}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.setupConcurrency)
	for i := range cfg.couriers {
		g.Go(func() error {
			c, ws, err := setUpOne(gctx, a, rest, item.ID, i, rd)
			mu.Lock()
			defer mu.Unlock()
			if c != nil {
				f.couriers[i] = c
			}
			copy(f.watchers[2*i:], ws)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func setUpOne(ctx context.Context, a *api, rest session, itemID string, i int, rd *readers) (*courier, []*watcher, error) {
	cust, err := a.register(ctx, "customer", i)
	if err != nil {
		return nil, nil, err
	}
	cour, err := a.register(ctx, "courier", i)
	if err != nil {
		return nil, nil, err
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := a.do(ctx, "POST", "/api/v1/orders", cust.AccessToken, map[string]any{
		"restaurant_id": rest.User.RestaurantID, "items": []map[string]any{{"menu_item_id": itemID, "quantity": 1}}, "delivery_address": "1 Main St",
	}, &o, 201, "Idempotency-Key", fmt.Sprintf("load-%x-%d", runID, i)); err != nil {
		return nil, nil, err
	}
	if err := a.do(ctx, "POST", "/api/v1/orders/"+o.ID+"/status", rest.AccessToken, map[string]any{"status": "accepted"}, nil, 200); err != nil {
		return nil, nil, err
	}
	if err := a.do(ctx, "POST", "/api/v1/orders/"+o.ID+"/claim", cour.AccessToken, nil, nil, 200); err != nil {
		return nil, nil, err
	}
	cc, err := a.dial(ctx, cour.AccessToken, "")
	if err != nil {
		return nil, nil, err
	}
	c := &courier{conn: cc}
	rd.wg.Go(func() { c.read(rd.ctx) })
	var ws []*watcher
	for _, token := range []string{cust.AccessToken, rest.AccessToken} {
		conn, err := a.dial(ctx, token, "order:"+o.ID)
		if err != nil {
			return c, ws, err
		}
		w := &watcher{conn: conn}
		rd.wg.Go(func() { w.read(rd.ctx, rd.rec) })
		ws = append(ws, w)
	}
	return c, ws, nil
}

// dial opens a socket and, with channel, subscribes and waits for the ack.
func (a *api) dial(ctx context.Context, token, channel string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(a.base, "http") + "/ws?access_token=" + token
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	if channel == "" {
		return conn, nil
	}
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"subscribe","id":1,"channel":"`+channel+`"}`)); err != nil {
		conn.CloseNow()
		return nil, err
	}
	for { // the user feed may speak first; the ack ends the wait
		_, b, err := conn.Read(ctx)
		if err != nil {
			conn.CloseNow()
			return nil, err
		}
		var f struct{ Type, Code string }
		if json.Unmarshal(b, &f) == nil && f.Type == "ack" {
			return conn, nil
		}
		if f.Type == "error" {
			conn.CloseNow()
			return nil, fmt.Errorf("subscribe %s: %s", channel, b)
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
	lat := 0.0
	buf := make([]byte, 0, 96)
	for {
		lat += 0.0001
		buf = fmt.Appendf(buf[:0], `{"type":"location","lat":%.4f,"lng":13.4,"ts":%d}`, 52+lat, time.Now().UnixMilli())
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := c.conn.Write(wctx, websocket.MessageText, buf)
		cancel()
		if err != nil && ctx.Err() == nil {
			c.errors.Add(1)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// read records the latency of every courier.location until ctx ends
// (which closes the socket under the read).
func (w *watcher) read(ctx context.Context, rec *recorder) {
	var f struct {
		Event string `json:"event"`
		Data  struct {
			Ts int64 `json:"ts"`
		} `json:"data"`
	}
	for {
		_, b, err := w.conn.Read(ctx)
		if err != nil {
			return
		}
		f.Event, f.Data.Ts = "", 0
		if json.Unmarshal(b, &f) == nil && f.Event == "courier.location" {
			rec.add(time.Duration(time.Now().UnixMilli()-f.Data.Ts) * time.Millisecond)
		}
	}
}

func (f *fleet) close() {
	for _, c := range f.couriers {
		if c != nil {
			c.conn.CloseNow()
		}
	}
	for _, w := range f.watchers {
		if w != nil {
			w.conn.CloseNow()
		}
	}
}
