package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"
)

// A party of the soak is one device: a socket of a customer, of a
// restaurant's staff or of a courier, that holds its user feed (and its
// restaurant's feed, or dispatch), follows the order channels of the
// orders it is given, and when its socket ends reconnects, to either
// instance, and resumes each order channel with since = the last seq it
// applied. It keeps per order what its client library applied
// (partyLog), the ephemeral frames it got, and, for a courier, which of
// its positions the server acknowledged.

type party struct {
	s    *soak
	role string
	sess session
	feed string // restaurant:{id} or dispatch, subscribed on every connection; "" for customers
	home int    // the instance of its first connection
	lim  *rate.Limiter
	kick chan struct{} // one pending "look at the subscriptions again"

	mu      sync.Mutex
	conn    *websocket.Conn
	gone    chan struct{} // closed when the current connection ended
	gen     uint64        // connections so far
	feedOn  bool          // the feed is subscribed on this connection, or asked for
	orders  map[string]*partyOrder
	waiting map[string]chan soakFrame // answers awaited, by frame id
	inUse   int                       // orders the driver gave it and has not finished (a courier's: claimed, not picked up)
	acked   bitset                    // courier: positions the server acknowledged
	nextPos uint64                    // courier: the number of its last position
}

// partyOrder is one party's state of one order.
type partyOrder struct {
	log        partyLog
	final      uint64 // the order's last seq, once the driver finished it
	done       bool   // unsubscribed: it applied the final seq
	subscribed bool   // acked on the current connection
	inflight   bool   // a subscribe is on its way on the current connection
	retryAt    time.Time
	typing     uint64
	positions  positionsSeen
	courier    *party // whose positions these are, once assigned
}

// Client frames stay under the server's 20 a second (burst 40): past it
// the socket is closed with 4008.
const (
	partyFrameRate  = 10
	partyFrameBurst = 20
)

// Reconnecting: the first attempt after a lost socket comes at a random
// moment within reconnectSpread, so that the sockets of a stopped
// instance do not all come back at once (and spread over both instances
// as the restarted one comes back); failed attempts back off from
// dialBackoff, doubling, to dialBackoffMax, with jitter.
const (
	reconnectSpread = 5 * time.Second
	dialBackoff     = 250 * time.Millisecond
	dialBackoffMax  = 4 * time.Second
	answerTimeout   = 10 * time.Second
)

func newParty(s *soak, role string, sess session, feed string, home int) *party {
	return &party{
		s: s, role: role, sess: sess, feed: feed, home: home,
		lim: rate.NewLimiter(partyFrameRate, partyFrameBurst), kick: make(chan struct{}, 1),
		orders: map[string]*partyOrder{}, waiting: map[string]chan soakFrame{},
	}
}

// soakFrame is what the soak reads of a server frame.
type soakFrame struct {
	Type    string `json:"type"`
	ID      string `json:"id"` // the soak's ids are strings
	Channel string `json:"channel"`
	Event   string `json:"event"`
	Seq     uint64 `json:"seq"`
	Code    string `json:"code"`
	Data    struct {
		Lat float64 `json:"lat"`
	} `json:"data"`
}

// run keeps the party connected until ctx ends. Its first handshake
// waits for a place in gate, which bounds the handshakes of the run's
// start.
func (p *party) run(ctx context.Context, gate chan struct{}) {
	select {
	case gate <- struct{}{}:
	case <-ctx.Done():
		return
	}
	first, opened := true, false
	in := p.s.bal.insts[p.home]
	for failures := 0; ; {
		conn, err := p.s.o.dialAt(ctx, in.url, p.sess.identity(), "")
		if first {
			<-gate
			first = false
		}
		if ctx.Err() != nil {
			if conn != nil {
				conn.CloseNow()
			}
			return
		}
		if err != nil {
			why := dialFailure(err)
			p.s.counts.dialFailures.add(why)
			p.s.lastDialErr.Store(err.Error())
			if why == "other" {
				p.s.otherDialErr.Store(err.Error())
			}
			failures++
			pause := min(dialBackoff<<min(failures-1, 8), dialBackoffMax)
			if sleepCtx(ctx, pause/2+rand.N(pause/2+1)) != nil {
				return
			}
			in = p.s.bal.pick()
			continue
		}
		if !opened {
			opened = true
			p.s.connected.Add(1)
		}
		failures = 0
		err = p.connection(ctx, conn)
		if ctx.Err() != nil {
			return
		}
		p.s.counts.reconnects.add(closeCause(err))
		if sleepCtx(ctx, rand.N(reconnectSpread)) != nil {
			return
		}
		in = p.s.bal.pick()
	}
}

// connection serves one socket until it ends, and says why.
func (p *party) connection(ctx context.Context, conn *websocket.Conn) error {
	gen, gone := p.connected(conn)
	readDone := make(chan error, 1)
	go func() { readDone <- p.read(ctx, conn, gen) }() // ends with the socket, waited for below
	err := p.serve(ctx, conn, gen, readDone)
	conn.CloseNow()
	p.disconnected(gone)
	return err
}

func (p *party) connected(conn *websocket.Conn) (uint64, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.gen++
	p.conn, p.gone, p.feedOn = conn, make(chan struct{}), false
	for _, po := range p.orders {
		po.subscribed, po.inflight, po.retryAt = false, false, time.Time{}
	}
	return p.gen, p.gone
}

func (p *party) disconnected(gone chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conn = nil
	close(gone)
}

// serve subscribes what the party follows and sends a courier's
// positions, until the socket's reader ends; it returns the reader's
// error.
func (p *party) serve(ctx context.Context, conn *websocket.Conn, gen uint64, readDone <-chan error) error {
	var positions <-chan time.Time
	if p.role == "courier" {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		positions = t.C
	}
	retry := time.NewTimer(time.Hour)
	defer retry.Stop()
	for {
		wait, err := p.reconcile(ctx, conn, gen)
		if err != nil { // the socket is failing: its reader says how
			conn.CloseNow()
			return <-readDone
		}
		if wait > 0 {
			retry.Reset(wait)
		}
		select {
		case err := <-readDone:
			return err
		case <-p.kick:
		case <-retry.C:
		case <-positions:
			if err := p.sendPosition(ctx, conn); err != nil {
				conn.CloseNow()
				return <-readDone
			}
		}
	}
}

// reconcile sends the subscribes and unsubscribes the party's state
// calls for on this connection; it returns when to look again for a
// subscribe refused (0: nothing to retry).
func (p *party) reconcile(ctx context.Context, conn *websocket.Conn, gen uint64) (time.Duration, error) {
	var frames [][]byte
	var wait time.Duration
	now := time.Now()
	p.mu.Lock()
	if p.feed != "" && !p.feedOn {
		p.feedOn = true
		frames = append(frames, fmt.Appendf(nil, `{"type":"subscribe","id":"f:%d","channel":%q}`, gen, p.feed))
	}
	for id, po := range p.orders {
		switch {
		case po.done:
		case po.final > 0 && po.log.last >= po.final:
			po.done = true
			if po.subscribed || po.inflight {
				frames = append(frames, fmt.Appendf(nil, `{"type":"unsubscribe","id":"u:%s","channel":"order:%s"}`, id, id))
			}
		case !po.subscribed && !po.inflight:
			if d := po.retryAt.Sub(now); d > 0 {
				wait = shortest(wait, d)
				continue
			}
			po.inflight = true
			frames = append(frames, fmt.Appendf(nil, `{"type":"subscribe","id":"s:%s:%d","channel":"order:%s","since":%d}`, id, gen, id, po.log.last))
		}
	}
	p.mu.Unlock()
	for _, f := range frames {
		if err := p.write(ctx, conn, f); err != nil {
			return 0, err
		}
	}
	return wait, nil
}

func shortest(a, b time.Duration) time.Duration {
	if a == 0 || b < a {
		return b
	}
	return a
}

// write sends one client frame within the frame budget; the write is
// bounded by answerTimeout.
func (p *party) write(ctx context.Context, conn *websocket.Conn, frame []byte) error {
	if err := p.lim.Wait(ctx); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, answerTimeout)
	defer cancel()
	return conn.Write(wctx, websocket.MessageText, frame)
}

// Positions are numbered per courier in their latitude (the server keeps
// lat and drops fields it does not know), as the location scenario does.
func (p *party) sendPosition(ctx context.Context, conn *websocket.Conn) error {
	p.mu.Lock()
	p.nextPos++
	n := p.nextPos
	p.mu.Unlock()
	p.s.eph.positionsSent.Add(1)
	return p.write(ctx, conn, fmt.Appendf(nil, `{"type":"location","id":"p:%d","lat":%.4f,"lng":13.4,"ts":%d}`,
		n, latBase+float64(n)*latStep, time.Now().UnixMilli()))
}

func positionNumber(lat float64) uint64 {
	n := math.Round((lat - latBase) / latStep)
	if n < 1 {
		return 0
	}
	return uint64(n)
}

// read hands every frame of the socket to handle until it fails.
func (p *party) read(ctx context.Context, conn *websocket.Conn, gen uint64) error {
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		var f soakFrame
		if json.Unmarshal(b, &f) != nil {
			p.s.counts.strange.add("not JSON")
			continue
		}
		p.handle(f, gen)
	}
}

func (p *party) handle(f soakFrame, gen uint64) {
	switch f.Type {
	case "event":
		kind, id, _ := strings.Cut(f.Channel, ":")
		if kind == "order" {
			p.orderEvent(id, f)
			return
		}
		if f.Seq > 0 {
			p.s.counts.feedEvents.add(kind)
		} else {
			p.s.counts.ephemeral.add(f.Event + " on " + kind)
		}
	case "ack", "error":
		p.answer(f, gen)
	case "unsubscribed":
		p.s.counts.strange.add("unsubscribed " + f.Code)
	default:
		p.s.counts.strange.add("frame type " + f.Type)
	}
}

func (p *party) orderEvent(id string, f soakFrame) {
	p.mu.Lock()
	defer p.mu.Unlock()
	po := p.orders[id]
	if po == nil {
		p.s.counts.strange.add("event of an order not followed")
		return
	}
	if f.Seq > 0 {
		if po.log.observe(f.Seq) && po.final > 0 && po.log.last >= po.final {
			p.kickLocked()
		}
		return
	}
	p.s.counts.ephemeral.add(f.Event + " on order")
	switch f.Event {
	case "chat.typing":
		po.typing++
	case "courier.location":
		if n := positionNumber(f.Data.Lat); n > 0 {
			po.positions.see(n)
		}
	}
}

// answer takes an ack or error to a frame of the party (by its id).
func (p *party) answer(f soakFrame, gen uint64) {
	kind, rest, _ := strings.Cut(f.ID, ":")
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := f.Type == "ack"
	if !ok {
		p.s.counts.refused.add(kind + " " + f.Code)
	}
	switch kind {
	case "s": // s:<order>:<gen>
		id, g, _ := strings.Cut(rest, ":")
		po := p.orders[id]
		if po == nil || g != strconv.FormatUint(gen, 10) {
			return
		}
		po.inflight, po.subscribed = false, ok
		if !ok {
			po.retryAt = time.Now().Add(time.Second)
			p.kickLocked()
		}
	case "f":
		if !ok {
			p.feedOn = false // asked for again at the next look
		}
	case "p":
		if n, err := strconv.ParseUint(rest, 10, 64); err == nil && ok {
			p.acked.set(n)
		}
	case "c", "t":
		select {
		case p.waiting[f.ID] <- f: // buffered for one (a nil channel: nobody waits)
		default:
		}
	}
}

func (p *party) kickLocked() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// follow starts following order id (its order channel from seq 0).
func (p *party) follow(id string, courier *party) {
	p.mu.Lock()
	if p.orders[id] == nil {
		p.orders[id] = &partyOrder{courier: courier}
	}
	p.kickLocked()
	p.mu.Unlock()
}

// assigned records whose positions the party's order id carries.
func (p *party) assigned(id string, courier *party) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if po := p.orders[id]; po != nil {
		po.courier = courier
	}
}

// finished tells the party the last seq of order id: once it applied it,
// it unsubscribes.
func (p *party) finished(id string, seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if po := p.orders[id]; po != nil {
		po.final = seq
		p.kickLocked()
	}
}

// following reports whether the party's socket is now subscribed to
// order id.
func (p *party) following(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	po := p.orders[id]
	return p.conn != nil && po != nil && po.subscribed
}

// caughtUp reports whether the party applied order id up to seq.
func (p *party) caughtUp(id string, seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	po := p.orders[id]
	return po != nil && po.log.last >= seq
}

var errNotConnected = errors.New("the socket is reconnecting")

// ask sends a frame with an id and waits for its answer, up to
// answerTimeout, or until the socket ends.
func (p *party) ask(ctx context.Context, id string, frame []byte) (soakFrame, error) {
	ch := make(chan soakFrame, 1)
	p.mu.Lock()
	conn, gone := p.conn, p.gone
	if conn != nil {
		p.waiting[id] = ch
	}
	p.mu.Unlock()
	if conn == nil {
		return soakFrame{}, errNotConnected
	}
	defer func() {
		p.mu.Lock()
		delete(p.waiting, id)
		p.mu.Unlock()
	}()
	if err := p.write(ctx, conn, frame); err != nil {
		return soakFrame{}, err
	}
	timeout := time.NewTimer(answerTimeout)
	defer timeout.Stop()
	select {
	case f := <-ch:
		return f, nil
	case <-gone:
		return soakFrame{}, errNotConnected
	case <-timeout.C:
		return soakFrame{}, fmt.Errorf("no answer to %s within %s", id, answerTimeout)
	case <-ctx.Done():
		return soakFrame{}, ctx.Err()
	}
}

// take and release count the orders the driver gave the party.
func (p *party) take(limit int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.inUse >= limit {
		return false
	}
	p.inUse++
	return true
}

func (p *party) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.inUse--
}
