// Command ordercast-load drives a running ordercast server and reports
// what it delivered. Scenario location: N couriers, each on an active
// order watched by two sockets (its customer and its restaurant), send one
// position a second; it reports deliveries per second, the latency from
// a position's ts to its arrival at a watcher (p50, p99), and the server
// process's CPU per 100k deliveries, read from its /metrics
// (process_cpu_seconds_total, the kernel's account of the process).
//
//	go run ./cmd/ordercast-load -url http://127.0.0.1:8080 -couriers 500 -duration 30s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	cfg := config{}
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8080", "the server")
	flag.StringVar(&cfg.scenario, "scenario", "location", "what to run: location")
	flag.IntVar(&cfg.couriers, "couriers", 200, "couriers, each with one active order and two watchers")
	flag.DurationVar(&cfg.duration, "duration", 30*time.Second, "measured time, after a warm-up of 3 s")
	flag.IntVar(&cfg.setupConcurrency, "setup-concurrency", 16, "parallel requests while setting up")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "ordercast-load:", err)
		os.Exit(1)
	}
}

type config struct {
	url              string
	scenario         string
	couriers         int
	duration         time.Duration
	setupConcurrency int
}

func run(ctx context.Context, cfg config) error {
	if cfg.scenario != "location" {
		return fmt.Errorf("unknown scenario %q (location)", cfg.scenario)
	}
	api := newAPI(cfg.url)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Every socket is read from the moment it is open, not once the setup
	// is over: the server pings a socket after 25 s of silence and drops it
	// if the pong does not come, and registering hundreds of users with
	// bcrypt takes minutes (at 500 couriers, sockets opened early were gone
	// and half the offered deliveries missing). Deliveries count only from
	// rec.start.
	rd := &readers{ctx: runCtx, rec: &recorder{}}
	fmt.Printf("setting up %d couriers with an active order and two watchers each…\n", cfg.couriers)
	fleet, err := setUp(ctx, api, cfg, rd)
	if err != nil {
		cancel()
		rd.wg.Wait()
		return err
	}
	defer fleet.close()

	var wg sync.WaitGroup
	rec := rd.rec
	start := time.Now()
	for i, c := range fleet.couriers {
		// Spread the couriers over the second, as real ones are.
		offset := time.Duration(i) * time.Second / time.Duration(len(fleet.couriers))
		wg.Go(func() { c.drive(runCtx, start.Add(offset)) })
	}
	warmUp := 3 * time.Second
	if err := sleepCtx(ctx, warmUp); err != nil {
		cancel()
		wg.Wait()
		rd.wg.Wait()
		return err
	}
	cpu0, err := api.serverCPU(ctx)
	if err != nil {
		return err
	}
	rec.start()
	t0 := time.Now()
	sleepErr := sleepCtx(ctx, cfg.duration)
	n, lat := rec.stop()
	elapsed := time.Since(t0)
	cpu1, err := api.serverCPU(ctx)
	cancel()
	for _, c := range fleet.couriers {
		c.conn.CloseNow() // ends a write in progress
	}
	wg.Wait()
	rd.wg.Wait()
	if sleepErr != nil {
		return sleepErr
	}
	if err != nil {
		return err
	}
	var sendErrs, refused uint64
	lastErr := ""
	for _, c := range fleet.couriers {
		sendErrs += c.errors.Load()
		refused += c.refused.Load()
		if e, ok := c.lastError.Load().(string); ok {
			lastErr = e
		}
	}
	report(cfg, n, lat, elapsed, cpu1-cpu0)
	if sendErrs+refused > 0 || lastErr != "" {
		fmt.Printf("courier sends failed: %d, refused: %d; last error: %s\n", sendErrs, refused, lastErr)
	}
	return nil
}

func report(cfg config, n int, lat []time.Duration, elapsed time.Duration, cpu float64) {
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	fmt.Printf("scenario location: %d couriers × 1 position/s, 2 watchers each, %s measured\n", cfg.couriers, elapsed.Round(time.Millisecond))
	fmt.Printf("deliveries: %d (%.0f/s; offered %d/s)\n", n, float64(n)/elapsed.Seconds(), 2*cfg.couriers)
	fmt.Printf("latency from position ts to a watcher: p50 %s, p99 %s, max %s\n", pct(0.50), pct(0.99), pct(1))
	if n > 0 {
		fmt.Printf("server CPU: %.2f s, %.2f s per 100k deliveries\n", cpu, cpu/float64(n)*100_000)
	}
}

// recorder collects the latencies of deliveries within the measured window.
type recorder struct {
	on  atomic.Bool
	mu  sync.Mutex
	lat []time.Duration
}

func (r *recorder) start() { r.on.Store(true) }

func (r *recorder) stop() (int, []time.Duration) {
	r.on.Store(false)
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.lat), slices.Clone(r.lat)
}

func (r *recorder) add(d time.Duration) {
	if !r.on.Load() {
		return
	}
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.mu.Unlock()
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errors.New("interrupted")
	}
}
