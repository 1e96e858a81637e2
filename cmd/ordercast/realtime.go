package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/bus/memory"
	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/limits"
	locmemory "github.com/ordercast/ordercast/internal/location/memory"
	locredis "github.com/ordercast/ordercast/internal/location/redis"
	"github.com/ordercast/ordercast/internal/metrics"
	"github.com/ordercast/ordercast/internal/ops"
	opsredis "github.com/ordercast/ordercast/internal/ops/redis"
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
		rb := redisbus.New(ad.redis, busObservers(reg, redisbus.Options{Log: log}))
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
		return goredis.NewClusterClient(redisbus.TuneCluster(&goredis.ClusterOptions{Addrs: cfg.RedisClusterAddrs})), nil
	case cfg.RedisURL != "":
		opt, err := goredis.ParseURL(cfg.RedisURL)
		if _, ok := errors.AsType[*url.Error](err); ok {
			// Its text quotes the URL, password and all (and its parts
			// may quote pieces of it).
			return nil, errors.New("REDIS_URL: not a valid URL (not shown: it may hold a password)")
		}
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		return goredis.NewClient(redisbus.TuneClient(opt)), nil
	}
	return nil, nil
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

// busObservers are the histograms of the Redis bus, registered on reg,
// in its Options.
func busObservers(reg prometheus.Registerer, opt redisbus.Options) redisbus.Options {
	publish := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "ordercast_bus_publish_duration_seconds", Help: "Publishes to Redis: the wait for its answer, one round trip per call.",
		Buckets: metrics.LatencyBuckets,
	})
	receive := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "ordercast_bus_receive_duration_seconds", Help: "Messages from other instances: from their arrival to the end of the hub's fan-out.",
		Buckets: metrics.LatencyBuckets,
	})
	reg.MustRegister(publish, receive)
	opt.PublishSeconds, opt.ReceiveSeconds = publish, receive
	return opt
}

func registerBusMetrics(reg prometheus.Registerer, b *redisbus.Bus) {
	m := metrics.Stats[redisbus.Stats]{Prefix: "ordercast_bus_", Read: b.Stats}
	reg.MustRegister(
		m.Gauge("connected", "1 while every Redis subscriber connection is up.", func(s redisbus.Stats) float64 {
			if s.Connected {
				return 1
			}
			return 0
		}),
		m.Gauge("channels", "Channels this instance subscribes in Redis.", func(s redisbus.Stats) float64 { return float64(s.Channels) }),
		m.Counter("published_total", "Messages Redis accepted.", func(s redisbus.Stats) uint64 { return s.Published }),
		m.Counter("publish_errors_total", "Publishes Redis did not take (down or slow).", func(s redisbus.Stats) uint64 { return s.PublishErrors }),
		m.Counter("received_total", "Messages from other instances handed to the hub.", func(s redisbus.Stats) uint64 { return s.Received }),
		m.Counter("echoes_total", "This instance's own messages dropped on their way back.", func(s redisbus.Stats) uint64 { return s.Echoes }),
		m.Counter("dropped_total", "Messages for channels not subscribed (any more), or malformed.", func(s redisbus.Stats) uint64 { return s.Dropped }),
		m.Counter("disconnects_total", "Redis subscriber connections lost or not opened.", func(s redisbus.Stats) uint64 { return s.Disconnects }),
		m.Counter("gaps_total", "Reconnects after which the hub re-read the store.", func(s redisbus.Stats) uint64 { return s.Gaps }),
	)
}
