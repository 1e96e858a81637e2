// Command ordercast-load sizes a running ordercast server: it opens
// sockets, publishes to them or drives orders through the REST API, and
// reports per delivery the latency (p50, p90, p99, max), losses,
// duplicates and order violations, and per server process the CPU per
// 100k deliveries and the memory per connection, from /proc of the pids
// given (-pid) or else from the server's /metrics. With -target
// centrifugo it drives Centrifugo v6 the same way, for a comparison.
//
// The server must run with RATE_LIMITS=off MAX_CONNS_PER_USER=0: the tool
// registers a small pool of users (each registration costs a bcrypt
// hash) and opens many sockets per user. Usage and scenarios are in
// docs/performance.md ("The load tool"):
//
//	go run ./cmd/ordercast-load -url http://127.0.0.1:8080 -scenario orders -api-key $HUB_API_KEY -channels 500 -subscribers 3 -rate 2000
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

type config struct {
	target     string
	scenario   string
	url        string
	publishURL string
	apiKey     string

	duration, warmUp, drain time.Duration
	users                   int
	setupConcurrency        int
	dialConcurrency         int

	conns       int
	channels    int
	subscribers int
	rate        float64
	durable     bool
	inflight    int
	couriers    int
	workers     int

	pids       []int
	metricsURL []string
	json       bool

	centrifugoSecret string
	centrifugoAPIKey string
}

const scenarios = "idle, orders, broadcast, location, lifecycle, cluster"

func main() {
	var cfg config
	flag.StringVar(&cfg.target, "target", "ordercast", "the server: ordercast or centrifugo")
	flag.StringVar(&cfg.scenario, "scenario", "orders", "what to run: "+scenarios)
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8080", "the instance the sockets connect to (and the REST API)")
	flag.StringVar(&cfg.publishURL, "publish-url", "", "the instance publishes go to (default -url; scenario cluster: another instance)")
	flag.StringVar(&cfg.apiKey, "api-key", os.Getenv("HUB_API_KEY"), "the server's HUB_API_KEY, for publishes (default $HUB_API_KEY)")
	flag.DurationVar(&cfg.duration, "duration", 20*time.Second, "measured time")
	flag.DurationVar(&cfg.warmUp, "warmup", 3*time.Second, "load before the measured time")
	flag.DurationVar(&cfg.drain, "drain", 5*time.Second, "longest wait after the last publish for deliveries still on their way")
	flag.IntVar(&cfg.users, "users", 16, "users registered and shared by the sockets (each registration costs the server ~0.25 s CPU)")
	flag.IntVar(&cfg.setupConcurrency, "setup-concurrency", 16, "REST requests at once while setting up")
	flag.IntVar(&cfg.dialConcurrency, "dial-concurrency", 64, "sockets opened at once")
	flag.IntVar(&cfg.conns, "conns", 1000, "idle: sockets, each on its user feed and one order channel")
	flag.IntVar(&cfg.channels, "channels", 0, "idle, orders, cluster: order channels (default: idle min(conns, 1000), orders 1000)")
	flag.IntVar(&cfg.subscribers, "subscribers", 0, "orders, cluster: sockets per channel (default 3); broadcast: sockets on the channel (default 1000)")
	flag.Float64Var(&cfg.rate, "rate", 1000, "orders, cluster: publishes a second over all channels")
	flag.BoolVar(&cfg.durable, "durable", false, "orders, cluster: durable publishes (appended to the order's log, with seq)")
	flag.IntVar(&cfg.inflight, "inflight", 0, "publish requests at once (default: orders 64; broadcast 1, each until all subscribers have it)")
	flag.IntVar(&cfg.couriers, "couriers", 200, "location: couriers, each on an active order watched by two sockets, at 1 position a second")
	flag.IntVar(&cfg.workers, "workers", 8, "lifecycle: orders driven through their lifecycle at once")
	flag.Func("pid", "a server process to measure from /proc (repeatable: instances A and B, Redis)", func(s string) error {
		pid, err := strconv.Atoi(s)
		cfg.pids = append(cfg.pids, pid)
		return err
	})
	flag.Func("metrics-url", "a server whose /metrics to measure when no -pid is given (repeatable; default -url, and -publish-url if another)", func(s string) error {
		cfg.metricsURL = append(cfg.metricsURL, s)
		return nil
	})
	flag.BoolVar(&cfg.json, "json", false, "also print the result as one JSON line")
	flag.StringVar(&cfg.centrifugoSecret, "centrifugo-secret", "", "centrifugo: client.token.hmac_secret_key, to sign connection tokens")
	flag.StringVar(&cfg.centrifugoAPIKey, "centrifugo-api-key", "", "centrifugo: http_api.key")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ordercast-load:", err)
		os.Exit(1)
	}
	res.print(os.Stdout)
	if cfg.json {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
}

// withDefaults fills the settings whose default depends on the scenario
// and checks the combination.
func (cfg config) withDefaults() (config, error) {
	cfg.url = strings.TrimSuffix(cfg.url, "/")
	if cfg.publishURL == "" {
		if cfg.scenario == "cluster" {
			return cfg, errors.New("scenario cluster: give -publish-url, another instance than -url")
		}
		cfg.publishURL = cfg.url
	}
	cfg.publishURL = strings.TrimSuffix(cfg.publishURL, "/")
	if cfg.users < 1 {
		return cfg, errors.New("-users: at least 1")
	}
	switch cfg.scenario {
	case "idle":
		if cfg.channels == 0 {
			cfg.channels = min(cfg.conns, 1000)
		}
	case "orders", "cluster":
		cfg.channels = cmp0(cfg.channels, 1000)
		cfg.subscribers = cmp0(cfg.subscribers, 3)
		cfg.inflight = cmp0(cfg.inflight, 64)
	case "broadcast":
		cfg.subscribers = cmp0(cfg.subscribers, 1000)
		cfg.inflight = cmp0(cfg.inflight, 1)
	case "location", "lifecycle":
	default:
		return cfg, fmt.Errorf("unknown scenario %q (%s)", cfg.scenario, scenarios)
	}
	if cfg.scenario != "idle" && cfg.scenario != "lifecycle" && cfg.scenario != "location" && cfg.target == "ordercast" && cfg.apiKey == "" {
		return cfg, errors.New("publishes need the server's HUB_API_KEY: give -api-key or set HUB_API_KEY")
	}
	switch cfg.target {
	case "ordercast":
	case "centrifugo":
		switch {
		case cfg.scenario == "lifecycle":
			return cfg, errors.New("centrifugo has no orders: scenario lifecycle is ordercast's only")
		case cfg.durable:
			return cfg, errors.New("centrifugo has no order log: -durable is ordercast's only")
		case cfg.centrifugoSecret == "":
			return cfg, errors.New("centrifugo: give -centrifugo-secret (its client.token.hmac_secret_key)")
		case cfg.centrifugoAPIKey == "" && cfg.scenario != "idle":
			return cfg, errors.New("centrifugo: give -centrifugo-api-key (its http_api.key)")
		}
		if cfg.scenario == "location" {
			// Couriers publish through the server API there: the
			// orders workload with one channel per courier, two
			// watchers each, one position a second each.
			cfg.channels, cfg.subscribers, cfg.rate = cfg.couriers, 2, float64(cfg.couriers)
			cfg.inflight = cmp0(cfg.inflight, 64)
		}
	default:
		return cfg, fmt.Errorf("unknown target %q (ordercast, centrifugo)", cfg.target)
	}
	if len(cfg.metricsURL) == 0 {
		cfg.metricsURL = []string{cfg.url}
		if cfg.publishURL != cfg.url {
			cfg.metricsURL = append(cfg.metricsURL, cfg.publishURL)
		}
	}
	return cfg, nil
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func run(ctx context.Context, cfg config) (*result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var t target = newOrdercast(cfg)
	if cfg.target == "centrifugo" {
		t = newCentrifugo(cfg)
	}
	procs := cfg.processes()
	switch {
	case cfg.scenario == "idle":
		return runIdle(ctx, cfg, t, procs)
	case cfg.scenario == "broadcast":
		return runBroadcast(ctx, cfg, t, procs)
	case cfg.scenario == "location" && cfg.target == "ordercast":
		return runLocation(ctx, cfg, t.(*ordercast), procs)
	case cfg.scenario == "lifecycle":
		return runLifecycle(ctx, cfg, t.(*ordercast), procs)
	}
	return runOrders(ctx, cfg, t, procs) // orders, cluster, and location on Centrifugo
}

func (cfg config) processes() []process {
	var ps []process
	for _, pid := range cfg.pids {
		ps = append(ps, procProcess("/proc", pid))
	}
	if len(ps) > 0 {
		return ps
	}
	client := newHTTPClient(1)
	for _, u := range cfg.metricsURL {
		ps = append(ps, metricsProcess(client, u))
	}
	return ps
}

// sleepCtx waits d, or less if ctx ends first.
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

// progress goes to standard error, so that standard output holds the
// result alone.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}
