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
// hash; -seed makes them in the server's store instead) and opens many
// sockets per user. Usage and scenarios are in
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

	"github.com/ordercast/ordercast/internal/redisproc"
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

	// soak
	binary, databaseURL, redisServer, serverLogLevel string
	restaurants, staff, maxActive                    int
	faults                                           []string
	cancelShare                                      float64
	settle, sampleEvery, redisDown                   time.Duration
	keep                                             bool

	centrifugoSecret string
	centrifugoAPIKey string

	// -seed: the server's store, and its JWT_SECRET or else DATA_DIR
	seed, seedSecret, seedDataDir string
}

const scenarios = "idle, orders, broadcast, location, lifecycle, cluster, soak"

func main() {
	var cfg config
	flag.StringVar(&cfg.target, "target", "ordercast", "the server: ordercast or centrifugo")
	flag.StringVar(&cfg.scenario, "scenario", "orders", "what to run: "+scenarios)
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:8080", "the instance the sockets connect to (and the REST API)")
	flag.StringVar(&cfg.publishURL, "publish-url", "", "the instance publishes go to (default -url; scenario cluster: another instance)")
	flag.StringVar(&cfg.apiKey, "api-key", os.Getenv("HUB_API_KEY"), "the server's HUB_API_KEY, for publishes (default $HUB_API_KEY)")
	flag.DurationVar(&cfg.duration, "duration", 0, "measured time (default 20s; soak: the traffic's, 10m)")
	flag.DurationVar(&cfg.warmUp, "warmup", 3*time.Second, "load before the measured time")
	flag.DurationVar(&cfg.drain, "drain", 0, "longest wait after the last publish for deliveries still on their way (default 5s; soak: for every party to catch up with the logs, 1m)")
	flag.IntVar(&cfg.users, "users", 0, "users registered and shared by the sockets (each registration costs the server ~0.25 s CPU; default 16; soak: customers, 100)")
	flag.IntVar(&cfg.setupConcurrency, "setup-concurrency", 16, "REST requests at once while setting up")
	flag.IntVar(&cfg.dialConcurrency, "dial-concurrency", 64, "sockets opened at once")
	flag.IntVar(&cfg.conns, "conns", 0, "idle: sockets, each on its user feed and one order channel (default 1000); soak: every socket, customers' the rest (default 3000)")
	flag.IntVar(&cfg.channels, "channels", 0, "idle, orders, cluster: order channels (default: idle min(conns, 1000), orders 1000)")
	flag.IntVar(&cfg.subscribers, "subscribers", 0, "orders, cluster: sockets per channel (default 3); broadcast: sockets on the channel (default 1000)")
	flag.Float64Var(&cfg.rate, "rate", 0, "orders, cluster: publishes a second over all channels (default 1000); soak: orders placed a second (default 8)")
	flag.BoolVar(&cfg.durable, "durable", false, "orders, cluster: durable publishes (appended to the order's log, with seq)")
	flag.IntVar(&cfg.inflight, "inflight", 0, "publish requests at once (default: orders 64; broadcast 1, each until all subscribers have it)")
	flag.IntVar(&cfg.couriers, "couriers", 0, "location: couriers, each on an active order watched by two sockets, at 1 position a second (default 200); soak: courier sockets, one account each (default 150)")
	flag.IntVar(&cfg.workers, "workers", 0, "lifecycle: orders driven through their lifecycle at once (default 8); soak: at most (default 300)")
	flag.StringVar(&cfg.binary, "binary", "", "soak: the ordercast binary to run (go build -o … ./cmd/ordercast)")
	flag.StringVar(&cfg.databaseURL, "database-url", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "soak: PostgreSQL, where the run makes a schema of its own (dropped after a run that passed)")
	flag.StringVar(&cfg.redisServer, "redis-server", "", "soak: the redis-server binary (default: the one on the PATH)")
	flag.StringVar(&cfg.serverLogLevel, "server-log-level", "warn", "soak: the instances' LOG_LEVEL (their logs are kept after a run that failed)")
	flag.IntVar(&cfg.restaurants, "restaurants", 8, "soak: restaurants, one account each")
	flag.IntVar(&cfg.staff, "staff", 4, "soak: staff sockets per restaurant (its orders shared among them)")
	flag.IntVar(&cfg.maxActive, "max-active", 3, "soak: the instances' MAX_ACTIVE_PER_COURIER (the soak claims within it)")
	flag.Func("faults", "soak: comma list of faults spread evenly over the run: redis (kill and start Redis), kill (SIGKILL A and start it), term (SIGTERM B and start it); none: no faults (default redis,term,kill)", func(v string) error {
		cfg.faults = []string{}
		for _, f := range strings.Split(v, ",") {
			switch f = strings.TrimSpace(f); f {
			case "redis", "kill", "term":
				cfg.faults = append(cfg.faults, f)
			case "", "none":
			default:
				return fmt.Errorf("unknown fault %q (redis, kill, term)", f)
			}
		}
		return nil
	})
	flag.Float64Var(&cfg.cancelShare, "cancel", 0.1, "soak: share of the orders cancelled (half by the customer, half by the restaurant)")
	flag.DurationVar(&cfg.settle, "settle", time.Minute, "soak: longest wait after the load for goroutines and open files to come back to their baseline")
	flag.DurationVar(&cfg.sampleEvery, "sample-every", 5*time.Second, "soak: how often RSS, goroutines and open files are sampled")
	flag.DurationVar(&cfg.redisDown, "redis-down", 2*time.Second, "soak: how long Redis stays down")
	flag.BoolVar(&cfg.keep, "keep", false, "soak: keep the schema and the logs after a run that passed too")
	flag.Func("pid", "a server process to measure from /proc (repeatable: instances A and B, Redis)", func(s string) error {
		pid, err := strconv.Atoi(s)
		cfg.pids = append(cfg.pids, pid)
		return err
	})
	flag.Func("metrics-url", "a server whose /metrics to measure when no -pid is given (repeatable; default -url, and -publish-url if another)", func(s string) error {
		cfg.metricsURL = append(cfg.metricsURL, s)
		return nil
	})
	flag.StringVar(&cfg.seed, "seed", "", "make the accounts in the server's store, its DATABASE_URL (sqlite:///path or postgres://…), instead of registering them (a bcrypt hash each): needs the server's JWT_SECRET in the environment or -seed-data-dir")
	flag.StringVar(&cfg.seedDataDir, "seed-data-dir", "", "-seed: the server's DATA_DIR, whose jwt_secret signs the seeded accounts' tokens (unless JWT_SECRET is set)")
	cfg.seedSecret = os.Getenv("JWT_SECRET")
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
	if res.failed() {
		os.Exit(1)
	}
}

// withDefaults fills the settings whose default depends on the scenario
// and checks the combination.
func (cfg config) withDefaults() (config, error) {
	cfg.url = strings.TrimSuffix(cfg.url, "/")
	if cfg.seed != "" && (cfg.scenario == "soak" || cfg.target != "ordercast") {
		return cfg, errors.New("-seed: for ordercast's scenarios but the soak, which makes its own store")
	}
	if cfg.scenario == "soak" {
		return cfg.soakDefaults()
	}
	cfg.duration = cmpDur(cfg.duration, 20*time.Second)
	cfg.drain = cmpDur(cfg.drain, 5*time.Second)
	cfg.users = cmp0(cfg.users, 16)
	cfg.conns = cmp0(cfg.conns, 1000)
	cfg.rate = cmp0(cfg.rate, 1000)
	cfg.couriers = cmp0(cfg.couriers, 200)
	cfg.workers = cmp0(cfg.workers, 8)
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

// cmp0 is v, or def when v was not given.
func cmp0[T int | float64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

func cmpDur(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// soakDefaults fills the soak's settings and checks them.
func (cfg config) soakDefaults() (config, error) {
	cfg.duration = cmpDur(cfg.duration, 10*time.Minute)
	cfg.drain = cmpDur(cfg.drain, time.Minute)
	cfg.users = cmp0(cfg.users, 100)
	cfg.conns = cmp0(cfg.conns, 3000)
	cfg.rate = cmp0(cfg.rate, 8)
	cfg.couriers = cmp0(cfg.couriers, 150)
	cfg.workers = cmp0(cfg.workers, 300)
	if cfg.faults == nil {
		// B's sockets move to A when B stops; A's are shared again when
		// it is killed: both instances carry sockets after their restart.
		cfg.faults = []string{"redis", "term", "kill"}
	}
	switch {
	case cfg.target != "ordercast":
		return cfg, errors.New("scenario soak is ordercast's only")
	case cfg.binary == "":
		return cfg, errors.New("scenario soak runs its own instances: give -binary, an ordercast binary (go build -o /tmp/soak/ordercast ./cmd/ordercast)")
	case cfg.duration > maxSoak:
		return cfg, fmt.Errorf("-duration: at most %s (the run's tokens are not refreshed)", maxSoak)
	case cfg.restaurants < 1 || cfg.staff < 1 || cfg.couriers < 1 || cfg.users < 1:
		return cfg, errors.New("-restaurants, -staff, -couriers, -users: at least 1 each")
	case cfg.conns < cfg.restaurants*cfg.staff+cfg.couriers+1:
		return cfg, fmt.Errorf("-conns %d: the restaurants' %d staff sockets and %d couriers leave no customer socket", cfg.conns, cfg.restaurants*cfg.staff, cfg.couriers)
	case cfg.rate <= 0 || cfg.cancelShare < 0 || cfg.cancelShare > 1:
		return cfg, errors.New("-rate above 0, -cancel from 0 to 1")
	case cfg.sampleEvery <= 0:
		return cfg, errors.New("-sample-every above 0")
	}
	if _, err := os.Stat(cfg.binary); err != nil {
		return cfg, fmt.Errorf("-binary: %w", err)
	}
	if cfg.redisServer == "" {
		var err error
		if cfg.redisServer, err = redisproc.Binary(); err != nil {
			return cfg, fmt.Errorf("%w: give -redis-server", err)
		}
	}
	return cfg, nil
}

func run(ctx context.Context, cfg config) (*result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	o := newOrdercast(cfg)
	if cfg.seed != "" {
		if o.seed, err = openSeeder(ctx, cfg.seed, cfg.seedSecret, cfg.seedDataDir); err != nil {
			return nil, err
		}
		defer o.seed.close()
	}
	var t target = o
	if cfg.target == "centrifugo" {
		t = newCentrifugo(cfg)
	}
	if cfg.scenario == "soak" {
		return runSoak(ctx, cfg)
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
