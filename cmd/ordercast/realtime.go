package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/bus/memory"
	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	locmemory "github.com/ordercast/ordercast/internal/location/memory"
	locredis "github.com/ordercast/ordercast/internal/location/redis"
	"github.com/ordercast/ordercast/internal/ops"
	opsredis "github.com/ordercast/ordercast/internal/ops/redis"
	"github.com/ordercast/ordercast/internal/outbox"
)

// adapters are what this instance's environment picks: the bus (in
// process, or Redis across instances), where courier positions are kept,
// and the limits, whose socket counts Redis shares when there is one.
type adapters struct {
	bus       delivery.Bus
	busUp     func() bool // nil: the in-process bus is always up
	locations delivery.LocationStore
	redis     goredis.UniversalClient // nil without Redis
	// limits are the rate limits of REST and the websocket (nil: off);
	// conns the socket caps.
	limits *limits.Limits
	conns  *limits.Conns
	// readyChecks go to /readyz besides the store: "redis" with Redis.
	readyChecks map[string]func(context.Context) error
	// heartbeats are the fleet's, in Redis (nil without: the instance is
	// alone); redisPing is the operator page's Redis health (nil without).
	heartbeats ops.Heartbeats
	redisPing  func(context.Context) error
}

// openAdapters picks the adapters of cfg. Close them with close, after the
// instance's Shutdown and Close, before the store closes.
func openAdapters(cfg config, reg prometheus.Registerer, log zerolog.Logger) (*adapters, error) {
	ad := &adapters{readyChecks: map[string]func(context.Context) error{}}
	var err error
	if ad.redis, err = newRedisClient(cfg); err != nil {
		return nil, err
	}
	if ad.redis != nil {
		rb := redisbus.New(ad.redis, redisbus.Options{Log: log})
		ad.bus, ad.busUp = rb, func() bool { return rb.Stats().Connected }
		ad.readyChecks["redis"] = rb.Ready
		ad.heartbeats, ad.redisPing = opsredis.New(ad.redis, opsredis.Options{}), rb.Ready
		registerBusMetrics(reg, rb)
		ad.locations = locredis.New(ad.redis, locredis.Options{})
	} else {
		ad.bus, ad.locations = memory.New(), locmemory.New()
	}
	ad.limits, ad.conns = newRateLimits(cfg.Limits), newConns(cfg.Limits, ad.redis, log)
	return ad, nil
}

// close closes the socket counts, the bus and the Redis client, in that
// order.
func (ad *adapters) close() {
	ad.conns.Close() // the hub's sockets are closed: their counts go
	_ = ad.bus.Close()
	if ad.redis != nil {
		_ = ad.redis.Close()
	}
}

// newRedisClient is the Redis client of the configuration: Redis Cluster
// with REDIS_CLUSTER_ADDRS, else the server of REDIS_URL; nil without
// either.
func newRedisClient(cfg config) (goredis.UniversalClient, error) {
	switch {
	case len(cfg.RedisClusterAddrs) > 0:
		return goredis.NewClusterClient(tuneCluster(&goredis.ClusterOptions{Addrs: cfg.RedisClusterAddrs})), nil
	case cfg.RedisURL != "":
		opt, err := goredis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return goredis.NewClient(tuneRedis(opt)), nil
	}
	return nil, nil
}

// tuneRedis makes network calls follow their contexts and notice a dead
// Redis within seconds; a publish is not retried behind the caller's back
// (the outbox's relay retries it).
func tuneRedis(o *goredis.Options) *goredis.Options {
	o.ContextTimeoutEnabled = true
	o.DialTimeout = 2 * time.Second
	o.ReadTimeout = 2 * time.Second
	o.WriteTimeout = 2 * time.Second
	o.MaxRetries = -1
	return o
}

func tuneCluster(o *goredis.ClusterOptions) *goredis.ClusterOptions {
	o.ContextTimeoutEnabled = true
	o.DialTimeout = 2 * time.Second
	o.ReadTimeout = 2 * time.Second
	o.WriteTimeout = 2 * time.Second
	// Redirections (MOVED during resharding) are followed; plain network
	// errors are not retried.
	o.MaxRetries = -1
	return o
}

// parseAddrs splits a comma list of host:port.
func parseAddrs(v string) []string {
	var out []string
	for _, a := range strings.Split(v, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// statMetrics exports the fields of a component's Stats snapshot as
// Prometheus counters and gauges read at scrape time, so that the hub, the
// bus and the outbox need no metrics library.
type statMetrics[S any] struct {
	prefix string
	stats  func() S
}

func (m statMetrics[S]) counter(name, help string, v func(S) uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.prefix + name, Help: help},
		func() float64 { return float64(v(m.stats())) })
}

// labeled is counter for one value of a label: several with one name and
// help make one metric (shed_total{class="location"}, ...).
func (m statMetrics[S]) labeled(name, help, label, value string, v func(S) uint64) prometheus.Collector {
	return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: m.prefix + name, Help: help, ConstLabels: prometheus.Labels{label: value}},
		func() float64 { return float64(v(m.stats())) })
}

func (m statMetrics[S]) gauge(name, help string, v func(S) float64) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: m.prefix + name, Help: help},
		func() float64 { return v(m.stats()) })
}

func registerHubMetrics(reg prometheus.Registerer, h *hub.Hub) {
	m := statMetrics[hub.Stats]{"ordercast_hub_", h.Stats}
	const shedHelp = "Ephemeral frames dropped for connections with a full send queue, which stay open, by class."
	reg.MustRegister(
		m.gauge("connections", "Websocket connections and event streams open now.", func(s hub.Stats) float64 { return float64(s.Connections) }),
		m.gauge("subscriptions", "Channel subscriptions now.", func(s hub.Stats) float64 { return float64(s.Subscriptions) }),
		m.counter("accepted_total", "Websocket connections and event streams accepted.", func(s hub.Stats) uint64 { return s.Accepted }),
		m.counter("published_total", "Frames handed to the bus.", func(s hub.Stats) uint64 { return s.Published }),
		m.counter("delivered_total", "Frames queued to sockets.", func(s hub.Stats) uint64 { return s.Delivered }),
		m.counter("written_total", "Frames written to sockets.", func(s hub.Stats) uint64 { return s.Written }),
		m.counter("replayed_total", "Durable events replayed from the store (since, gap repair).", func(s hub.Stats) uint64 { return s.Replayed }),
		m.counter("repairs_total", "Gaps found in live order channels.", func(s hub.Stats) uint64 { return s.Repairs }),
		m.counter("slow_closed_total", "Connections closed with 4009.", func(s hub.Stats) uint64 { return s.SlowClosed }),
		m.counter("rate_limited_total", "Connections closed with 4008.", func(s hub.Stats) uint64 { return s.RateLimited }),
		m.counter("expired_total", "Connections closed with 4001.", func(s hub.Stats) uint64 { return s.Expired }),
		m.counter("typing_coalesced_total", "Typing frames dropped within the interval.", func(s hub.Stats) uint64 { return s.TypingCoalesced }),
		m.counter("locations_sent_total", "Courier positions published to order channels.", func(s hub.Stats) uint64 { return s.LocationsSent }),
		m.counter("locations_held_total", "Courier positions held back by the throttle.", func(s hub.Stats) uint64 { return s.LocationsHeld }),
		m.counter("locations_stale_total", "Courier positions not given to a subscriber that already had a later event of the order.", func(s hub.Stats) uint64 { return s.LocationsStale }),
		m.counter("feed_duplicates_total", "Second copies of a durable event dropped on a feed (relayed after their publisher died).", func(s hub.Stats) uint64 { return s.FeedDuplicates }),
		m.labeled("shed_total", shedHelp, "class", "location", func(s hub.Stats) uint64 { return s.ShedLocations }),
		m.labeled("shed_total", shedHelp, "class", "typing", func(s hub.Stats) uint64 { return s.ShedTyping }),
		m.labeled("shed_total", shedHelp, "class", "read", func(s hub.Stats) uint64 { return s.ShedReads }),
		m.labeled("shed_total", shedHelp, "class", "offer", func(s hub.Stats) uint64 { return s.ShedOffers }),
		m.labeled("shed_total", shedHelp, "class", "publish", func(s hub.Stats) uint64 { return s.ShedPublishes }),
	)
}

func registerBusMetrics(reg prometheus.Registerer, b *redisbus.Bus) {
	m := statMetrics[redisbus.Stats]{"ordercast_bus_", b.Stats}
	reg.MustRegister(
		m.gauge("connected", "1 while every Redis subscriber connection is up.", func(s redisbus.Stats) float64 {
			if s.Connected {
				return 1
			}
			return 0
		}),
		m.gauge("channels", "Channels this instance subscribes in Redis.", func(s redisbus.Stats) float64 { return float64(s.Channels) }),
		m.counter("published_total", "Messages Redis accepted.", func(s redisbus.Stats) uint64 { return s.Published }),
		m.counter("publish_errors_total", "Publishes Redis did not take (down or slow).", func(s redisbus.Stats) uint64 { return s.PublishErrors }),
		m.counter("received_total", "Messages from other instances handed to the hub.", func(s redisbus.Stats) uint64 { return s.Received }),
		m.counter("echoes_total", "This instance's own messages dropped on their way back.", func(s redisbus.Stats) uint64 { return s.Echoes }),
		m.counter("dropped_total", "Messages for channels not subscribed (any more), or malformed.", func(s redisbus.Stats) uint64 { return s.Dropped }),
		m.counter("disconnects_total", "Redis subscriber connections lost or not opened.", func(s redisbus.Stats) uint64 { return s.Disconnects }),
		m.counter("gaps_total", "Reconnects after which the hub re-read the store.", func(s redisbus.Stats) uint64 { return s.Gaps }),
	)
}

func registerOutboxMetrics(reg prometheus.Registerer, o *outbox.Outbox) {
	m := statMetrics[outbox.Stats]{"ordercast_outbox_", o.Stats}
	reg.MustRegister(
		m.counter("marked_total", "Events marked published by the instance that committed them.", func(s outbox.Stats) uint64 { return s.Marked }),
		m.counter("relayed_total", "Events published by a relay after their committer did not.", func(s outbox.Stats) uint64 { return s.Relayed }),
		m.counter("publish_failed_total", "Commits whose own publish failed, left to the relay.", func(s outbox.Stats) uint64 { return s.PublishFailed }),
		m.counter("mark_errors_total", "Failed batches of marks.", func(s outbox.Stats) uint64 { return s.MarkErrors }),
		m.counter("marks_dropped_total", "Marks dropped on a full queue (the relay republishes).", func(s outbox.Stats) uint64 { return s.MarksDropped }),
		m.counter("expired_total", "Events past the relay horizon, never relayed.", func(s outbox.Stats) uint64 { return s.Expired }),
		m.counter("unroutable_total", "Events a relay could not route, skipped.", func(s outbox.Stats) uint64 { return s.Unroutable }),
	)
}
