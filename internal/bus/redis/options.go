package redis

import (
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// clientTimeout bounds a client's dial, read and write: a dead Redis is noticed
// within seconds.
const clientTimeout = 2 * time.Second

// TuneClient sets what the bus, the position store and the socket counts
// expect of a client: network calls follow their contexts, a dead Redis is
// noticed within seconds, and a call is not retried behind the caller's
// back (the outbox's relay retries a publish).
func TuneClient(o *goredis.Options) *goredis.Options {
	o.ContextTimeoutEnabled = true
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = clientTimeout, clientTimeout, clientTimeout
	o.MaxRetries = -1
	return o
}

// TuneCluster is TuneClient for a Redis Cluster client: redirections
// (MOVED during resharding) are still followed, plain network errors are
// not retried.
func TuneCluster(o *goredis.ClusterOptions) *goredis.ClusterOptions {
	o.ContextTimeoutEnabled = true
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = clientTimeout, clientTimeout, clientTimeout
	o.MaxRetries = -1
	return o
}
