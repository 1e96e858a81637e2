package limits

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Defaults of API.md: sockets per user and per instance.
const (
	DefaultMaxConnsPerUser = 10
	DefaultMaxConns        = 18000
)

// ConnRetryAfter is the Retry-After of a refused handshake.
const ConnRetryAfter = 5 * time.Second

// ConnsConfig configures Conns.
type ConnsConfig struct {
	// PerUser caps a user's sockets (MAX_CONNS_PER_USER); 0: no cap.
	PerUser int
	// Max caps this instance's sockets (MAX_CONNS); 0: no cap.
	Max int
	// Shared, when not nil, counts each user's sockets across instances;
	// without it the count is this instance's.
	Shared *Shared
	// Presence keeps the counts in Shared even without a per-user cap, so
	// that Present answers for every instance (Web Push asks it).
	Presence bool
	Log      zerolog.Logger
}

// Conns counts open sockets per user and on this instance, refusing a
// handshake beyond either cap. With Shared the per-user count is the sum
// over every live instance: each instance writes its own count of each
// user to Redis (see Shared), at once when a socket opens and soon after
// one closes, and refreshes it while its sockets live.
type Conns struct {
	cfg ConnsConfig

	mu    sync.Mutex
	users map[delivery.ID]*userConns
	total int
	seq   uint64                   // orders this instance's writes of a user's count
	dirty map[delivery.ID]struct{} // counts not yet written to Shared

	wake    chan struct{} // a count became dirty
	stop    chan struct{}
	done    chan struct{}
	stopped sync.Once
	lastLog atomic.Int64 // Unix ns of the last Redis failure logged

	refusedUser, refusedInstance atomic.Uint64
}

// ConnsStats counts the refused sockets since start: over the per-user
// cap, and over the instance's.
type ConnsStats struct {
	RefusedPerUser, RefusedInstance uint64
}

// Stats returns the refusals so far; none for a nil *Conns.
func (c *Conns) Stats() ConnsStats {
	if c == nil {
		return ConnsStats{}
	}
	return ConnsStats{RefusedPerUser: c.refusedUser.Load(), RefusedInstance: c.refusedInstance.Load()}
}

type userConns struct {
	n   int
	seq uint64 // c.seq when n last changed
}

// NewConns returns the counter; with cfg.Shared it starts the writer that
// Close stops.
func NewConns(cfg ConnsConfig) *Conns {
	c := &Conns{
		cfg:   cfg,
		users: make(map[delivery.ID]*userConns),
		dirty: make(map[delivery.ID]struct{}),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if c.shared() {
		go c.writeLoop()
	} else {
		close(c.done)
	}
	return c
}

// shared reports whether counts go to Redis: a per-user cap needs them,
// and so does Present with Presence.
func (c *Conns) shared() bool {
	return c.cfg.Shared != nil && (c.cfg.PerUser > 0 || c.cfg.Presence)
}

// Acquire counts a socket of user, or refuses it: 503 unavailable when
// the instance is full, 429 too_many_connections when the user has
// PerUser sockets already, each with Retry-After. Release the lease when
// the socket is gone. A nil *Conns counts nothing.
func (c *Conns) Acquire(ctx context.Context, user delivery.ID) (*Lease, error) {
	if c == nil {
		return nil, nil
	}
	c.mu.Lock()
	if c.cfg.Max > 0 && c.total >= c.cfg.Max {
		c.mu.Unlock()
		c.refusedInstance.Add(1)
		return nil, refuse(delivery.EUNAVAILABLE, ConnRetryAfter, "this instance has all the connections it takes; retry shortly")
	}
	u := c.users[user]
	if u == nil {
		u = &userConns{}
		c.users[user] = u
	}
	if c.cfg.PerUser > 0 && u.n >= c.cfg.PerUser {
		c.mu.Unlock()
		return nil, c.tooMany()
	}
	c.total++
	n, seq := c.changeLocked(user, u, +1)
	c.mu.Unlock()
	l := &Lease{c: c, user: user}
	if !c.shared() {
		return l, nil
	}
	ok, err := c.cfg.Shared.put(ctx, user, n, seq, c.cfg.PerUser)
	switch {
	case err != nil:
		// Redis is away: count on this instance alone rather than refuse
		// everyone; the writer retries the count.
		c.logFailure(err)
		c.markDirty(user)
	case !ok:
		l.Release()
		return nil, c.tooMany()
	}
	return l, nil
}

func (c *Conns) tooMany() error {
	c.refusedUser.Add(1)
	return refuse(delivery.ETOOMANYCONNS, ConnRetryAfter, "at most %d connections per user", c.cfg.PerUser)
}

// changeLocked moves u's count by d and returns the new count with its
// sequence number. Callers hold mu.
func (c *Conns) changeLocked(user delivery.ID, u *userConns, d int) (int, uint64) {
	c.seq++
	u.n += d
	u.seq = c.seq
	if u.n == 0 && !c.shared() {
		delete(c.users, user)
	}
	return u.n, u.seq
}

func (c *Conns) release(user delivery.ID) {
	c.mu.Lock()
	c.total--
	c.changeLocked(user, c.users[user], -1)
	c.mu.Unlock()
	if c.shared() {
		c.markDirty(user)
	}
}

func (c *Conns) markDirty(user delivery.ID) {
	c.mu.Lock()
	c.dirty[user] = struct{}{}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Lease is one counted socket.
type Lease struct {
	c    *Conns
	user delivery.ID
	once sync.Once
}

// Release uncounts the socket; later calls do nothing, and so does a nil
// Lease.
func (l *Lease) Release() {
	if l == nil {
		return
	}
	l.once.Do(func() { l.c.release(l.user) })
}

// Present returns the set of those of users that have a socket or stream
// open, on this instance or, with Shared, on another live one (the
// counts of an instance that died last until its deadline, TTL after its
// last heartbeat). With Redis away it returns what this instance knows,
// and the error. A nil *Conns knows of none.
func (c *Conns) Present(ctx context.Context, users []delivery.ID) (map[delivery.ID]bool, error) {
	present := make(map[delivery.ID]bool)
	if c == nil {
		return present, nil
	}
	var elsewhere []delivery.ID
	c.mu.Lock()
	for _, user := range users {
		if u := c.users[user]; u != nil && u.n > 0 {
			present[user] = true
		} else {
			elsewhere = append(elsewhere, user)
		}
	}
	c.mu.Unlock()
	if !c.shared() || len(elsewhere) == 0 {
		return present, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	others, err := c.cfg.Shared.present(ctx, elsewhere)
	for _, user := range others {
		present[user] = true
	}
	return present, err
}

// Open is the number of sockets counted on this instance.
func (c *Conns) Open() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// writeLoop writes released counts to Redis as they change, and every
// count of this instance each heartbeat, so that they outlive their TTL
// only while this instance lives.
func (c *Conns) writeLoop() {
	defer close(c.done)
	tick := time.NewTicker(c.cfg.Shared.heartbeat())
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			// Sockets are closed by now: write their zeros.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.write(ctx, false)
			cancel()
			return
		case <-c.wake:
			c.write(context.Background(), false)
		case <-tick.C:
			c.write(context.Background(), true)
		}
	}
}

// Heartbeat writes every count of this instance to Redis now, extending
// their TTL; the writer calls it every TTL/3.
func (c *Conns) Heartbeat(ctx context.Context) error { return c.write(ctx, true) }

// write writes the dirty counts, or all of them when all, and forgets the
// zeros that Redis took.
func (c *Conns) write(ctx context.Context, all bool) error {
	c.mu.Lock()
	var batch []sharedCount
	for user, u := range c.users {
		if _, dirty := c.dirty[user]; dirty || (all && u.n > 0) {
			batch = append(batch, sharedCount{user: user, n: u.n, seq: u.seq})
		}
	}
	c.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	written, err := c.cfg.Shared.putAll(ctx, batch)
	if err != nil {
		c.logFailure(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, w := range written {
		u := c.users[w.user]
		if u == nil || u.seq != w.seq {
			continue // changed since: still dirty
		}
		delete(c.dirty, w.user)
		if u.n == 0 {
			delete(c.users, w.user)
		}
	}
	return err
}

// logFailure logs a Redis failure, at most one every 10 s: an outage
// would otherwise log every handshake.
func (c *Conns) logFailure(err error) {
	now := time.Now().UnixNano()
	last := c.lastLog.Load()
	if now-last < int64(10*time.Second) || !c.lastLog.CompareAndSwap(last, now) {
		return
	}
	c.cfg.Log.Warn().Err(err).Msg("connection counts: redis unavailable; counting this instance's sockets only")
}

// Close stops the writer after writing the counts still dirty (the
// hub's sockets are closed by then, so they are zeros). Call it once
// the hub shut down, before the Redis client closes.
func (c *Conns) Close() {
	if c == nil {
		return
	}
	c.stopped.Do(func() {
		if c.shared() {
			close(c.stop)
		}
	})
	<-c.done
}
