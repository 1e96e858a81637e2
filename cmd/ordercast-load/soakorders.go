package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// The soak's orders: placed at a rate, each driven through its life over
// REST by a goroutine of its own (at most -workers at once), with chat
// messages over REST and the websocket, typing before each message, and
// sometimes a cancel. Its parties (the customer's device, one of the
// restaurant's staff devices, the courier's once it claimed) follow its
// order channel.

type soakOrder struct {
	id       string
	customer *party
	staff    *party
	courier  *party   // set by the driver once claimed; read once the drivers ended
	held     bool     // the driver holds one of the courier's active slots
	outcome  string   // delivered, cancelled; "" while unfinished
	truth    []uint64 // the log's seqs, read at the end
}

func (o *soakOrder) parties() []*party {
	ps := []*party{o.customer, o.staff}
	if o.courier != nil {
		ps = append(ps, o.courier)
	}
	return ps
}

// Per device, the orders the driver gives at once: within the server's 64
// subscriptions per socket with room to spare.
const (
	ordersPerCustomer = 4
	ordersPerStaff    = 48
)

// traffic places orders at the run's rate until ctx ends; each order's
// driver runs on runCtx, so that orders in flight finish after it.
func (s *soak) traffic(ctx, runCtx context.Context, drivers *sync.WaitGroup) {
	slots := make(chan struct{}, s.cfg.workers)
	tick := time.NewTicker(time.Duration(float64(time.Second) / s.cfg.rate))
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case slots <- struct{}{}:
			drivers.Go(func() {
				defer func() { <-slots }()
				s.drive(runCtx, n)
			})
		default:
			s.counts.orders.add("not started: every worker busy")
		}
	}
}

// drive takes order n through its life. A step that fails ends the
// order's driving (counted); its parties go on following it, and are
// judged against its log all the same.
func (s *soak) drive(ctx context.Context, n int) {
	k := &s.kitchens[n%len(s.kitchens)]
	cust, staff := s.pickParty(s.customers, ordersPerCustomer), s.pickParty(k.staff, ordersPerStaff)
	if cust == nil || staff == nil {
		for _, p := range []*party{cust, staff} {
			if p != nil {
				p.release()
			}
		}
		s.counts.orders.add("not started: every device busy")
		return
	}
	defer cust.release()
	defer staff.release()
	id, err := s.o.placeOrder(ctx, k.kitchen, cust.sess, fmt.Sprintf("soak-%d", n))
	if err != nil {
		s.orderFailed("place", err)
		return
	}
	s.counts.orders.add("placed")
	ord := &soakOrder{id: id, customer: cust, staff: staff}
	s.mu.Lock()
	s.orders = append(s.orders, ord)
	s.mu.Unlock()
	cust.follow(id, nil)
	staff.follow(id, nil)
	_ = s.lifecycle(ctx, ord) // counted by step
}

// lifecycle drives a placed order to its end; the cancel share of the
// orders end cancelled, half by the customer before acceptance, half by
// the restaurant while it prepares.
//
// The courier's slot is given back once the order is no longer active
// (delivered, or cancelled: the server counts a picked-up order too);
// after a failed step the server still counts the order against the
// courier, and so does the soak.
func (s *soak) lifecycle(ctx context.Context, ord *soakOrder) error {
	cancel := rand.Float64()
	status := func(by func() *party, to string) func() error {
		return func() error { _, err := s.status(ctx, ord, by(), to, ""); return err }
	}
	say := func(by func() *party, k int) func() error { return func() error { return s.say(ctx, ord, by(), k) } }
	customer := func() *party { return ord.customer }
	staff := func() *party { return ord.staff }
	courier := func() *party { return ord.courier }
	steps := []soakStep{{"accept", status(staff, "accepted")}, {"chat", say(staff, 1)}, {"claim", func() error { return s.claim(ctx, ord) }},
		{"preparing", status(staff, "preparing")}, {"chat", say(customer, 2)}}
	switch {
	case cancel < s.cfg.cancelShare/2:
		steps = []soakStep{{"cancel", func() error { return s.finish(ctx, ord, ord.customer, "cancelled", "") }}}
	case cancel < s.cfg.cancelShare:
		steps = append(steps, soakStep{"cancel", func() error {
			err := s.finish(ctx, ord, ord.staff, "cancelled", "soak: out of dough")
			if err == nil {
				s.releaseCourier(ord)
			}
			return err
		}})
	default:
		steps = append(steps, soakStep{"ready", status(staff, "ready")}, soakStep{"chat", say(courier, 3)},
			soakStep{"picked_up", status(courier, "picked_up")},
			soakStep{"delivered", func() error {
				err := s.finish(ctx, ord, ord.courier, "delivered", "")
				if err == nil {
					s.releaseCourier(ord)
				}
				return err
			}})
	}
	for _, st := range steps {
		if err := sleepCtx(ctx, 200*time.Millisecond+rand.N(time.Second)); err != nil {
			return err
		}
		if err := st.do(); err != nil {
			s.orderFailed(st.name, err)
			return err
		}
	}
	return nil
}

type soakStep struct {
	name string
	do   func() error
}

// finish makes the order's last change and tells its parties its last
// seq, after which they unsubscribe.
func (s *soak) finish(ctx context.Context, ord *soakOrder, by *party, status, reason string) error {
	seq, err := s.status(ctx, ord, by, status, reason)
	if err != nil {
		return err
	}
	for _, p := range ord.parties() {
		p.finished(ord.id, seq)
	}
	s.mu.Lock()
	ord.outcome = status
	s.mu.Unlock()
	s.counts.orders.add(status)
	return nil
}

// orderAnswer is what the soak reads of an order.
type orderAnswer struct {
	Seq       uint64  `json:"seq"`
	Status    string  `json:"status"`
	CourierID *string `json:"courier_id"`
}

// status changes the order's status and returns its seq. A 409 to a
// retry may be the first attempt's doing (it committed, its answer was
// lost to a stopped instance): the order is read, and if it is in the
// status asked for, the change stands.
func (s *soak) status(ctx context.Context, ord *soakOrder, by *party, status, reason string) (uint64, error) {
	body := map[string]any{"status": status}
	if reason != "" {
		body["reason"] = reason
	}
	return s.change(ctx, ord, by, "/status", body, func(a orderAnswer) bool { return a.Status == status })
}

func (s *soak) change(ctx context.Context, ord *soakOrder, by *party, path string, body any, done func(orderAnswer) bool) (uint64, error) {
	var a orderAnswer
	err := s.o.do(ctx, "POST", "/api/v1/orders/"+ord.id+path, by.sess.AccessToken, body, &a, http.StatusOK)
	var se *statusError
	if !errors.As(err, &se) || se.status != http.StatusConflict || se.tries == 1 {
		return a.Seq, err
	}
	var now orderAnswer
	if rerr := s.o.do(ctx, "GET", "/api/v1/orders/"+ord.id, by.sess.AccessToken, nil, &now, http.StatusOK); rerr != nil || !done(now) {
		return 0, err
	}
	s.counts.orders.add("changes whose retry found them made")
	return now.Seq, nil
}

// claim has a courier with room claim the order, and its device follow
// it.
func (s *soak) claim(ctx context.Context, ord *soakOrder) error {
	var c *party
	for c == nil {
		if c = s.pickParty(s.couriers, s.cfg.maxActive); c == nil {
			s.counts.orders.add("waits for a free courier")
			if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
				return err
			}
		}
	}
	me := c.sess.User.ID
	if _, err := s.change(ctx, ord, c, "/claim", nil, func(a orderAnswer) bool { return a.CourierID != nil && *a.CourierID == me }); err != nil {
		c.release()
		return err
	}
	s.mu.Lock()
	ord.courier, ord.held = c, true
	s.mu.Unlock()
	c.follow(ord.id, c)
	ord.customer.assigned(ord.id, c)
	ord.staff.assigned(ord.id, c)
	return nil
}

// releaseCourier gives the order's courier room for another claim,
// once.
func (s *soak) releaseCourier(ord *soakOrder) {
	if ord.held {
		ord.held = false
		ord.courier.release()
	}
}

// pickParty takes a random device of ps with room for one more order,
// or nil.
func (s *soak) pickParty(ps []*party, limit int) *party {
	for range 8 {
		if p := ps[rand.IntN(len(ps))]; p.take(limit) {
			return p
		}
	}
	for _, p := range ps {
		if p.take(limit) {
			return p
		}
	}
	return nil
}

// say sends chat message k of the order from a party, after a typing
// frame: every other message over the websocket (acked with its seq),
// the others, and any the socket could not take, over REST with the same
// client_msg_id, so that a message is stored once however often it is
// sent.
func (s *soak) say(ctx context.Context, ord *soakOrder, from *party, k int) error {
	s.typing(ctx, ord, from)
	msgID := fmt.Sprintf("soak-%x-%s-%d", s.o.run, ord.id, k)
	text := fmt.Sprintf("soak message %d", k)
	if k%2 == 1 {
		f, err := from.ask(ctx, "c:"+msgID, fmt.Appendf(nil, `{"type":"chat","id":"c:%s","order_id":%q,"text":%q,"client_msg_id":%q}`, msgID, ord.id, text, msgID))
		if err == nil && f.Type == "ack" {
			s.counts.chat.add("over the websocket")
			return nil
		}
		s.counts.chat.add("over REST after the websocket failed")
	}
	err := s.o.do(ctx, "POST", "/api/v1/orders/"+ord.id+"/messages", from.sess.AccessToken,
		map[string]any{"text": text, "client_msg_id": msgID}, nil, http.StatusCreated)
	if err == nil {
		s.counts.chat.add("over REST")
	}
	return err
}

// typing sends a typing frame and counts whom it should reach: the
// order's other parties following it at that moment. Each sender types
// once per order and message, far less than the server's one a second.
func (s *soak) typing(ctx context.Context, ord *soakOrder, from *party) {
	id := fmt.Sprintf("t:%s:%d", ord.id, rand.Uint32())
	f, err := from.ask(ctx, id, fmt.Appendf(nil, `{"type":"typing","id":%q,"order_id":%q}`, id, ord.id))
	if err != nil || f.Type != "ack" {
		s.eph.typingFailed.Add(1)
		return
	}
	s.eph.typingSent.Add(1)
	s.mu.Lock()
	parties := ord.parties()
	s.mu.Unlock()
	for _, p := range parties {
		if p != from && p.following(ord.id) {
			s.eph.typingExpected.Add(1)
		}
	}
}

// orderFailed counts a failed step by its name and the error's code (or
// kind of transport error).
func (s *soak) orderFailed(step string, err error) {
	why := transportKind(err)
	var se *statusError
	if errors.As(err, &se) {
		var body struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(se.body, &body)
		why = fmt.Sprintf("%d %s", se.status, body.Error.Code)
	}
	s.counts.orders.add(fmt.Sprintf("failed at %s (%s)", step, why))
	s.lastOrderErr.Store(err.Error())
}
