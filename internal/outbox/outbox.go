// Package outbox makes the order event log a transactional outbox, so that
// no committed durable event is lost to live subscribers when the instance
// that committed it dies (or its bus fails) before publishing it.
//
// Every event is written unpublished in its commit's transaction (the
// stores' migration 00003). The committing instance hands it to Committed
// with the publications the order service routed; they are published at
// once and, once the bus took every one, the event is marked published
// (batched, off the request path). Any live instance runs the relay: events
// still unpublished Grace after their creation are routed again by the
// service's rules (Config.Route), published, and marked in one transaction that holds them locked (PostgreSQL:
// FOR UPDATE SKIP LOCKED), so that relays of several instances share the
// work and never publish one event twice. An event that both its committer
// and a relay publish (the mark was slow or failed) reaches subscribers
// once anyway: the hub drops the copy by seq on order channels, and by
// (order, seq) on feeds.
package outbox

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
)

// Store is the outbox side of the event log; the SQLite and PostgreSQL
// stores implement it.
type Store interface {
	// RelayPending hands publish, oldest first, up to limit unpublished
	// events created in [from, to), marks published those it accepted,
	// and stops at its first error, which it returns.
	RelayPending(ctx context.Context, from, to time.Time, limit int, publish func(delivery.Event) error) (int, error)
	// MarkPublished marks events (by OrderID and Seq) as published.
	MarkPublished(ctx context.Context, events []delivery.Event) error
	// ExpirePending marks up to limit unpublished events created before
	// before as published, unpublished, and returns how many.
	ExpirePending(ctx context.Context, before time.Time, limit int) (int, error)
	// OldestUnpublished returns the creation time of the oldest
	// unpublished event; false when there is none.
	OldestUnpublished(ctx context.Context) (time.Time, bool, error)
}

// Config is what an Outbox is built from. Zero durations and sizes take
// defaults.
type Config struct {
	Store     Store              // required
	Publisher delivery.Publisher // required: the hub's publisher
	// Route returns the publications of an event read back from the log
	// (orders.RouteStored); required.
	Route func(ctx context.Context, ev delivery.Event) ([]delivery.Publication, error)
	// Grace is how old an unpublished event must be before a relay
	// publishes it: longer than a commit's own publish and mark take.
	// Default 3 s.
	Grace time.Duration
	// Interval between relay rounds. Default 1 s.
	Interval time.Duration
	// Horizon: events unpublished for longer are marked without being
	// published (subscribers resumed from the log long since). Default 10 min.
	Horizon time.Duration
	// Batch is how many events one relay transaction handles. Default 100.
	Batch int
	// MarkQueue bounds the events waiting to be marked; beyond it marks
	// are dropped and the relay publishes those events again. Default 4096.
	MarkQueue int
	// BusUp, when set, tells whether the bus reaches the other instances;
	// relay rounds wait while it does not.
	BusUp func() bool
	// Published, when set, gets each event once the bus took its
	// publications, with them: from its committer, or from the relay that
	// published it instead (Web Push sends from it). It must not block.
	Published func(ev delivery.Event, pubs []delivery.Publication)
	Log       zerolog.Logger
}

func (c *Config) setDefaults() {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Grace, 3*time.Second)
	def(&c.Interval, time.Second)
	def(&c.Horizon, 10*time.Minute)
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.MarkQueue <= 0 {
		c.MarkQueue = 4096
	}
}

// Outbox publishes committed events and relays the ones left behind; the
// order service hands it every commit (orders.Outbox).
type Outbox struct {
	cfg   Config
	log   zerolog.Logger
	marks chan delivery.Event // OrderID and Seq only: no payload kept
	stop  chan struct{}
	// ctx bounds the relay's database and bus calls; Close cancels it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // the marker and the relay
	once   sync.Once
	stats  counters
}

// New returns an outbox; Start runs its marker and relay.
func New(cfg Config) *Outbox {
	cfg.setDefaults()
	o := &Outbox{
		cfg:   cfg,
		log:   cfg.Log.With().Str("component", "outbox").Logger(),
		marks: make(chan delivery.Event, cfg.MarkQueue),
		stop:  make(chan struct{}),
	}
	o.ctx, o.cancel = context.WithCancel(context.Background())
	return o
}

// Start runs the marker and the relay until Close.
func (o *Outbox) Start() {
	o.wg.Add(2)
	go o.markLoop()
	go o.relayLoop()
}

// Committed publishes the publications of the committed event ev now and,
// if the bus took them all, queues its mark. It never blocks on the
// database.
func (o *Outbox) Committed(ctx context.Context, ev delivery.Event, pubs []delivery.Publication) {
	if err := o.cfg.Publisher.Publish(ctx, pubs...); err != nil {
		o.stats.publishFailed.Add(1) // the relay retries it after Grace
		return
	}
	o.published(ev, pubs)
	select {
	case o.marks <- delivery.Event{OrderID: ev.OrderID, Seq: ev.Seq}:
	default:
		o.stats.marksDropped.Add(1) // the relay publishes it again: a duplicate the hub drops
	}
}

// Close stops the relay, marks what is queued, and returns when both
// loops ended. Call it after the last Committed and before the store
// closes.
func (o *Outbox) Close() {
	o.once.Do(func() {
		close(o.stop)
		o.cancel()
	})
	o.wg.Wait()
}

// markLoop marks queued events in batches: one UPDATE for whatever piled
// up while the previous one ran.
func (o *Outbox) markLoop() {
	defer o.wg.Done()
	batch := make([]delivery.Event, 0, 256)
	for {
		select {
		case ev := <-o.marks:
			batch = append(batch[:0], ev)
		case <-o.stop:
			o.drainMarks(batch[:0])
			return
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case ev := <-o.marks:
				batch = append(batch, ev)
			default:
				break fill
			}
		}
		o.flush(batch)
	}
}

// drainMarks marks what is still queued at Close; Committed is no
// longer called then.
func (o *Outbox) drainMarks(batch []delivery.Event) {
	for {
		select {
		case ev := <-o.marks:
			if batch = append(batch, ev); len(batch) == cap(batch) {
				o.flush(batch)
				batch = batch[:0]
			}
		default:
			o.flush(batch)
			return
		}
	}
}

func (o *Outbox) flush(batch []delivery.Event) {
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.cfg.Store.MarkPublished(ctx, batch); err != nil {
		o.stats.markErrors.Add(1)
		o.log.Warn().Err(err).Int("events", len(batch)).Msg("mark published; the relay will publish them again")
		return
	}
	o.stats.marked.Add(uint64(len(batch)))
}

func (o *Outbox) relayLoop() {
	defer o.wg.Done()
	tick := time.NewTicker(o.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-o.stop:
			return
		case <-tick.C:
		}
		if o.cfg.BusUp != nil && !o.cfg.BusUp() {
			// Publishing would fail past this instance, and deliver to its
			// own sockets on every round: wait for the bus.
			continue
		}
		ctx, cancel := context.WithTimeout(o.ctx, 10*o.cfg.Interval+10*time.Second)
		if _, err := o.RelayOnce(ctx, time.Now()); err != nil && ctx.Err() == nil {
			o.log.Warn().Err(err).Msg("relay")
		}
		cancel()
	}
}

// RelayOnce runs one relay round as of now: it expires events past the
// horizon, then publishes the unpublished events older than Grace, a
// batch per transaction, until none is left. It returns how many it
// published. A round that relayed something writes one line (relayRound).
func (o *Outbox) RelayOnce(ctx context.Context, now time.Time) (int, error) {
	from := now.Add(-o.cfg.Horizon)
	if n, err := o.cfg.Store.ExpirePending(ctx, from, 10*o.cfg.Batch); err != nil {
		return 0, err
	} else if n > 0 {
		o.stats.expired.Add(uint64(n))
		o.log.Warn().Int("events", n).Dur("horizon", o.cfg.Horizon).Msg("unpublished events expired")
	}
	round := relayRound{start: time.Now()}
	defer round.log(o.log, now)
	for {
		n, err := o.cfg.Store.RelayPending(ctx, from, now.Add(-o.cfg.Grace), o.cfg.Batch, func(ev delivery.Event) error {
			return o.relay(ctx, ev, &round)
		})
		round.events += n
		o.stats.relayed.Add(uint64(n))
		if err != nil || n < o.cfg.Batch {
			return round.events, err
		}
	}
}

// relayRound is what one relay round did, for its log line.
type relayRound struct {
	start        time.Time
	events       int       // relayed (published, or skipped as unroutable)
	publications int       // handed to the bus
	oldest       time.Time // creation of the oldest event relayed
}

// log writes the round's line, unless it relayed nothing (the usual
// round, once a second on every instance). The age of its oldest event is
// how late the relay delivered it.
func (r *relayRound) log(l zerolog.Logger, now time.Time) {
	if r.events == 0 {
		return
	}
	l.Info().Int("events", r.events).Int("publications", r.publications).
		Dur("oldest_age_ms", now.Sub(r.oldest)).Dur("duration_ms", time.Since(r.start)).
		Msg("relay round")
}

// relay publishes ev as its committer would have, routed anew. An event
// that cannot be routed is skipped (marked, logged, counted): it would
// otherwise stop every relay round on every instance until the horizon;
// its subscribers find it in the log with the order's next event or
// their resume. A publish error stops the round: the bus is down.
func (o *Outbox) relay(ctx context.Context, ev delivery.Event, round *relayRound) error {
	pubs, err := o.cfg.Route(ctx, ev)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		o.stats.unroutable.Add(1)
		o.log.Error().Err(err).Str("order_id", ev.OrderID.String()).Int64("seq", ev.Seq).Msg("relay: event cannot be routed, skipped")
		round.saw(ev, 0)
		return nil
	}
	if err := o.cfg.Publisher.Publish(ctx, pubs...); err != nil {
		return err
	}
	o.published(ev, pubs)
	round.saw(ev, len(pubs))
	return nil
}

func (o *Outbox) published(ev delivery.Event, pubs []delivery.Publication) {
	if o.cfg.Published != nil {
		o.cfg.Published(ev, pubs)
	}
}

// saw counts ev, relayed with pubs publications.
func (r *relayRound) saw(ev delivery.Event, pubs int) {
	r.publications += pubs
	if r.oldest.IsZero() || ev.CreatedAt.Before(r.oldest) {
		r.oldest = ev.CreatedAt
	}
}

// Lag is how long the oldest unpublished event has waited at now, 0
// when every event is published: the age of what subscribers elsewhere
// may still be missing. It reads the store.
func (o *Outbox) Lag(ctx context.Context, now time.Time) (time.Duration, error) {
	oldest, ok, err := o.cfg.Store.OldestUnpublished(ctx)
	if err != nil || !ok {
		return 0, err
	}
	return max(0, now.Sub(oldest)), nil
}

type counters struct {
	publishFailed, marksDropped, markErrors atomic.Uint64
	marked, relayed, expired, unroutable    atomic.Uint64
}

// Stats is a snapshot of the outbox's counters.
type Stats struct {
	PublishFailed uint64 // commits whose own publish failed (left to the relay)
	Marked        uint64 // events marked published by their committer
	MarksDropped  uint64 // marks dropped because the queue was full
	MarkErrors    uint64 // failed mark batches
	Relayed       uint64 // events published by a relay
	Expired       uint64 // events past the horizon, marked unpublished
	Unroutable    uint64 // events a relay could not route, marked unpublished
}

// Stats returns the current counters.
func (o *Outbox) Stats() Stats {
	s := &o.stats
	return Stats{
		PublishFailed: s.publishFailed.Load(), Marked: s.marked.Load(), MarksDropped: s.marksDropped.Load(),
		MarkErrors: s.markErrors.Load(), Relayed: s.relayed.Load(), Expired: s.expired.Load(), Unroutable: s.unroutable.Load(),
	}
}
