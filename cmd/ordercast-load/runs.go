package main

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// socketRun is what the idle, orders and broadcast runs share: the
// sockets, their readers, and the process samples around them.
type socketRun struct {
	cfg   config
	t     target
	procs []process
	subs  *subscribers
	res   *result
	base  []usage

	readCtx    context.Context
	stopRead   context.CancelFunc
	setupStart time.Time
	ended      sync.Once
	sum        tally
}

func newSocketRun(ctx context.Context, cfg config, t target, procs []process, settings map[string]any) *socketRun {
	readCtx, stop := context.WithCancel(ctx)
	return &socketRun{
		cfg: cfg, t: t, procs: procs, subs: &subscribers{t: t, parse: loadNumber, rec: &recorder{}},
		res:     &result{Target: t.name(), Scenario: cfg.scenario, Settings: settings},
		readCtx: readCtx, stopRead: stop, setupStart: time.Now(),
	}
}

// open samples the processes, then opens n sockets over chs.
func (r *socketRun) open(ctx context.Context, chs []channel, n int) error {
	var err error
	if r.base, err = sampleAll(ctx, r.procs); err != nil {
		return err
	}
	progress("opening %d sockets over %d channels…", n, len(chs))
	if err := r.subs.open(ctx, r.readCtx, chs, n, r.cfg.dialConcurrency); err != nil {
		return fmt.Errorf("after %d sockets: %w", r.subs.count(), err)
	}
	r.res.Connections = r.subs.count()
	r.res.Setup = time.Since(r.setupStart)
	return nil
}

// end stops the readers and returns their tallies; it is deferred by
// every run, and a second call returns at once.
func (r *socketRun) end() tally {
	r.ended.Do(func() {
		r.stopRead()
		r.sum = r.subs.close()
	})
	return r.sum
}

// window runs the measured window: samples, then d, then samples.
func (r *socketRun) window(ctx context.Context, d time.Duration) (start, end []usage, err error) {
	if start, err = sampleAll(ctx, r.procs); err != nil {
		return nil, nil, err
	}
	t0 := time.Now()
	r.subs.rec.start(t0)
	err = sleepCtx(ctx, d)
	now := time.Now()
	r.subs.rec.stop(now)
	r.res.Window = now.Sub(t0)
	if err != nil {
		return nil, nil, err
	}
	end, err = sampleAll(ctx, r.procs)
	return start, end, err
}

// drain waits for deliveries still on their way, up to the run's drain
// time.
func (r *socketRun) drain(expected uint64) {
	deadline := time.Now().Add(r.cfg.drain)
	for r.subs.delivered.Load() < expected && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *socketRun) problems() {
	if n := r.subs.readErrs.Load(); n > 0 {
		e, _ := r.subs.lastErr.Load().(string)
		r.res.Problems = append(r.res.Problems, fmt.Sprintf("%d sockets failed during the run; last: %s", n, e))
	}
}

// runIdle opens the sockets, each on its user feed and one order
// channel, and measures what they cost at rest.
func runIdle(ctx context.Context, cfg config, t target, procs []process) (*result, error) {
	r := newSocketRun(ctx, cfg, t, procs, map[string]any{"conns": cfg.conns, "channels": cfg.channels, "users": cfg.users})
	defer r.end()
	progress("setting up %d order channels for %d users…", cfg.channels, cfg.users)
	chs, err := t.orderChannels(ctx, cfg.channels)
	if err != nil {
		return nil, err
	}
	if err := r.open(ctx, chs, cfg.conns); err != nil {
		return nil, err
	}
	if err := sleepCtx(ctx, cfg.warmUp); err != nil { // let the handshakes' garbage go
		return nil, err
	}
	start, end, err := r.window(ctx, cfg.duration)
	if err != nil {
		return nil, err
	}
	r.end()
	r.problems()
	r.res.measure(procs, r.base, start, end, 0)
	return r.res, nil
}

// runOrders is C order channels × S subscribers with publishes at a rate
// through the server API (of another instance in scenario cluster).
func runOrders(ctx context.Context, cfg config, t target, procs []process) (*result, error) {
	settings := map[string]any{"channels": cfg.channels, "subscribers": cfg.subscribers, "rate": cfg.rate,
		"durable": cfg.durable, "inflight": cfg.inflight, "users": cfg.users}
	if cfg.publishURL != cfg.url {
		settings["publish_url"] = cfg.publishURL
	}
	r := newSocketRun(ctx, cfg, t, procs, settings)
	defer r.end()
	progress("setting up %d order channels for %d users…", cfg.channels, cfg.users)
	chs, err := t.orderChannels(ctx, cfg.channels)
	if err != nil {
		return nil, err
	}
	if err := r.open(ctx, chs, cfg.channels*cfg.subscribers); err != nil {
		return nil, err
	}
	p := newPublisher(t, cfg.publishURL, chs, cfg.durable, cfg.inflight)
	return r.publishing(ctx, p, uint64(cfg.subscribers), func(ctx context.Context) { p.openLoop(ctx, cfg.rate) })
}

// runBroadcast is one channel × N subscribers with K publishes in
// flight, each until every subscriber has it.
func runBroadcast(ctx context.Context, cfg config, t target, procs []process) (*result, error) {
	r := newSocketRun(ctx, cfg, t, procs, map[string]any{"subscribers": cfg.subscribers, "inflight": cfg.inflight, "users": cfg.users})
	defer r.end()
	progress("setting up the broadcast channel's %d users…", cfg.users)
	ch, err := t.broadcastChannel(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.open(ctx, []channel{ch}, cfg.subscribers); err != nil {
		return nil, err
	}
	r.subs.done = newCompletions(cfg.inflight, r.res.Connections)
	p := newPublisher(t, cfg.publishURL, []channel{ch}, false, cfg.inflight)
	return r.publishing(ctx, p, uint64(r.res.Connections), func(ctx context.Context) { p.closedLoop(ctx, r.subs.done, cfg.drain) })
}

// publishing runs publish from the warm-up to the window's end, then
// waits for the deliveries on their way and counts.
func (r *socketRun) publishing(ctx context.Context, p *publisher, perPublish uint64, publish func(context.Context)) (*result, error) {
	pubCtx, stopPub := context.WithCancel(ctx)
	done := make(chan struct{})
	pubStart := time.Now()
	go func() {
		defer close(done)
		publish(pubCtx)
	}()
	stopPublishing := func() time.Duration {
		stopPub()
		<-done
		return time.Since(pubStart)
	}
	if err := sleepCtx(ctx, r.cfg.warmUp); err != nil {
		stopPublishing()
		return nil, err
	}
	start, end, err := r.window(ctx, r.cfg.duration)
	publishing := stopPublishing()
	if err != nil {
		return nil, err
	}
	expected := p.acked.Load() * perPublish
	r.drain(expected)
	sum := r.end()
	r.problems()
	res := r.res
	res.Publishes = &publishStats{Acked: p.acked.Load(), Failed: p.failed.Load(), Skipped: p.skipped.Load(), GaveUp: p.gaveUp.Load(),
		PerSecond: float64(p.acked.Load()) / publishing.Seconds()}
	res.Publishes.LastError, _ = p.lastErr.Load().(string)
	lat := r.subs.rec.lat.summary()
	res.Deliveries = newDeliveryStats(lat, res.Window, expected, sum)
	res.measure(r.procs, r.base, start, end, lat.Count)
	return res, nil
}
