package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// shard is the subscriber side for one Redis server (one master node of a
// cluster): one connection at a time, owned by the shard's loop.
type shard struct {
	b    *Bus
	addr string
	node goredis.UniversalClient

	// Guarded by Bus.mu.
	sess    *session // nil while down (between connections)
	up      bool     // sess has confirmed every channel it was opened with
	initial bool     // no connection attempt has ended yet
	changed chan struct{}
	// needGap: messages may have been lost on some channel since the last
	// connection came up; the next one calls HandleGap.
	needGap bool
	// unsubs counts UNSUBSCRIBEs written on sess and not yet confirmed, so
	// that an unsubscription Redis did on its own (a cluster slot moved)
	// can be told from ours.
	unsubs map[string]int
	// retired: the shard left Bus.shards and its loop ended (retireIdle);
	// a channel routed to it must be routed again.
	retired bool
}

func newShard(b *Bus, addr string, node goredis.UniversalClient) *shard {
	return &shard{b: b, addr: addr, node: node, initial: true, changed: make(chan struct{}), unsubs: map[string]int{}}
}

// signalLocked wakes Subscribe calls waiting for the first connection.
func (sh *shard) signalLocked() {
	close(sh.changed)
	sh.changed = make(chan struct{})
}

// session is one subscriber connection. fail ends it from any goroutine.
type session struct {
	ps    *goredis.PubSub
	token string // payload of the PING that marks the connection as up
	done  chan struct{}
	once  sync.Once
}

func (s *session) fail(error) {
	s.once.Do(func() {
		close(s.done)
		_ = s.ps.Close() // ends the reader's receive
	})
}

// run keeps the shard connected until the bus closes: open, serve until
// the connection fails, back off, and again.
func (sh *shard) run() {
	b := sh.b
	defer b.wg.Done()
	backoff := b.opt.MinBackoff
	for gen := 1; ; gen++ {
		if gen > 1 && b.cluster != nil {
			sh.reroute()
			if sh.retireIdle() {
				return
			}
		}
		sess, err := sh.open(gen)
		if sess == nil {
			return // closed
		}
		wasUp := false
		if err == nil {
			wasUp, err = sh.serve(sess)
		}
		sess.fail(err)
		sh.lost(sess, err, wasUp)
		if wasUp {
			backoff = b.opt.MinBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-b.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, b.opt.MaxBackoff)
	}
}

// open installs a new connection and writes a SUBSCRIBE for every local
// channel of the shard, then a PING whose answer, coming after all the
// confirmations, marks the connection as up. It returns nil when the bus
// closed.
func (sh *shard) open(gen int) (*session, error) {
	b := sh.b
	sess := &session{
		ps:    sh.node.Subscribe(b.ctx), // no channel yet: connects on first use
		token: fmt.Sprintf("ordercast-bus-%d", gen),
		done:  make(chan struct{}),
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		_ = sess.ps.Close()
		return nil, nil
	}
	sh.sess, sh.up, sh.unsubs = sess, false, map[string]int{}
	var keys []string
	for _, st := range b.channels {
		if st.shard == sh {
			st.pending, st.active = 1, false
			keys = append(keys, st.key)
		}
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(b.ctx, b.opt.SubscribeTimeout)
	defer cancel()
	const batch = 512 // channels per SUBSCRIBE command
	for len(keys) > 0 {
		n := min(batch, len(keys))
		if err := sh.subscribeCmd(ctx, sess.ps, keys[:n]...); err != nil {
			return sess, err
		}
		keys = keys[n:]
	}
	return sess, sess.ps.Ping(ctx, sess.token)
}

// serve reads the connection until it fails. Silence longer than
// HealthInterval is answered with a PING; silence after a PING ends it.
func (sh *shard) serve(sess *session) (wasUp bool, err error) {
	b := sh.b
	pinged := false
	for {
		msg, err := sess.ps.ReceiveTimeout(b.ctx, b.opt.HealthInterval)
		if err != nil {
			if !isTimeout(err) {
				return wasUp, err
			}
			if pinged {
				return wasUp, errors.New("redis did not answer a ping")
			}
			if err := sess.ps.Ping(b.ctx); err != nil {
				return wasUp, err
			}
			pinged = true
			continue
		}
		pinged = false
		switch m := msg.(type) {
		case *goredis.Message:
			sh.message(m)
		case *goredis.Subscription:
			if err := sh.confirm(m); err != nil {
				return wasUp, err
			}
		case *goredis.Pong:
			if m.Payload == sess.token && !wasUp {
				wasUp = true
				sh.markUp(sess)
			}
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// message hands a message from another instance to the handler, if its
// channel is subscribed and confirmed on this connection.
func (sh *shard) message(m *goredis.Message) {
	b := sh.b
	start := time.Now()
	channel, okName := strings.CutPrefix(m.Channel, b.opt.Prefix)
	p, okPayload := parsePayload(m.Payload)
	switch {
	case !okName || !okPayload:
		b.counters.dropped.Add(1)
		return
	case p.origin == b.originKey():
		b.counters.echoes.Add(1) // delivered locally when published
		return
	}
	b.mu.RLock()
	st := b.channels[channel]
	ok := st != nil && st.active && st.shard == sh
	b.mu.RUnlock()
	if !ok {
		b.counters.dropped.Add(1)
		return
	}
	msg := busMessage(channel, p)
	if b.localOnly.take(msg.Frame) {
		b.counters.echoes.Add(1) // relayed by another instance; delivered here before
		return
	}
	b.counters.received.Add(1)
	b.deliver(msg)
	b.opt.ReceiveSeconds.Observe(time.Since(start).Seconds())
}

// confirm counts Redis's answers to SUBSCRIBE and UNSUBSCRIBE.
func (sh *shard) confirm(m *goredis.Subscription) error {
	b := sh.b
	channel, ok := strings.CutPrefix(m.Channel, b.opt.Prefix)
	if !ok {
		return nil
	}
	switch m.Kind {
	case "subscribe", "ssubscribe":
		b.mu.Lock()
		st := b.channels[channel]
		if st == nil || st.shard != sh {
			b.mu.Unlock()
			return nil
		}
		gapNow := false
		if st.pending--; st.pending <= 0 {
			st.pending = 0
			if !st.active {
				st.active = true
				// Before the connection is up, markUp calls HandleGap for all.
				gapNow, st.gap = st.gap && sh.up, false
			}
			if st.waiter != nil {
				close(st.waiter)
				st.waiter = nil
			}
		}
		b.mu.Unlock()
		if gapNow {
			b.gap()
		}
	case "unsubscribe", "sunsubscribe":
		b.mu.Lock()
		if n := sh.unsubs[m.Channel]; n > 0 {
			if n == 1 {
				delete(sh.unsubs, m.Channel)
			} else {
				sh.unsubs[m.Channel] = n - 1
			}
			b.mu.Unlock()
			return nil
		}
		st := b.channels[channel]
		wanted := st != nil && st.shard == sh
		b.mu.Unlock()
		if wanted {
			return fmt.Errorf("redis unsubscribed %s on its own (cluster slot moved?)", m.Channel)
		}
	}
	return nil
}

// markUp records that sess confirmed its channels, and calls HandleGap if
// messages may have been lost since the previous connection.
func (sh *shard) markUp(sess *session) {
	b := sh.b
	b.mu.Lock()
	if sh.sess != sess {
		b.mu.Unlock()
		return
	}
	sh.up, sh.initial = true, false
	gap := sh.needGap
	sh.needGap = false
	sh.signalLocked()
	b.mu.Unlock()
	b.log.Info().Str("node", sh.addr).Bool("gap", gap).Msg("subscriber connected")
	if gap {
		b.gap()
	}
}

// lost records the end of sess: its channels are no longer confirmed, and
// if any had been, the next connection must call HandleGap.
func (sh *shard) lost(sess *session, err error, wasUp bool) {
	b := sh.b
	b.counters.disconnects.Add(1)
	b.mu.Lock()
	if sh.sess == sess {
		sh.sess, sh.up, sh.initial = nil, false, false
		sh.signalLocked()
	}
	for _, st := range b.channels {
		if st.shard == sh {
			st.pending, st.active, st.gap = 0, false, true
			sh.needGap = true
		}
	}
	closed := b.closed
	b.mu.Unlock()
	if !closed {
		b.log.Warn().Err(err).Str("node", sh.addr).Bool("was_up", wasUp).Msg("subscriber connection lost; reconnecting")
	}
}

// reroute moves the shard's channels whose slot is now served by another
// node (cluster failover or resharding) to that node's shard.
func (sh *shard) reroute() {
	b := sh.b
	ctx, cancel := context.WithTimeout(b.ctx, b.opt.SubscribeTimeout)
	defer cancel()
	b.cluster.ReloadState(ctx)
	b.mu.RLock()
	var names []string
	for name, st := range b.channels {
		if st.shard == sh {
			names = append(names, name)
		}
	}
	b.mu.RUnlock()
	for _, name := range names {
		other, err := b.route(ctx, b.key(name))
		if err != nil || other == sh {
			continue
		}
		b.mu.Lock()
		st := b.channels[name]
		if st == nil || st.shard != sh || other.retired {
			b.mu.Unlock()
			continue
		}
		st.shard, st.active, st.pending, st.gap = other, false, 0, true
		other.needGap = true
		sess := other.sess
		if sess != nil {
			st.pending++
		}
		b.mu.Unlock()
		if sess != nil {
			if err := other.subscribeCmd(ctx, sess.ps, st.key); err != nil {
				sess.fail(err)
			}
		}
	}
}

// retireIdle ends a cluster shard that serves none of our channels once
// its connection was lost: its node may be gone for good (a failover, a
// resharding, a node removed), and reconnecting to it forever would cost
// a goroutine and a dial every MaxBackoff. route makes a new shard for
// the node if a channel needs it again.
func (sh *shard) retireIdle() bool {
	b := sh.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, st := range b.channels {
		if st.shard == sh {
			return false
		}
	}
	if b.shards[sh.addr] == sh {
		delete(b.shards, sh.addr)
	}
	sh.retired = true
	b.log.Info().Str("node", sh.addr).Msg("subscriber connection retired: no channel on this node")
	return true
}

// subscribeCmd writes SUBSCRIBE, or SSUBSCRIBE on a cluster, where each
// command must name channels of one slot: one command per channel.
func (sh *shard) subscribeCmd(ctx context.Context, ps *goredis.PubSub, keys ...string) error {
	if sh.b.cluster == nil {
		return ps.Subscribe(ctx, keys...)
	}
	for _, k := range keys {
		if err := ps.SSubscribe(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

func (sh *shard) unsubscribeCmd(ctx context.Context, ps *goredis.PubSub, key string) error {
	if sh.b.cluster == nil {
		return ps.Unsubscribe(ctx, key)
	}
	return ps.SUnsubscribe(ctx, key)
}
