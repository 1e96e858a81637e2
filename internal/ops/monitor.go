package ops

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/wire"
)

// Store is what the monitor asks of the store: delivery.Store's Ping and
// the outbox's lag (outbox.Store).
type Store interface {
	Ping(ctx context.Context) error
	OldestUnpublished(ctx context.Context) (time.Time, error)
}

// Hub is where ops.stats goes: this instance's subscribers of the ops
// channel, without the bus; *hub.Hub is one.
type Hub interface {
	LocalSubscribers(channel string) int
	PushLocal(channel, event string, data []byte)
}

// Sample is an instance's counters at one moment: totals since it
// started, but Connections and Subscriptions, which count now.
type Sample struct {
	Connections             int64
	Subscriptions           Subscriptions
	FramesIn, FramesOut     uint64
	Events, EventsDelivered uint64
	SlowCloses, RateLimited uint64
}

// Config is what a Monitor is built from. Zero fields take defaults.
type Config struct {
	// ID names the instance in the fleet; default: the host name and a
	// random suffix, new at every start.
	ID string
	// Version of the build; default BuildVersion().
	Version string
	// Interval between heartbeats, and between ops.stats pushes; default
	// 2 s. TTL: a heartbeat not renewed for that long is gone (the
	// instance died); default 10 s.
	Interval, TTL time.Duration
	// PingTimeout bounds each ping of the store and Redis, and each
	// heartbeat call; default 1 s.
	PingTimeout time.Duration
	Heartbeats  Heartbeats // default: in memory, this instance alone
	Store       Store      // required
	// Redis pings Redis; nil without Redis (Stats.Redis is then null).
	Redis func(ctx context.Context) error
	Hub   Hub // nil: no ops.stats
	// Errors is the ring the instance's logger writes its errors to
	// (default: an empty one, which nothing writes).
	Errors *ErrorRing
	Log    zerolog.Logger
}

// Monitor writes this instance's heartbeat, answers the fleet's Stats,
// and pushes them to the ops channel while it has subscribers here.
type Monitor struct {
	cfg     Config
	log     zerolog.Logger
	started time.Time

	mu      sync.Mutex // guards the fields below
	sample  func() Sample
	prev    Sample
	prevAt  time.Time
	self    Heartbeat
	failing bool // the last Put failed: logged once, until one succeeds

	// ctx bounds the loop's calls; Close cancels it.
	ctx     context.Context
	cancel  context.CancelFunc
	stop    chan struct{}
	done    chan struct{}
	running bool
	once    sync.Once
}

// New returns a monitor; Start runs its heartbeat.
func New(cfg Config) *Monitor {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.Interval, 2*time.Second)
	def(&cfg.TTL, 10*time.Second)
	def(&cfg.PingTimeout, time.Second)
	if cfg.ID == "" {
		cfg.ID = defaultID()
	}
	if cfg.Version == "" {
		cfg.Version = BuildVersion()
	}
	if cfg.Heartbeats == nil {
		cfg.Heartbeats = NewMemory()
	}
	if cfg.Errors == nil {
		cfg.Errors = NewErrorRing(DefaultErrorRing)
	}
	now := time.Now().UTC()
	m := &Monitor{
		cfg: cfg, log: cfg.Log.With().Str("component", "ops").Logger(), started: now, prevAt: now,
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.self = Heartbeat{Instance: Instance{ID: cfg.ID, Version: cfg.Version, StartedAt: now, SeenAt: now}, Errors: []Error{}}
	return m
}

// defaultID is the host name and 6 random hex digits: instances of one
// host (or containers that share a name) stay apart, and a restarted
// instance is a new one.
func defaultID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "ordercast"
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return host + "-" + hex.EncodeToString(b)
}

// ID is the instance's id in the fleet.
func (m *Monitor) ID() string { return m.cfg.ID }

// Version is the instance's version.
func (m *Monitor) Version() string { return m.cfg.Version }

// Errors is the ring of the instance's last errors, a zerolog hook.
func (m *Monitor) Errors() *ErrorRing { return m.cfg.Errors }

// Start runs the heartbeat until Close, with sample reading the
// instance's counters: one now, then one every Interval.
func (m *Monitor) Start(sample func() Sample) {
	m.mu.Lock()
	m.sample = sample
	m.running = true
	m.mu.Unlock()
	m.beat()
	go m.run()
}

// Close stops the heartbeat and deletes this instance's, so that the
// fleet sees it gone at once; it returns once the loop ended.
func (m *Monitor) Close() {
	m.once.Do(func() {
		close(m.stop)
		m.mu.Lock()
		running := m.running
		m.mu.Unlock()
		if running {
			<-m.done
		}
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.PingTimeout)
		defer cancel()
		if err := m.cfg.Heartbeats.Delete(ctx, m.cfg.ID); err != nil {
			m.log.Warn().Err(err).Msg("delete heartbeat; it expires")
		}
		m.cancel()
	})
}

func (m *Monitor) run() {
	defer close(m.done)
	tick := time.NewTicker(m.cfg.Interval)
	defer tick.Stop()
	m.put()
	for {
		select {
		case <-m.stop:
			return
		case <-tick.C:
			m.beat()
			m.put()
			m.push()
		}
	}
}

// beat takes a sample and makes this instance's heartbeat of it.
func (m *Monitor) beat() {
	now := time.Now().UTC()
	errs := m.cfg.Errors.Last()
	for i := range errs {
		errs[i].Instance = m.cfg.ID
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sample()
	secs := now.Sub(m.prevAt).Seconds()
	rate := func(cur, prev uint64) float64 {
		if secs <= 0 || cur < prev {
			return 0
		}
		return round(float64(cur-prev)/secs, 100)
	}
	m.self = Heartbeat{Instance: Instance{
		ID: m.cfg.ID, Version: m.cfg.Version, StartedAt: m.started,
		Connections: s.Connections, Subscriptions: s.Subscriptions,
		FramesInPerS: rate(s.FramesIn, m.prev.FramesIn), FramesOutPerS: rate(s.FramesOut, m.prev.FramesOut),
		EventsPerS: rate(s.Events, m.prev.Events), EventsDeliveredPerS: rate(s.EventsDelivered, m.prev.EventsDelivered),
		SlowCloses: s.SlowCloses, RateLimited: s.RateLimited, SeenAt: now,
	}, Errors: errs}
	m.prev, m.prevAt = s, now
}

// current is this instance's latest heartbeat, with its errors as they
// are now.
func (m *Monitor) current() Heartbeat {
	m.mu.Lock()
	hb := m.self
	m.mu.Unlock()
	hb.Errors = m.cfg.Errors.Last()
	for i := range hb.Errors {
		hb.Errors[i].Instance = m.cfg.ID
	}
	return hb
}

// put writes the heartbeat; a failure is logged once until one succeeds
// (Redis down shows as such in Stats).
func (m *Monitor) put() {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.PingTimeout)
	defer cancel()
	m.mu.Lock()
	hb := m.self
	m.mu.Unlock()
	err := m.cfg.Heartbeats.Put(ctx, hb, m.cfg.TTL)
	m.mu.Lock()
	wasFailing := m.failing
	m.failing = err != nil
	m.mu.Unlock()
	switch {
	case err != nil && !wasFailing:
		m.log.Warn().Err(err).Msg("heartbeat not written; the other instances will not list this one")
	case err == nil && wasFailing:
		m.log.Info().Msg("heartbeat written again")
	}
}

// push sends the fleet's Stats as ops.stats to this instance's ops
// subscribers, if it has any.
func (m *Monitor) push() {
	if m.cfg.Hub == nil || m.cfg.Hub.LocalSubscribers(wire.OpsChannel) == 0 {
		return
	}
	data, err := json.Marshal(m.Stats(m.ctx))
	if err != nil {
		m.log.Error().Err(err).Msg("encode ops.stats")
		return
	}
	m.cfg.Hub.PushLocal(wire.OpsChannel, wire.EventOpsStats, data)
}

// Stats returns the fleet as this instance sees it: every instance whose
// heartbeat is live (this one as of its last beat), the store's and
// Redis's health by a ping from here, the outbox's lag and the last
// errors of every instance. The pings run at once, each within
// PingTimeout; a heartbeat store that does not answer leaves this
// instance alone in the list.
func (m *Monitor) Stats(ctx context.Context) Stats {
	var st Stats
	var beats []Heartbeat
	var wg sync.WaitGroup
	wg.Go(func() {
		c, cancel := context.WithTimeout(ctx, m.cfg.PingTimeout)
		defer cancel()
		var err error
		if beats, err = m.cfg.Heartbeats.List(c); err != nil {
			m.log.Warn().Err(err).Msg("list heartbeats")
		}
	})
	wg.Go(func() { st.Store = m.ping(ctx, m.cfg.Store.Ping) })
	if m.cfg.Redis != nil {
		wg.Go(func() {
			h := m.ping(ctx, m.cfg.Redis)
			st.Redis = &h
		})
	}
	wg.Go(func() { st.Outbox = m.outbox(ctx) })
	wg.Wait()

	self := m.current()
	beats = slices.DeleteFunc(beats, func(hb Heartbeat) bool { return hb.ID == self.ID })
	beats = append(beats, self)
	slices.SortFunc(beats, func(a, b Heartbeat) int { return cmp.Compare(a.ID, b.ID) })
	st.Instances = make([]Instance, len(beats))
	st.Errors = []Error{}
	for i, hb := range beats {
		st.Instances[i] = hb.Instance
		for _, e := range hb.Errors {
			e.Instance = hb.ID
			st.Errors = append(st.Errors, e)
		}
	}
	slices.SortStableFunc(st.Errors, func(a, b Error) int { return b.At.Compare(a.At) })
	if len(st.Errors) > MaxErrors {
		st.Errors = st.Errors[:MaxErrors]
	}
	return st
}

// ping times one ping within PingTimeout.
func (m *Monitor) ping(ctx context.Context, ping func(context.Context) error) Health {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.PingTimeout)
	defer cancel()
	start := time.Now()
	err := ping(ctx)
	return Health{OK: err == nil, LatencyMS: round(float64(time.Since(start))/float64(time.Millisecond), 1000)}
}

func (m *Monitor) outbox(ctx context.Context) Outbox {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.PingTimeout)
	defer cancel()
	at, err := m.cfg.Store.OldestUnpublished(ctx)
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			m.log.Warn().Err(err).Msg("outbox lag")
		}
		return Outbox{}
	}
	age := 0.0
	if !at.IsZero() {
		age = max(0, round(time.Since(at).Seconds(), 1000))
	}
	return Outbox{OldestUnpublishedS: &age}
}

// round rounds v to 1/per.
func round(v, per float64) float64 { return math.Round(v*per) / per }
