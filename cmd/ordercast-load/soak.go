package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/bits"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
)

// The soak scenario: a run bounded in time over a set-up it owns
// (soakprocs.go: redis-server, a fresh PostgreSQL schema, instances A and
// B), with thousands of sockets of customers, restaurant staff and
// couriers (soakparty.go) and orders driven through their lives over
// REST (soakorders.go), while it restarts Redis, kills A with SIGKILL and
// stops B with SIGTERM, starting each again. At the end it reads each
// order's event log and judges what every party applied of it
// (soakcheck.go), and waits for each instance's goroutines and open files
// to come back to their baseline. Usage and figures: docs/performance.md
// ("Soak").

// maxSoak bounds -duration: the run's access tokens live an hour
// (ACCESS_TOKEN_TTL=1h) and are never refreshed.
const maxSoak = 45 * time.Minute

// Back at baseline, after the load: an instance's goroutines within
// goroutineSlack of its baseline, and its open files within fdSlack, each
// plus 5 % of what the load added at its peak. The slack is what an idle
// instance may hold more than at its start by design: the store's pool (up
// to 32 connections) and the Redis client's (up to 10 a core) open on
// demand and stay open while idle; HTTP server goroutines wait for their
// keep-alive. A goroutine or socket kept per connection, reconnect or
// order is thousands over a run.
const (
	goroutineSlack = 25
	fdSlack        = 64
	settlePoll     = time.Second
)

// healthCheckInterval is how long the soak's balancer takes to notice an
// instance stopped, as one checking /healthz each second would.
const healthCheckInterval = time.Second

type soak struct {
	cfg   config
	o     *ordercast
	bal   *balancer
	setup *soakSetup
	start time.Time // of the traffic

	customers []*party
	couriers  []*party
	kitchens  []soakKitchen
	parties   []*party
	connected atomic.Int64 // parties connected at least once

	counts       soakCounts
	eph          ephemeralCounts
	lastDialErr  atomic.Value // string
	otherDialErr atomic.Value // string: the last of no known kind
	lastOrderErr atomic.Value // string
	metrics      *http.Client
	setupREST    restSummary // the set-up's requests: registrations wait for bcrypt (503 while shedding)

	mu     sync.Mutex
	orders []*soakOrder
	faults []faultRecord
	series []*instanceSeries // as bal.insts
}

type soakKitchen struct {
	kitchen
	staff []*party
}

// counter counts by key; keys are few (causes, codes, kinds).
type counter struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *counter) add(k string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]uint64{}
	}
	c.m[k]++
}

func (c *counter) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.m)
}

type soakCounts struct {
	orders, chat             counter
	reconnects, dialFailures counter
	refused, strange         counter
	feedEvents, ephemeral    counter
}

type ephemeralCounts struct {
	positionsSent, typingSent, typingExpected, typingFailed atomic.Uint64
}

type faultRecord struct {
	Kind string        `json:"kind"` // redis, kill, term
	At   time.Duration `json:"at_ns"`
	// Stopped is how long the process took to end after its signal; Down
	// until it served again.
	Stopped time.Duration `json:"stopped_ns"`
	Down    time.Duration `json:"down_ns"`
	Err     string        `json:"error,omitempty"`
}

func runSoak(ctx context.Context, cfg config) (res *result, err error) {
	setupStart := time.Now()
	progress("starting redis-server, a schema of its own on -database-url and instances A and B (%s)…", cfg.binary)
	setup, err := newSoakSetup(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		keep := cfg.keep || err != nil || res.failed()
		if cerr := setup.close(keep); cerr != nil {
			progress("ending the set-up: %v", cerr)
		}
		if keep {
			progress("kept: schema %s, the instances' and Redis's logs in %s", setup.schema, setup.dir)
		}
	}()
	s := &soak{cfg: cfg, setup: setup, bal: &balancer{insts: setup.insts}, metrics: newHTTPClient(1)}
	cfg.url = setup.insts[0].url
	s.o = newOrdercast(cfg)
	s.o.balanced, s.o.rest = s.bal, newHTTPClient(max(cfg.workers, cfg.setupConcurrency))
	if err := s.register(ctx); err != nil {
		return nil, err
	}
	return s.run(ctx, setupStart)
}

// register signs up the run's accounts and makes its parties.
func (s *soak) register(ctx context.Context) error {
	cfg := s.cfg
	progress("registering %d customers, %d restaurants and %d couriers (a bcrypt hash each)…", cfg.users, cfg.restaurants, cfg.couriers)
	customers, err := s.o.registerMany(ctx, "customer", cfg.users)
	if err != nil {
		return err
	}
	couriers, err := s.o.registerMany(ctx, "courier", cfg.couriers)
	if err != nil {
		return err
	}
	s.kitchens = make([]soakKitchen, cfg.restaurants)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.setupConcurrency)
	for i := range s.kitchens {
		g.Go(func() (err error) {
			s.kitchens[i].kitchen, err = s.o.openKitchen(gctx, i)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	home := func() int { return len(s.parties) % len(s.bal.insts) } // half the sockets on each instance at first
	add := func(p *party) *party {
		s.parties = append(s.parties, p)
		return p
	}
	for i := range s.kitchens {
		k := &s.kitchens[i]
		for range cfg.staff {
			k.staff = append(k.staff, add(newParty(s, "restaurant", k.restaurant, "restaurant:"+k.restaurant.User.RestaurantID, home())))
		}
	}
	for _, c := range couriers {
		s.couriers = append(s.couriers, add(newParty(s, "courier", c, "dispatch", home())))
	}
	for i := range cfg.conns - len(s.parties) {
		s.customers = append(s.customers, add(newParty(s, "customer", customers[i%len(customers)], "", home())))
	}
	return nil
}

func (s *soak) run(ctx context.Context, setupStart time.Time) (*result, error) {
	cfg := s.cfg
	for _, in := range s.bal.insts {
		base, err := s.sample(ctx, in)
		if err != nil {
			return nil, err
		}
		ser := &instanceSeries{Name: in.name}
		ser.start("before the load", base)
		s.series = append(s.series, ser)
	}
	sampleCtx, stopSampling := context.WithCancel(ctx)
	var sampler sync.WaitGroup
	sampler.Go(func() { s.sampleEvery(sampleCtx, cfg.sampleEvery) })
	defer sampler.Wait()
	defer stopSampling()

	partyCtx, stopParties := context.WithCancel(ctx)
	var parties sync.WaitGroup
	defer parties.Wait()
	defer stopParties()
	progress("opening %d sockets (%d customers, %d restaurant staff, %d couriers) over both instances…",
		len(s.parties), len(s.customers), len(s.parties)-len(s.customers)-len(s.couriers), len(s.couriers))
	gate := make(chan struct{}, cfg.dialConcurrency)
	for _, p := range s.parties {
		parties.Go(func() { p.run(partyCtx, gate) })
	}
	if err := s.waitConnected(ctx); err != nil {
		return nil, err
	}
	setupTime := time.Since(setupStart)

	progress("running %s: %.1f orders a second, faults %v…", cfg.duration, cfg.rate, cfg.faults)
	s.start = time.Now()
	s.setupREST = s.bal.rest.take()
	trafficCtx, stopTraffic := context.WithTimeout(ctx, cfg.duration)
	defer stopTraffic()
	var faults, drivers sync.WaitGroup
	faults.Go(func() { s.injectFaults(ctx) })
	s.traffic(trafficCtx, ctx, &drivers)
	faults.Wait()
	progress("traffic stopped; waiting for the orders in flight…")
	drivers.Wait()
	window := time.Since(s.start)
	if err := ctx.Err(); err != nil {
		return nil, errors.New("interrupted")
	}
	if err := s.readLogs(ctx); err != nil {
		return nil, err
	}
	behind := s.drain(ctx)
	stopParties()
	parties.Wait()
	stopSampling()
	sampler.Wait()

	st := s.judgeAll()
	st.Behind = behind
	progress("the load stopped; waiting up to %s for the instances to settle…", cfg.settle)
	s.o.rest.CloseIdleConnections()
	s.settle(ctx)
	s.summarize(st)
	res := &result{Target: "ordercast", Scenario: "soak", Settings: s.settings(), Connections: len(s.parties),
		Setup: setupTime, Window: window, Soak: st}
	return res, nil
}

func (s *soak) settings() map[string]any {
	c := s.cfg
	return map[string]any{"conns": c.conns, "users": c.users, "restaurants": c.restaurants, "staff": c.staff, "couriers": c.couriers,
		"rate": c.rate, "workers": c.workers, "cancel": c.cancelShare, "faults": c.faults}
}

// waitConnected waits until every party connected once.
func (s *soak) waitConnected(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute + time.Duration(len(s.parties))*20*time.Millisecond)
	for s.connected.Load() < int64(len(s.parties)) {
		if time.Now().After(deadline) {
			e, _ := s.lastDialErr.Load().(string)
			return fmt.Errorf("%d of %d sockets open by the deadline; last error: %s", s.connected.Load(), len(s.parties), e)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil { // poll interval of a bounded wait
			return err
		}
	}
	return nil
}

// injectFaults runs the faults evenly spread over the run's duration.
func (s *soak) injectFaults(ctx context.Context) {
	for i, kind := range s.cfg.faults {
		at := s.cfg.duration * time.Duration(i+1) / time.Duration(len(s.cfg.faults)+1)
		if sleepCtx(ctx, time.Until(s.start.Add(at))) != nil {
			return
		}
		rec := s.inject(ctx, kind)
		rec.At = at
		s.mu.Lock()
		s.faults = append(s.faults, rec)
		s.mu.Unlock()
		if rec.Err != "" {
			progress("fault %s at %s: %s", kind, at, rec.Err)
		} else {
			progress("fault %s at %s: back after %s", kind, at, rec.Down.Round(time.Millisecond))
		}
	}
}

// inject makes one fault and restores what it broke: Redis killed and
// started again after -redis-down; instance A killed (SIGKILL) or B
// stopped (SIGTERM: it closes its sockets with 1012 and finishes its
// requests), then started again on its ports. The balancer keeps a
// stopped instance out until it serves again and its new baseline is
// sampled; it notices a stop healthCheckInterval after the signal.
func (s *soak) inject(ctx context.Context, kind string) faultRecord {
	rec := faultRecord{Kind: kind}
	t0 := time.Now()
	var err error
	switch kind {
	case "redis":
		s.setup.redis.Stop()
		rec.Stopped = time.Since(t0)
		if err = sleepCtx(ctx, s.cfg.redisDown); err == nil {
			err = s.setup.redis.Start(ctx)
		}
	case "kill", "term":
		i, sig, within := 0, syscall.SIGKILL, 10*time.Second
		if kind == "term" {
			i, sig, within = 1, syscall.SIGTERM, 45*time.Second
		}
		in := s.bal.insts[i]
		// The balancer learns of the stop as one checking health each
		// healthCheckInterval would: requests and handshakes sent to the
		// instance meanwhile fail and are retried on the other.
		noticed := time.AfterFunc(healthCheckInterval, func() { in.up.Store(false) })
		err = in.stop(sig, within)
		noticed.Stop()
		in.up.Store(false)
		rec.Stopped = time.Since(t0)
		if err == nil {
			err = in.start(ctx)
		}
		if err == nil {
			err = s.rebase(ctx, i, fmt.Sprintf("after its restart (%s at %s)", sig, time.Since(s.start).Round(time.Second)))
		}
		in.up.Store(true)
	}
	rec.Down = time.Since(t0)
	if err != nil {
		rec.Err = err.Error()
	}
	return rec
}

// readLogs reads every order's event log: the truth the parties are
// judged against.
func (s *soak) readLogs(ctx context.Context) error {
	progress("reading the event logs of %d orders…", len(s.orders))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.setupConcurrency)
	for _, ord := range s.orders {
		g.Go(func() error {
			for {
				var page struct {
					Events []struct {
						Seq uint64 `json:"seq"`
					} `json:"events"`
				}
				var after uint64
				if n := len(ord.truth); n > 0 {
					after = ord.truth[n-1]
				}
				path := "/api/v1/orders/" + ord.id + "/events?limit=1000&after=" + strconv.FormatUint(after, 10)
				if err := s.o.do(gctx, "GET", path, ord.customer.sess.AccessToken, nil, &page, http.StatusOK); err != nil {
					return err
				}
				for _, e := range page.Events {
					ord.truth = append(ord.truth, e.Seq)
				}
				if len(page.Events) < 1000 {
					return nil
				}
			}
		})
	}
	return g.Wait()
}

// drain waits, up to -drain, until every party applied its orders up to
// their last seq; it returns how many (party, order) pairs had not.
func (s *soak) drain(ctx context.Context) int {
	deadline := time.Now().Add(s.cfg.drain)
	for {
		behind := 0
		for _, ord := range s.orders {
			if len(ord.truth) == 0 {
				continue
			}
			for _, p := range ord.parties() {
				if !p.caughtUp(ord.id, ord.truth[len(ord.truth)-1]) {
					behind++
				}
			}
		}
		if behind == 0 || time.Now().After(deadline) || sleepCtx(ctx, 100*time.Millisecond) != nil {
			return behind
		}
	}
}

// judgeAll compares what each party applied with its orders' logs, and
// estimates the ephemeral frames lost.
func (s *soak) judgeAll() *soakStats {
	st := &soakStats{}
	acked := map[*party]*bitset{}
	for _, c := range s.couriers {
		c.mu.Lock()
		acked[c] = &bitset{words: append([]uint64(nil), c.acked.words...)}
		c.mu.Unlock()
	}
	for _, ord := range s.orders {
		st.Committed += uint64(len(ord.truth))
		for _, p := range ord.parties() {
			p.mu.Lock()
			po := p.orders[ord.id]
			v := judge(ord.truth, po.log.applied)
			st.Durable.add(v)
			st.PartyOrders++
			st.WireDuplicates += po.log.wireDuplicates
			st.Late += po.log.late
			st.Gaps += po.log.gaps
			st.Typing.Received += po.typing
			st.Positions.Received += po.positions.frames
			if po.courier != nil && p != po.courier {
				e, l := po.positions.missing(acked[po.courier])
				st.Positions.Expected += e
				st.Positions.Lost += l
			}
			p.mu.Unlock()
		}
	}
	return st
}

// settle waits, up to -settle, until every instance is back at its
// baseline (within the tolerance above), sampling each settlePoll.
func (s *soak) settle(ctx context.Context) {
	t0 := time.Now()
	for {
		all := true
		for i, in := range s.bal.insts {
			x, err := s.sample(ctx, in)
			s.mu.Lock()
			ser := s.series[i]
			if err != nil {
				ser.SampleErrors++
				all = false
			} else {
				ser.After = x
				ser.Limits = ser.limits()
				ser.Settled = x.Goroutines <= ser.Limits.Goroutines && x.FDs <= ser.Limits.FDs
				ser.SettledIn = time.Since(t0)
				all = all && ser.Settled
			}
			s.mu.Unlock()
		}
		if all || time.Since(t0) > s.cfg.settle || sleepCtx(ctx, settlePoll) != nil {
			return
		}
	}
}

// summarize fills in the counts and the verdicts of the run.
func (s *soak) summarize(st *soakStats) {
	c := &s.counts
	st.Orders, st.Chat = c.orders.snapshot(), c.chat.snapshot()
	st.Reconnects, st.DialFailures = c.reconnects.snapshot(), c.dialFailures.snapshot()
	st.Refused, st.Strange = c.refused.snapshot(), c.strange.snapshot()
	st.FeedEvents, st.Ephemeral = c.feedEvents.snapshot(), c.ephemeral.snapshot()
	st.OtherDialError, _ = s.otherDialErr.Load().(string)
	st.LastOrderError, _ = s.lastOrderErr.Load().(string)
	st.Typing.Sent, st.Typing.Expected, st.Typing.Failed = s.eph.typingSent.Load(), s.eph.typingExpected.Load(), s.eph.typingFailed.Load()
	st.Positions.Sent = s.eph.positionsSent.Load()
	for _, c := range s.couriers {
		for _, w := range c.acked.words {
			st.Positions.Acked += uint64(bits.OnesCount64(w))
		}
	}
	st.SetupREST, st.REST = s.setupREST, s.bal.rest.take()
	s.mu.Lock()
	st.Faults, st.Instances = s.faults, s.series
	s.mu.Unlock()
	st.Failures = st.verdicts(s.cfg)
	for _, in := range s.bal.insts {
		st.Failures = append(st.Failures, in.unexpectedExits()...)
	}
}

// sortedKeys lists a count's keys by count, highest first.
func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	return keys
}
