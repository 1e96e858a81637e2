// Package redis is the delivery.Bus across instances, on Redis pub/sub
// (go-redis v9): PUBLISH/SUBSCRIBE on one Redis server, or sharded
// SPUBLISH/SSUBSCRIBE on a Redis Cluster so that fan-out scales with its
// shards.
//
// How it keeps the guarantees of delivery.Bus:
//
//   - Local delivery: Publish hands the message to this instance's handler
//     itself, before it goes to Redis, and drops the copy Redis echoes back
//     (every payload names its origin instance). So local sockets get their
//     events exactly once, and keep getting them while Redis is down.
//   - Subscribe is effective on return: it waits for Redis's confirmation
//     of the SUBSCRIBE, and the reader counts confirmations per channel, so
//     that a message still in flight from an earlier subscription (before an
//     Unsubscribe) is never taken for one of the new subscription.
//   - At most once, then HandleGap: the subscriber connection is watched
//     with pings; when it fails, the bus reconnects with backoff,
//     resubscribes every channel that still has local subscribers, and once
//     Redis confirmed them all it calls HandleGap, so the hub re-reads the
//     Store. While Redis is down, Subscribe registers the channel and returns
//     at once (the reconnect covers it), so local sockets keep working.
//   - Per-publisher order: Publish returns after Redis accepted the
//     messages, written in order on one connection per Redis node, and
//     one reader goroutine per connection hands messages over in the
//     order Redis sent them.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Options tune a Bus. Zero fields take defaults.
type Options struct {
	// Prefix namespaces the Redis channel names ("ordercast:" by default),
	// so that deployments can share a Redis.
	Prefix string
	// HealthInterval is how long the subscriber connection may be silent
	// before the bus pings Redis; a ping unanswered for as long again ends
	// the connection. Default 1 s.
	HealthInterval time.Duration
	// SubscribeTimeout bounds the wait for Redis to confirm a SUBSCRIBE;
	// beyond it the connection is deemed broken and is replaced. Default 5 s.
	SubscribeTimeout time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay, which doubles
	// after each failed attempt. Defaults 50 ms and 2 s.
	MinBackoff, MaxBackoff time.Duration
	// PublishSeconds takes how long each Publish waited for Redis (one
	// round trip for all its messages); ReceiveSeconds how long each
	// message from another instance took from its arrival to the
	// handler's return (the hub's fan-out). Nil: not observed.
	PublishSeconds, ReceiveSeconds Observer
	Log                            zerolog.Logger
}

// Observer takes one observation; a Prometheus histogram is one.
type Observer interface{ Observe(float64) }

type noObserver struct{}

func (noObserver) Observe(float64) {}

func (o *Options) setDefaults() {
	if o.Prefix == "" {
		o.Prefix = "ordercast:"
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.HealthInterval, time.Second)
	def(&o.SubscribeTimeout, 5*time.Second)
	def(&o.MinBackoff, 50*time.Millisecond)
	def(&o.MaxBackoff, 2*time.Second)
	for _, p := range []*Observer{&o.PublishSeconds, &o.ReceiveSeconds} {
		if *p == nil {
			*p = noObserver{}
		}
	}
}

// Bus is a delivery.Bus on Redis. Build it with New; the caller keeps
// ownership of the Redis client and closes it after the Bus.
type Bus struct {
	opt     Options
	log     zerolog.Logger
	client  goredis.UniversalClient
	cluster *goredis.ClusterClient // non-nil: sharded pub/sub
	origin  [originLen]byte        // this instance, to drop its own echoes

	// ctx ends with Close; it bounds the reader loops and reconnects.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the shards' loops

	mu       sync.RWMutex // guards everything below
	closed   bool
	started  bool
	channels map[string]*chanState // channels with local subscribers
	shards   map[string]*shard     // by node address; "" without cluster

	// hmu is held for reading while the handler runs, so that Close,
	// which takes it for writing, returns after the last call ended.
	hmu      sync.RWMutex
	handler  delivery.BusHandler
	hclosed  bool
	counters counters

	// localOnly: frames delivered here whose Redis publish failed.
	localOnly localOnly
}

var _ delivery.Bus = (*Bus)(nil)

// chanState is a channel with local subscribers, guarded by Bus.mu.
type chanState struct {
	key   string // the Redis channel name
	shard *shard
	// pending counts SUBSCRIBEs written on the shard's current connection
	// and not yet confirmed; messages count only once it is zero (active).
	pending int
	active  bool
	// gap: the channel was not subscribed in Redis for a while (Redis was
	// down when it was added, or its connection failed), so messages may
	// have been missed: its confirmation calls for HandleGap.
	gap    bool
	waiter chan struct{} // closed when the channel turns active
}

var (
	errClosed     = errors.New("redis bus: closed")
	errNotStarted = errors.New("redis bus: not started")
)

// New returns a Bus on client. A *goredis.ClusterClient selects sharded
// pub/sub (SPUBLISH/SSUBSCRIBE); any other client must talk to one Redis
// server. Create the client with ContextTimeoutEnabled, so that the
// contexts of Publish and Subscribe bound their network calls.
func New(client goredis.UniversalClient, opt Options) *Bus {
	opt.setDefaults()
	b := &Bus{
		opt:      opt,
		log:      opt.Log.With().Str("component", "redis-bus").Logger(),
		client:   client,
		channels: make(map[string]*chanState),
		shards:   make(map[string]*shard),
	}
	b.cluster, _ = client.(*goredis.ClusterClient)
	if _, err := rand.Read(b.origin[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Start sets the handler and, on a single Redis server, begins connecting;
// on a cluster, a shard's connection starts with its first channel.
func (b *Bus) Start(h delivery.BusHandler) error {
	b.hmu.Lock()
	if b.handler != nil {
		b.hmu.Unlock()
		return errors.New("redis bus: started twice")
	}
	b.handler = h
	b.hmu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errClosed
	}
	b.started = true
	if b.cluster == nil {
		b.shardLocked("", b.client)
	}
	return nil
}

func (b *Bus) key(channel string) string { return b.opt.Prefix + channel }

// Publish delivers msgs to this instance's handler when their channels
// have local subscribers, then to Redis for the other instances: several
// in one pipeline, so that an event's copies for its channels cost one
// round trip (Redis runs a connection's commands in order, which keeps
// the order within the call). An error means the other instances may
// not have the messages it names; local delivery happened. A frame
// delivered here earlier while its publish failed (the outbox now relays
// it) goes to Redis only.
func (b *Bus) Publish(ctx context.Context, msgs ...delivery.BusMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	var few [8]bool
	here := few[:0] // per message: this instance's subscribers have its frame
	b.mu.RLock()
	closed := b.closed
	for i := range msgs {
		here = append(here, b.channels[msgs[i].Channel] != nil)
	}
	b.mu.RUnlock()
	if closed {
		return errClosed
	}
	for i := range msgs {
		deliveredBefore := b.localOnly.take(msgs[i].Frame)
		if here[i] && !deliveredBefore {
			b.deliver(msgs[i])
		}
		here[i] = here[i] || deliveredBefore
	}
	buf := getBuffer()
	defer putBuffer(buf) // go-redis is done with it once the replies came
	if len(msgs) == 1 {
		*buf = appendPayload((*buf)[:0], b.origin, msgs[0])
		start := time.Now()
		err := b.publishCmd(ctx, b.client, msgs[0].Channel, *buf).Err()
		b.opt.PublishSeconds.Observe(time.Since(start).Seconds())
		return b.settle(msgs[0], here[0], err)
	}
	// The payloads share the buffer: sliced once it stopped growing.
	ends := make([]int, len(msgs))
	*buf = (*buf)[:0]
	for i := range msgs {
		*buf = appendPayload(*buf, b.origin, msgs[i])
		ends[i] = len(*buf)
	}
	pipe := b.client.Pipeline()
	cmds := make([]*goredis.IntCmd, len(msgs))
	for i := range msgs {
		start := 0
		if i > 0 {
			start = ends[i-1]
		}
		cmds[i] = b.publishCmd(ctx, pipe, msgs[i].Channel, (*buf)[start:ends[i]])
	}
	// go-redis sets a failed pipeline's error on each command that did
	// not go through (one answered before the connection broke keeps
	// nil, and Exec returns the first command's error). Should Exec fail
	// with no command's error set, none is known to have gone through.
	start := time.Now()
	_, execErr := pipe.Exec(ctx)
	b.opt.PublishSeconds.Observe(time.Since(start).Seconds())
	unknown := execErr != nil && !slices.ContainsFunc(cmds, func(c *goredis.IntCmd) bool { return c.Err() != nil })
	var errs []error
	for i, cmd := range cmds {
		err := cmd.Err()
		if unknown {
			err = execErr
		}
		if err := b.settle(msgs[i], here[i], err); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// publishCmd publishes payload to channel's Redis channel through c, the
// client or a pipeline of it.
func (b *Bus) publishCmd(ctx context.Context, c goredis.Cmdable, channel string, payload []byte) *goredis.IntCmd {
	if b.cluster != nil {
		return c.SPublish(ctx, b.key(channel), payload)
	}
	return c.Publish(ctx, b.key(channel), payload)
}

// settle counts the outcome of msg's publish and words its error. here:
// this instance's subscribers have the frame, so that a durable one,
// which the outbox relays, is then not delivered to them twice.
func (b *Bus) settle(msg delivery.BusMessage, here bool, err error) error {
	if err == nil {
		b.counters.published.Add(1)
		return nil
	}
	// Only durable frames come back through the outbox; ephemeral ones
	// would just crowd them out.
	if msg.Seq != 0 && here {
		b.localOnly.add(msg.Frame)
	}
	b.counters.publishErrors.Add(1)
	return fmt.Errorf("redis bus: publish %s: %w", msg.Channel, err)
}

// deliver calls the handler unless the bus is closed.
func (b *Bus) deliver(msg delivery.BusMessage) {
	b.hmu.RLock()
	defer b.hmu.RUnlock()
	if !b.hclosed && b.handler != nil {
		b.handler.HandleMessage(msg)
	}
}

func (b *Bus) gap() {
	b.counters.gaps.Add(1)
	b.hmu.RLock()
	defer b.hmu.RUnlock()
	if !b.hclosed && b.handler != nil {
		b.handler.HandleGap()
	}
}

// Subscribe subscribes channel in Redis and waits for the confirmation.
// While Redis is unreachable it only registers the channel and returns
// nil: the reconnect subscribes it and then calls HandleGap.
func (b *Bus) Subscribe(ctx context.Context, channel string) error {
	key := b.key(channel)
	var st *chanState
	for st == nil {
		sh, err := b.route(ctx, key)
		if err != nil {
			return err
		}
		b.mu.Lock()
		switch {
		case b.closed:
			b.mu.Unlock()
			return errClosed
		case !b.started:
			b.mu.Unlock()
			return errNotStarted
		case b.channels[channel] != nil:
			b.mu.Unlock()
			return nil
		case sh.retired: // since route returned it: route again
			b.mu.Unlock()
			continue
		}
		st = &chanState{key: key, shard: sh}
	}
	b.channels[channel] = st
	b.mu.Unlock()
	if err := b.awaitActive(ctx, st); err != nil {
		b.mu.Lock()
		if b.channels[channel] == st {
			delete(b.channels, channel)
		}
		b.mu.Unlock()
		return err
	}
	return nil
}

// awaitActive subscribes st on its shard's connection. On the first
// connection it waits for Redis to answer; afterwards, while the shard is
// reconnecting or down, it leaves st to the reconnect.
func (b *Bus) awaitActive(ctx context.Context, st *chanState) error {
	sh := st.shard
	timeout := time.NewTimer(b.opt.SubscribeTimeout)
	defer timeout.Stop()
	for {
		b.mu.Lock()
		sess, up, initial, changed := sh.sess, sh.up, sh.initial, sh.changed
		if sess == nil || !up {
			if initial {
				b.mu.Unlock()
				select { // the first connection attempt is under way
				case <-changed:
					continue
				case <-ctx.Done():
					return ctx.Err()
				case <-b.ctx.Done():
					return errClosed
				case <-timeout.C:
					return fmt.Errorf("redis bus: no connection to Redis after %v", b.opt.SubscribeTimeout)
				}
			}
			st.gap, sh.needGap = true, true
			if sess == nil { // down: the next connection subscribes it
				b.mu.Unlock()
				return nil
			}
			// Connecting: its snapshot of the channels may predate st.
			st.pending++
			b.mu.Unlock()
			if err := sh.subscribeCmd(ctx, sess.ps, st.key); err != nil {
				sess.fail(err)
			}
			return nil
		}
		if st.active { // the connection subscribed it when it opened
			b.mu.Unlock()
			return nil
		}
		write := st.pending == 0 // else a SUBSCRIBE is on its way already
		if write {
			st.pending++
		}
		st.waiter = make(chan struct{})
		waiter := st.waiter
		b.mu.Unlock()
		if write {
			if err := sh.subscribeCmd(ctx, sess.ps, st.key); err != nil {
				sess.fail(err)
				b.markGap(st)
				return nil
			}
		}
		select {
		case <-waiter:
			return nil
		case <-sess.done: // the reconnect subscribes it again
			b.markGap(st)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-b.ctx.Done():
			return errClosed
		case <-timeout.C:
			sess.fail(errors.New("subscribe not confirmed in time"))
			b.markGap(st)
			return nil
		}
	}
}

func (b *Bus) markGap(st *chanState) {
	b.mu.Lock()
	if !st.active {
		st.gap, st.shard.needGap = true, true
	}
	b.mu.Unlock()
}

// Unsubscribe forgets channel at once (later messages are dropped) and
// unsubscribes it in Redis.
func (b *Bus) Unsubscribe(ctx context.Context, channel string) error {
	b.mu.Lock()
	st := b.channels[channel]
	if st == nil {
		b.mu.Unlock()
		return nil
	}
	delete(b.channels, channel)
	sh := st.shard
	sess := sh.sess
	if sess != nil {
		sh.unsubs[st.key]++
	}
	b.mu.Unlock()
	if sess == nil {
		return nil
	}
	if err := sh.unsubscribeCmd(ctx, sess.ps, st.key); err != nil {
		// The connection is suspect; a new one will not have the channel.
		sess.fail(err)
	}
	return nil
}

// route returns the shard that serves key, creating it (and starting its
// connection) on first use.
func (b *Bus) route(ctx context.Context, key string) (*shard, error) {
	addr, node := "", b.client
	if b.cluster != nil {
		c, err := b.cluster.MasterForKey(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("redis bus: cluster node for %s: %w", key, err)
		}
		addr, node = c.Options().Addr, c
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	return b.shardLocked(addr, node), nil
}

func (b *Bus) shardLocked(addr string, node goredis.UniversalClient) *shard {
	if sh := b.shards[addr]; sh != nil {
		return sh
	}
	sh := newShard(b, addr, node)
	b.shards[addr] = sh
	b.wg.Add(1)
	go sh.run()
	return sh
}

// Ready reports whether every subscriber connection is up and Redis
// answers a PING: the readiness check of /readyz.
func (b *Bus) Ready(ctx context.Context) error {
	b.mu.RLock()
	down := b.downLocked()
	b.mu.RUnlock()
	if len(down) > 0 {
		return fmt.Errorf("redis bus: not connected: %s", strings.Join(down, ", "))
	}
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis bus: ping: %w", err)
	}
	return nil
}

// downLocked names the subscriber connections that are down. A cluster
// node that serves none of our channels (say, a master replaced by
// failover) does not count.
func (b *Bus) downLocked() []string {
	used := map[*shard]bool{}
	for _, st := range b.channels {
		used[st.shard] = true
	}
	var down []string
	for addr, sh := range b.shards {
		if !sh.up && (addr == "" || used[sh]) {
			if addr == "" {
				addr = "subscriber"
			}
			down = append(down, addr)
		}
	}
	return down
}

// Close stops delivery and waits for the reader loops to end; the handler
// is not called after it returns. It does not close the Redis client.
func (b *Bus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var sessions []*session
	for _, sh := range b.shards {
		if sh.sess != nil {
			sessions = append(sessions, sh.sess)
		}
	}
	b.mu.Unlock()
	b.cancel()
	for _, s := range sessions {
		s.fail(errClosed)
	}
	b.wg.Wait()
	b.hmu.Lock()
	b.hclosed = true
	b.hmu.Unlock()
	return nil
}

// counters are the bus's metric hooks, read through Stats.
type counters struct {
	published, publishErrors  atomic.Uint64
	received, echoes, dropped atomic.Uint64
	disconnects, gaps         atomic.Uint64
}

// Stats is a snapshot of the bus's counters and state.
type Stats struct {
	Published     uint64 // messages Redis accepted
	PublishErrors uint64 // publishes that failed (Redis down or slow)
	Received      uint64 // messages from other instances handed to the hub
	Echoes        uint64 // this instance's own messages, dropped on return
	Dropped       uint64 // messages for channels no longer (or not yet) subscribed, or malformed
	Disconnects   uint64 // subscriber connections lost or failed to open
	Gaps          uint64 // HandleGap calls after a reconnect
	Connected     bool   // every subscriber connection is up
	Channels      int    // channels with local subscribers
	Shards        int    // subscriber connections kept: one, or one per cluster node in use
}

// Stats returns the current counters.
func (b *Bus) Stats() Stats {
	c := &b.counters
	s := Stats{
		Published: c.published.Load(), PublishErrors: c.publishErrors.Load(),
		Received: c.received.Load(), Echoes: c.echoes.Load(), Dropped: c.dropped.Load(),
		Disconnects: c.disconnects.Load(), Gaps: c.gaps.Load(),
	}
	b.mu.RLock()
	s.Channels, s.Shards = len(b.channels), len(b.shards)
	s.Connected = b.started && len(b.downLocked()) == 0
	b.mu.RUnlock()
	return s
}
