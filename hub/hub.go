// Package hub delivers events to subscribers by channel name, over
// websockets and server-sent event streams: it keeps the channel index,
// runs each connection's reader and writer (whatever its transport),
// replays missed durable events from the event log and then goes live
// without gap or duplicate, and fans publications out through a
// delivery.Bus so that several instances behave as one. It knows no order
// rule: the order service (Orders) decides who may subscribe and serves
// the commands, and routed every publication (Publisher) before it
// arrives here.
package hub

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// EventLog is what the hub reads of the order event log, to replay;
// delivery.Store is one.
type EventLog interface {
	EventsAfter(ctx context.Context, orderID delivery.ID, after int64, limit int) ([]delivery.Event, error)
}

// TokenVerifier checks the tokens of auth frames; *auth.Tokens is one.
type TokenVerifier interface {
	Verify(token string) (auth.Claims, error)
}

// Orders is the order service as the hub reaches it, in domain types;
// *orders.Service is one. Errors that are *delivery.Error are answered
// with their code (frameCode).
type Orders interface {
	// MaySubscribe decides a subscription (API.md, "Channels") and
	// returns, for an order channel, the order's current seq.
	MaySubscribe(ctx context.Context, a delivery.Actor, channel string) (int64, error)
	// PostMessage, MarkRead and UpdateLocation serve the chat, read and
	// location frames as their REST twins.
	PostMessage(ctx context.Context, a delivery.Actor, orderID delivery.ID, m delivery.MessageInput) (delivery.Message, bool, error)
	MarkRead(ctx context.Context, a delivery.Actor, orderID delivery.ID, seq int64) (delivery.ReadMark, bool, error)
	UpdateLocation(ctx context.Context, a delivery.Actor, u delivery.LocationUpdate) (delivery.Location, error)
	// MayType returns the chat.typing publication of a when a may type
	// in the order's chat now; the hub coalesces and publishes it.
	MayType(ctx context.Context, a delivery.Actor, orderID delivery.ID) (delivery.Publication, error)
	// Latest returns the latest-value publications a new subscriber of
	// channel gets after its replay (the courier's last position).
	Latest(ctx context.Context, a delivery.Actor, channel string) ([]delivery.Publication, error)
}

// Limits bound what one connection may cost. Zero fields take defaults.
type Limits struct {
	MaxMessageBytes  int64         // a larger client frame closes with 1009; default 16 KiB
	MaxSubscriptions int           // per connection, user:{id} included; default 64
	RatePerSecond    float64       // client frames per second, sustained; default 20
	RateBurst        int           // client frames at once; default 40; beyond closes with 4008
	SendQueueFrames  int           // queued frames per connection; beyond closes with 4009; default 512
	SendQueueBytes   int           // queued bytes per connection; default 1 MiB
	PingInterval     time.Duration // a ping after this much silence from the peer; default 25 s
	StreamKeepalive  time.Duration // a comment on an SSE stream after this much silence on it; default 15 s
	ReadTimeout      time.Duration // silence after which the peer is dead; default 60 s
	WriteTimeout     time.Duration // bound of every write; default 10 s
	SweepInterval    time.Duration // how often pings and token expiry are checked; default 1 s
	ReplayPage       int           // events read from the Store at once; default 100
	ActionTimeout    time.Duration // bound of each Store, service or Bus call; default 10 s
	MaxRepairs       int           // gap repair workers; default 16
	TypingInterval   time.Duration // chat.typing per sender per order at most this often; default 1 s
}

func (l *Limits) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 16 << 10
	}
	if l.RatePerSecond <= 0 {
		l.RatePerSecond = 20
	}
	def(&l.MaxSubscriptions, 64)
	def(&l.RateBurst, 40)
	def(&l.SendQueueFrames, 512)
	def(&l.SendQueueBytes, 1<<20)
	def(&l.ReplayPage, 100)
	defDur(&l.PingInterval, 25*time.Second)
	defDur(&l.StreamKeepalive, 15*time.Second)
	defDur(&l.ReadTimeout, 60*time.Second)
	defDur(&l.WriteTimeout, 10*time.Second)
	defDur(&l.SweepInterval, time.Second)
	defDur(&l.ActionTimeout, 10*time.Second)
	def(&l.MaxRepairs, 16)
	defDur(&l.TypingInterval, time.Second)
}

// Config is what a hub is built from.
type Config struct {
	Events    EventLog      // required
	Orders    Orders        // required
	Bus       delivery.Bus  // required; the hub calls its Start
	Publisher *Publisher    // required, on Bus: typing, and its counters in Stats
	Tokens    TokenVerifier // required, for auth frames
	// SessionRevoked reports ended sessions (internal/sessions); the
	// sweeper closes their connections with 4001, also those that
	// finished their handshake just as CloseSession ran: it asks once per
	// connection and token's session. Nil: none.
	SessionRevoked func(sid string) bool
	// Now is the clock of typing coalescing (time.Now when nil): tests
	// move it instead of waiting.
	Now    func() time.Time
	Limits Limits
	// Observers take the hub's distributions of replays.
	Observers Observers
	Log       zerolog.Logger
}

// ErrClosed is returned by Serve once Shutdown began.
var ErrClosed = errors.New("hub: shut down")

// Hub is the real-time hub.
type Hub struct {
	cfg    Config
	log    zerolog.Logger
	shards [numShards]shard
	stats  counters
	now    func() time.Time
	typing typingGate

	// ctx bounds the hub's own Store and Bus calls; Shutdown cancels it.
	ctx     context.Context
	cancel  context.CancelFunc
	repairs repairQueue
	gaps    atomic.Uint64 // bus gaps reported (HandleGap): catchUp reads again after one

	mu      sync.Mutex // guards clients and closing
	clients map[*client]struct{}
	closing bool

	// wg counts every goroutine of the hub: the sweeper, the repair
	// workers, and each connection's reader and writer.
	wg       sync.WaitGroup
	stop     chan struct{} // closed by Shutdown: ends the sweeper
	drained  chan struct{} // closed when wg reached zero after Shutdown
	shutOnce sync.Once
}

// callCtx bounds one Store, service or Bus call of the hub's own.
func (h *Hub) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(h.ctx, h.cfg.Limits.ActionTimeout)
}

// New returns a running hub: it starts the bus and the sweeper. Stop it
// with Shutdown.
func New(cfg Config) (*Hub, error) {
	if cfg.Events == nil || cfg.Orders == nil || cfg.Bus == nil || cfg.Publisher == nil || cfg.Tokens == nil {
		return nil, errors.New("hub: Events, Orders, Bus, Publisher and Tokens are required")
	}
	cfg.Limits.setDefaults()
	cfg.Observers.setDefaults()
	h := &Hub{
		cfg:     cfg,
		log:     cfg.Log.With().Str("component", "hub").Logger(),
		clients: make(map[*client]struct{}),
		stop:    make(chan struct{}),
		drained: make(chan struct{}),
		now:     cfg.Now,
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.typing.last = make(map[typingKey]int64)
	h.ctx, h.cancel = context.WithCancel(context.Background())
	h.repairs.ready = make(chan struct{}, 1)
	for i := range h.shards {
		h.shards[i].m = make(map[string]*channel)
	}
	if err := cfg.Bus.Start((*inbound)(h)); err != nil {
		h.cancel()
		return nil, err
	}
	h.wg.Add(1 + cfg.Limits.MaxRepairs)
	go h.sweepLoop()
	for range cfg.Limits.MaxRepairs {
		go h.repairLoop()
	}
	return h, nil
}

// Serve runs the websocket handshake on conn for the request r of a user
// whose token the caller verified, and starts the connection. conn must
// hold no unread bytes. requestID is the handshake's request id, which the
// connection's log lines carry and the 101 answer echoes. Serve returns
// once the connection runs (or failed); the connection is then the hub's
// to close. Its errors hold no peer address.
func (h *Hub) Serve(conn net.Conn, r *http.Request, claims auth.Claims, requestID string) error {
	c, err := h.newClient(conn, claims, requestID)
	if err != nil {
		return err
	}
	t, err := acceptWS(conn, r, h.cfg.Limits, c.control, echoRequestID(http.Header{}, requestID))
	if err != nil {
		c.leave()
		return withoutAddrs(err)
	}
	c.t = t
	return h.start(c, nil)
}

// echoRequestID adds the request id to the header of an answer.
func echoRequestID(header http.Header, requestID string) http.Header {
	if requestID != "" {
		header.Set("X-Request-ID", requestID)
	}
	return header
}

// newClient is the connection of claims' user on conn, subscribed to the
// user's own feed before the handshake completes: a client that sees its
// connection open may count on the feed. Frames queue until start.
func (h *Hub) newClient(conn net.Conn, claims auth.Claims, requestID string) (*client, error) {
	// writing: no writer may start before the transport exists.
	c := &client{hub: h, actor: claims.Actor(), subs: make([]*subscription, 0, 2), writing: true,
		id: rand.Uint64(), requestID: requestID, opened: time.Now().UnixNano()}
	c.setClaims(claims)
	c.touch()
	if h.isClosing() {
		_ = conn.Close()
		return nil, ErrClosed
	}
	if c.actor.Role == delivery.RoleViewer {
		return c, nil // no user, no feed: its one channel is subscribed by the client
	}
	user := wire.Channel{Kind: wire.KindUser, ID: c.actor.UserID}
	feed, err := h.subscribe(c, user.String(), user, 0, nil)
	if err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("subscribe user feed: %w", err)
	}
	c.subs = append(c.subs, feed)
	return c, nil
}

// leave drops the subscriptions of a client whose handshake failed.
func (c *client) leave() {
	for _, s := range c.subs {
		c.hub.unsubscribe(s)
	}
}

// start registers c, whose transport is ready, lets its writer run and
// starts its reader; first, when not nil, runs before the reader reads,
// on a stack of its own (onOwnStack). During a Shutdown c is closed with 1012 instead.
func (h *Hub) start(c *client, first func()) error {
	h.mu.Lock()
	if h.closing {
		h.mu.Unlock()
		c.leave()
		c.t.close(wire.ReasonRestart.Code, wire.ReasonRestart.Text)
		c.t.release(nil)
		c.logClosed(wire.ReasonRestart.Code, wire.ReasonRestart.Name)
		return ErrClosed
	}
	c.quiet = c.t.keepaliveAfter()
	h.clients[c] = struct{}{}
	h.wg.Add(1) // the reader's count; taken before the client can be seen
	h.mu.Unlock()
	h.stats.accepted.Add(1)
	h.stats.opened[transportOf(c.t)].Add(1)

	c.mu.Lock()
	c.writing = false
	if len(c.queue) > 0 || c.closeCode != 0 {
		c.kickLocked()
	}
	c.mu.Unlock()
	if first == nil {
		go c.readLoop()
		return nil
	}
	go func() {
		onOwnStack(first)
		c.readLoop()
	}()
	return nil
}

func (h *Hub) isClosing() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closing
}

// Closing reports whether Shutdown began; the server then refuses
// upgrades with 503 instead of handing them over.
func (h *Hub) Closing() bool { return h.isClosing() }

// remove forgets c, which ended with the close code code (0: none).
func (h *Hub) remove(c *client, code int) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
	h.stats.closed.Add(1)
	h.stats.closes[transportOf(c.t)][closeCodeIndex(code)].Add(1)
}

// sweepLoop is the hub's timer for connections: it pings quiet ones and
// closes those whose token expired or whose session ended, instead of a
// timer per connection, and forgets typing marks that no longer hold
// anything back.
func (h *Hub) sweepLoop() {
	defer h.wg.Done()
	tick := time.NewTicker(h.cfg.Limits.SweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case now := <-tick.C:
			h.sweep(now.UnixNano())
			h.typing.sweep(h.now().UnixNano(), int64(h.cfg.Limits.TypingInterval))
		}
	}
}

// sweep also samples every send queue (Stats.SendQueue), so that the
// frames' own path pays nothing for it. It asks SessionRevoked once per
// session a connection takes (setClaims), after the connection is in
// clients: a session that ends later is CloseSession's, which finds the
// connection there (the list records an end before it calls it).
func (h *Hub) sweep(now int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var queues queueSamples
	defer h.stats.addQueueSamples(&queues)
	for c := range h.clients {
		queues.add(c.queueLen())
		lastRead := c.lastRead.Load()
		switch {
		case now >= c.exp.Load():
			if !c.closing() {
				h.stats.expired.Add(1)
				c.closeWith(wire.ReasonTokenExpired)
			}
		case h.cfg.SessionRevoked != nil && c.sidUnchecked.Swap(false) && h.cfg.SessionRevoked(c.session()):
			h.closeEnded(c)
		// c.quiet first: reading the transport is a cache miss per socket.
		case now-lastRead >= c.quiet && c.t.keepaliveDue(now, lastRead):
			switch taken, rest := c.t.keepaliveNow(); {
			case !taken:
				c.requestPing()
			case rest:
				c.finishRest()
			}
		}
	}
}

// Shutdown closes every connection with 1012 (server restarting), waits
// until they are gone, and stops the hub. When ctx ends first, the
// remaining connections are cut and ctx's error returned. Connections
// served through fasthttp's hijack are not tracked by the HTTP server, so
// call Shutdown before the server's.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.shutOnce.Do(func() {
		h.mu.Lock()
		h.closing = true
		for c := range h.clients {
			c.closeWith(wire.ReasonRestart)
		}
		h.mu.Unlock()
		close(h.stop)
		go func() { // ends when the last goroutine of the hub did
			h.wg.Wait()
			close(h.drained)
		}()
	})
	select {
	case <-h.drained:
		h.cancel()
		return nil
	case <-ctx.Done():
	}
	h.cancel() // ends replays waiting on the Store
	h.mu.Lock()
	for c := range h.clients {
		c.t.abort()
	}
	h.mu.Unlock()
	<-h.drained // prompt: every connection is closed under its goroutines
	return ctx.Err()
}
