package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"

	"github.com/ordercast/ordercast/internal/accounts"
	"github.com/ordercast/ordercast/internal/delivery"
)

// ordercast is the target the tool is for. Setup goes through the REST API:
// a small pool of users (each registration costs the server a bcrypt hash,
// about 0.25 s of CPU; with -seed they are made in its store instead), as
// many orders as channels are needed, and many sockets per user, which
// needs the server to run with RATE_LIMITS=off MAX_CONNS_PER_USER=0.
type ordercast struct {
	base        string
	apiKey      string
	users       int
	concurrency int
	rest        *http.Client
	run         uint64 // tells this run's accounts from earlier runs' on the same store
	// balanced, when set, picks the instance of each REST request and
	// counts every answer (the soak, whose instances stop and start):
	// transport errors are then retried on another instance too.
	balanced *balancer
	// seed, when set, makes the accounts in the server's store (-seed).
	seed *seeder

	poolOnce sync.Once
	pool     pool
	poolErr  error
}

// pool is the accounts a run shares: one restaurant with one dish, and
// customers ordering it.
type pool struct {
	kitchen
	customers []session
}

// kitchen is a restaurant's staff account and the one dish on its menu.
type kitchen struct {
	restaurant session
	item       string
}

type session struct {
	AccessToken string `json:"access_token"`
	User        struct {
		ID           string `json:"id"`
		RestaurantID string `json:"restaurant_id"`
	} `json:"user"`
}

func (s session) identity() identity { return identity{id: s.User.ID, token: s.AccessToken} }

func newOrdercast(cfg config) *ordercast {
	return &ordercast{
		base: strings.TrimSuffix(cfg.url, "/"), apiKey: cfg.apiKey, users: cfg.users,
		concurrency: cfg.setupConcurrency, rest: newHTTPClient(cfg.setupConcurrency), run: rand.Uint64(),
	}
}

func (o *ordercast) name() string { return "ordercast" }

// do sends body as JSON and decodes the answer into out unless it is not
// the status wanted (a *statusError).
func (o *ordercast) do(ctx context.Context, method, path, token string, body, out any, want int, headers ...string) error {
	var b []byte
	if body != nil {
		var err error
		if b, err = json.Marshal(body); err != nil {
			return err
		}
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	status, answer, tries, err := o.send(ctx, method, path, b, h)
	if err != nil {
		return err
	}
	if status == http.StatusTooManyRequests {
		return fmt.Errorf("%s %s: 429 %s: run the server with RATE_LIMITS=off MAX_CONNS_PER_USER=0", method, path, answer)
	}
	if status != want {
		return &statusError{what: method + " " + path, status: status, body: bytes.TrimSpace(answer), tries: tries}
	}
	if out != nil {
		return json.Unmarshal(answer, out)
	}
	return nil
}

// statusError is an answer other than the one wanted; tries says how
// many times the request was sent, since an answer to a retry may be
// about the first attempt's effect (a 409 after a change that committed).
type statusError struct {
	what   string
	status int
	body   []byte
	tries  int
}

func (e *statusError) Error() string { return fmt.Sprintf("%s: %d %s", e.what, e.status, e.body) }

// send sends a request until it is served. 503 is the server shedding
// (registrations wait for one of its few bcrypt slots) or going away: not
// served, so safe to send again after a pause. Balanced, a transport error
// (an instance killed, or stopping) is retried on another instance too,
// with the same body and headers: placements keep their Idempotency-Key,
// chat messages their client_msg_id, so a retry of one that did commit
// stores nothing twice.
func (o *ordercast) send(ctx context.Context, method, path string, body []byte, h http.Header) (status int, answer []byte, tries int, err error) {
	if o.balanced == nil {
		for tries = 1; ; tries++ {
			if status, answer, err = httpDo(ctx, o.rest, method, o.base+path, body, h); err != nil || status != http.StatusServiceUnavailable || tries > 20 {
				return status, answer, tries, err
			}
			if err := sleepCtx(ctx, time.Second); err != nil {
				return 0, nil, tries, err
			}
		}
	}
	pause, deadline := 100*time.Millisecond, time.Now().Add(balancedRetryBudget)
	for tries = 1; ; tries++ {
		status, answer, err = httpDo(ctx, o.rest, method, o.balanced.pick().url+path, body, h)
		o.balanced.rest.count(status, err, ctx.Err() != nil)
		if err == nil && status != http.StatusServiceUnavailable || ctx.Err() != nil || time.Now().After(deadline) {
			return status, answer, tries, err
		}
		o.balanced.rest.retried()
		if err := sleepCtx(ctx, pause); err != nil {
			return 0, nil, tries, err
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// balancedRetryBudget bounds the retries of one balanced request: longer
// than an instance takes to stop and start again.
const balancedRetryBudget = 90 * time.Second

// register signs up user n of role: over REST, or seeded in the store
// (-seed), where the same request makes the same account and session.
func (o *ordercast) register(ctx context.Context, role string, n int) (session, error) {
	req := accounts.RegisterRequest{
		Email: fmt.Sprintf("load-%x-%s-%d@example.com", o.run, role, n), Password: loadPassword,
		Name: fmt.Sprintf("%s %d", role, n), Role: delivery.Role(role),
	}
	if req.Role == delivery.RoleRestaurant {
		req.RestaurantName = fmt.Sprintf("Load kitchen %x", o.run)
	}
	if o.seed != nil {
		return o.seed.register(ctx, req)
	}
	var s session
	err := o.do(ctx, "POST", "/api/v1/auth/register", "", req, &s, 201)
	var se *statusError
	if errors.As(err, &se) && se.status == http.StatusConflict && se.tries > 1 {
		// An attempt whose answer was lost made the account: sign in.
		err = o.do(ctx, "POST", "/api/v1/auth/login", "", map[string]any{"email": req.Email, "password": req.Password}, &s, 200)
	}
	return s, err
}

// registerMany registers n users of role, at most o.concurrency at once.
func (o *ordercast) registerMany(ctx context.Context, role string, n int) ([]session, error) {
	out := make([]session, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(o.concurrency)
	for i := range out {
		g.Go(func() (err error) {
			out[i], err = o.register(ctx, role, i)
			return err
		})
	}
	return out, g.Wait()
}

// accounts registers the run's restaurant, its dish and the customers,
// once.
func (o *ordercast) accounts(ctx context.Context) (pool, error) {
	o.poolOnce.Do(func() {
		o.pool, o.poolErr = o.registerPool(ctx)
	})
	return o.pool, o.poolErr
}

func (o *ordercast) registerPool(ctx context.Context) (pool, error) {
	var p pool
	var err error
	if p.kitchen, err = o.openKitchen(ctx, 0); err != nil {
		return p, err
	}
	p.customers, err = o.registerMany(ctx, "customer", o.users)
	return p, err
}

// openKitchen registers restaurant n of the run and puts one dish on its
// menu.
func (o *ordercast) openKitchen(ctx context.Context, n int) (kitchen, error) {
	var k kitchen
	var err error
	if k.restaurant, err = o.register(ctx, "restaurant", n); err != nil {
		return k, err
	}
	var item struct {
		ID string `json:"id"`
	}
	err = o.do(ctx, "POST", "/api/v1/restaurants/"+k.restaurant.User.RestaurantID+"/menu", k.restaurant.AccessToken,
		map[string]any{"name": "Pizza", "price_cents": 1000}, &item, 201)
	k.item = item.ID
	return k, err
}

// placeOrder places an order of the kitchen's dish as customer; key makes
// the placement idempotent.
func (o *ordercast) placeOrder(ctx context.Context, k kitchen, customer session, key string) (string, error) {
	var ord struct {
		ID string `json:"id"`
	}
	err := o.do(ctx, "POST", "/api/v1/orders", customer.AccessToken, map[string]any{
		"restaurant_id": k.restaurant.User.RestaurantID, "items": []map[string]any{{"menu_item_id": k.item, "quantity": 1}},
		"delivery_address": "1 Main St",
	}, &ord, 201, "Idempotency-Key", fmt.Sprintf("load-%x-%s", o.run, key))
	return ord.ID, err
}

// orderChannels places n orders, order c by customer c mod the pool, so
// each order channel has its customer to subscribe with.
func (o *ordercast) orderChannels(ctx context.Context, n int) ([]channel, error) {
	p, err := o.accounts(ctx)
	if err != nil {
		return nil, err
	}
	chs := make([]channel, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.concurrency)
	for c := range chs {
		g.Go(func() error {
			cust := p.customers[c%len(p.customers)]
			id, err := o.placeOrder(gctx, p.kitchen, cust, "channel-"+strconv.Itoa(c))
			chs[c] = channel{name: "order:" + id, users: []identity{cust.identity()}}
			return err
		})
	}
	return chs, g.Wait()
}

// broadcastChannel is dispatch, which couriers subscribe to.
func (o *ordercast) broadcastChannel(ctx context.Context) (channel, error) {
	couriers, err := o.registerMany(ctx, "courier", o.users)
	ids := make([]identity, len(couriers))
	for i, c := range couriers {
		ids[i] = c.identity()
	}
	return channel{name: "dispatch", users: ids}, err
}

// dial opens a socket (subscribed to its user feed before the handshake
// completes) and, with channel, subscribes and waits for the ack.
func (o *ordercast) dial(ctx context.Context, id identity, channel string) (*websocket.Conn, error) {
	return o.dialAt(ctx, o.base, id, channel)
}

// dialAt is dial to the instance at base.
func (o *ordercast) dialAt(ctx context.Context, base string, id identity, channel string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// The token in a header, as non-browser clients send it: an error
	// naming the URL then holds no secret.
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + id.token}}})
	if err != nil {
		return nil, handshakeError(resp, err)
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
		var f struct{ Type string }
		if json.Unmarshal(b, &f) == nil && f.Type == "ack" {
			return conn, nil
		}
		if f.Type == "error" {
			conn.CloseNow()
			return nil, fmt.Errorf("subscribe %s: %s", channel, b)
		}
	}
}

// handshakeError names the server setting behind a refused upgrade.
func handshakeError(resp *http.Response, err error) error {
	if resp == nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return fmt.Errorf("socket refused (429 too_many_connections): run the server with MAX_CONNS_PER_USER=0 (and RATE_LIMITS=off): %w", err)
	case http.StatusServiceUnavailable:
		return fmt.Errorf("socket refused (503): the instance is shutting down, or full (raise its MAX_CONNS): %w", err)
	}
	return err
}

func (o *ordercast) read(ctx context.Context, conn *websocket.Conn, fn func([]byte)) error {
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		fn(b)
	}
}

func (o *ordercast) publish(ctx context.Context, client *http.Client, base string, body []byte) error {
	h := http.Header{"Content-Type": {"application/json"}, "Authorization": {"Bearer " + o.apiKey}}
	status, answer, err := httpDo(ctx, client, "POST", base+"/api/v1/publish", body, h)
	if err != nil {
		return err
	}
	if status != 200 {
		return fmt.Errorf("publish: %d %s", status, bytes.TrimSpace(answer))
	}
	return nil
}

func (o *ordercast) publishBody(buf []byte, channel string, data []byte, durable bool) []byte {
	buf = append(buf, `{"channel":"`...)
	buf = append(buf, channel...)
	buf = append(buf, `","event":"load","data":`...)
	buf = append(buf, data...)
	if durable {
		buf = append(buf, `,"durable":true`...)
	}
	return append(buf, '}')
}
