// Package sessions keeps, in memory, the sessions that ended (logout, a
// reused refresh token, ordercast admin revoke), so that every access-token
// verification can refuse theirs without reading the store, and tells the
// other instances over the bus so that they do the same and close the
// sessions' sockets at once.
//
// The store holds the truth (delivery.Store.RevokeSession and its kin
// record every revocation). An instance loads the revocations of the last
// auth.RevocationHorizon when it starts, hears of new ones on the bus's
// ControlChannel, and reads the store again every Options.Refresh as a
// safety net: for messages the bus lost, and for revocations written by a
// process without a bus (ordercast admin revoke without Redis). A
// revocation is forgotten once auth.RevocationHorizon has passed: every
// access token of its session has expired by then.
package sessions

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/delivery"
)

// ControlChannel is the bus channel on which instances announce ended
// sessions. No client can subscribe to it: it is no channel of the
// websocket protocol (wire.ParseChannel refuses it).
const ControlChannel = "ops.revoke"

// Store is what the list reads; delivery.Store satisfies it.
type Store interface {
	RevokedSessions(ctx context.Context, since time.Time) ([]delivery.Revocation, error)
}

// Options tune a List. Zero fields take defaults.
type Options struct {
	// Refresh is how often the store is read for revocations this
	// instance was not told of. Default 1 s, so that a session ended
	// without the bus has its sockets closed within 2 s.
	Refresh time.Duration
	// Overlap is how far before the latest revocation read each read
	// reaches back, for writers whose clocks are behind and transactions
	// that committed after later ones. Default 1 minute.
	Overlap time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	Log zerolog.Logger
}

func (o *Options) setDefaults() {
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.Overlap <= 0 {
		o.Overlap = time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// List is the in-memory list of ended sessions of one instance. It is
// safe for concurrent use.
type List struct {
	store Store
	opt   Options
	log   zerolog.Logger

	mu      sync.RWMutex
	revoked map[string]time.Time // sid → when it ended
	latest  time.Time            // the latest revocation read from the store
	onEnd   func(sid string)     // closes the session's sockets; nil: none
	bus     delivery.Bus         // where Announce publishes; nil: nowhere

	kick    chan struct{} // asks the refresher for a read now
	stop    chan struct{}
	done    chan struct{} // closed when the refresher ended
	started bool          // guarded by mu
}

// New returns a list on store; Start fills it.
func New(store Store, opt Options) *List {
	opt.setDefaults()
	return &List{
		store:   store,
		opt:     opt,
		log:     opt.Log.With().Str("component", "sessions").Logger(),
		revoked: make(map[string]time.Time),
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// Start loads the revocations that may still matter and starts the
// periodic read of the store; stop it with Close. An error (the store
// did not answer) leaves the list unstarted.
func (l *List) Start(ctx context.Context) error {
	if err := l.refresh(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	l.started = true
	l.mu.Unlock()
	go l.refreshLoop()
	return nil
}

// Close stops the periodic read; call it once.
func (l *List) Close() {
	close(l.stop)
	l.mu.RLock()
	started := l.started
	l.mu.RUnlock()
	if started {
		<-l.done
	}
}

// Revoked reports whether the session sid ended: what auth.Tokens asks on
// every verification (SetRevocations), so it reads memory only.
func (l *List) Revoked(sid string) bool {
	l.mu.RLock()
	_, ok := l.revoked[sid]
	l.mu.RUnlock()
	return ok
}

// OnEnd sets what is called, once per session, when the list learns that
// a session ended: the hub's CloseSession. Set it before the list hears of
// revocations that matter (before the server accepts connections).
func (l *List) OnEnd(fn func(sid string)) {
	l.mu.Lock()
	l.onEnd = fn
	l.mu.Unlock()
}

// Announce takes sessions the store just ended on this instance: they are
// refused here at once, their sockets here closed, and the other
// instances told over the bus. A failed publish is logged only: the
// others read the store within Options.Refresh.
func (l *List) Announce(ctx context.Context, sids ...string) {
	l.add(l.opt.Now(), sids...)
	l.mu.RLock()
	b := l.bus
	l.mu.RUnlock()
	if b == nil {
		return
	}
	if err := Push(ctx, b, sids...); err != nil {
		l.log.Warn().Err(err).Int("sessions", len(sids)).Msg("announce ended sessions; the other instances read them from the store")
	}
}

// Push publishes ended sessions on b's ControlChannel, for processes
// that keep no list themselves (ordercast admin revoke).
func Push(ctx context.Context, b delivery.Bus, sids ...string) error {
	frame, err := json.Marshal(ended{Ended: sids})
	if err != nil {
		return err
	}
	return b.Publish(ctx, delivery.BusMessage{Channel: ControlChannel, Frame: frame})
}

// ended is a message of the ControlChannel.
type ended struct {
	Ended []string `json:"ended"`
}

// add records sids as ended at at and calls onEnd for each one the list
// did not hold yet.
func (l *List) add(at time.Time, sids ...string) {
	var fresh []string
	l.mu.Lock()
	for _, sid := range sids {
		if _, ok := l.revoked[sid]; !ok {
			l.revoked[sid] = at
			fresh = append(fresh, sid)
		}
	}
	onEnd := l.onEnd
	l.mu.Unlock()
	if onEnd != nil {
		for _, sid := range fresh {
			onEnd(sid)
		}
	}
}

func (l *List) refreshLoop() {
	defer close(l.done)
	tick := time.NewTicker(l.opt.Refresh)
	defer tick.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-tick.C:
		case <-l.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), l.opt.Refresh*5)
		if err := l.refresh(ctx); err != nil {
			l.log.Warn().Err(err).Msg("read ended sessions")
		}
		cancel()
	}
}

// refreshNow asks the refresher for a read at once (after the bus may
// have lost messages).
func (l *List) refreshNow() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// refresh reads the revocations since the latest one read (less the
// overlap) and forgets those past the horizon.
func (l *List) refresh(ctx context.Context) error {
	now := l.opt.Now()
	horizon := now.Add(-auth.RevocationHorizon)
	l.mu.RLock()
	since := l.latest.Add(-l.opt.Overlap)
	l.mu.RUnlock()
	if since.Before(horizon) {
		since = horizon
	}
	revs, err := l.store.RevokedSessions(ctx, since)
	if err != nil {
		return err
	}
	for _, r := range revs {
		l.add(r.RevokedAt, r.SessionID)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range revs {
		if r.RevokedAt.After(l.latest) {
			l.latest = r.RevokedAt
		}
	}
	for sid, at := range l.revoked {
		if at.Before(horizon) {
			delete(l.revoked, sid)
		}
	}
	return nil
}

// received takes a message of the ControlChannel.
func (l *List) received(frame []byte) {
	var m ended
	if err := json.Unmarshal(frame, &m); err != nil {
		l.log.Warn().Err(err).Msg("malformed message on " + ControlChannel)
		return
	}
	l.add(l.opt.Now(), m.Ended...)
}
