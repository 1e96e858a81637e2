package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/app"
	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
	locredis "github.com/ordercast/ordercast/internal/location/redis"
	opsredis "github.com/ordercast/ordercast/internal/ops/redis"
	"github.com/ordercast/ordercast/internal/outbox"
	"github.com/ordercast/ordercast/internal/sessions"
	"github.com/ordercast/ordercast/internal/store/postgres"
)

// instance is one ordercast instance of a multi-instance test: a whole
// server with its hub on a Redis bus and the outbox, on the deployment's
// shared PostgreSQL schema.
type instance struct {
	*rtEnv
	Bus    *redisbus.Bus
	Outbox *outbox.Outbox
}

// instanceOpts vary one instance.
type instanceOpts struct {
	// redisAddr overrides the Redis of TEST_REDIS_URL (a proxy, in fault
	// tests).
	redisAddr string
	// dies: the instance commits but never publishes and runs no relay,
	// as one that crashed between its commit and its publish.
	dies bool
	// edit changes the instance's config (a clock, say).
	edit func(*app.Config)
	// sessions tunes the instance's list of ended sessions.
	sessions sessions.Options
}

// cluster is one deployment: a schema, a Redis channel prefix of its own
// on the shared Redis, and the instances.
type cluster struct {
	t      testing.TB
	url    string // TEST_REDIS_URL
	prefix string
	stores []*postgres.Store
}

// relayGrace is the outbox grace of the tests: far above what a live
// instance needs to mark its events, so that relays republish only what
// was really left behind.
const relayGrace = time.Second

// newCluster prepares a deployment for up to n instances; it needs
// PostgreSQL and Redis (skipped without them, failed under CI=true).
func newCluster(t testing.TB, n int) *cluster {
	t.Helper()
	url := redistest.URL(t)
	return &cluster{t: t, url: url, prefix: redistest.Prefix(t), stores: postgres.OpenTestShared(t, n)}
}

// redisAddr is the address of TEST_REDIS_URL's server, for proxies.
func (c *cluster) redisAddr() string {
	opt, err := goredis.ParseURL(c.url)
	if err != nil {
		c.t.Fatal(err)
	}
	return opt.Addr
}

// start starts instance i (each index once).
func (c *cluster) start(i int, o instanceOpts) *instance {
	c.t.Helper()
	t, store := c.t, c.stores[i]
	opt, err := goredis.ParseURL(c.url)
	if err != nil {
		t.Fatal(err)
	}
	if o.redisAddr != "" {
		opt.Addr = o.redisAddr
	}
	inst := &instance{}
	client := goredis.NewClient(redisbus.TuneClient(opt))
	inst.Bus = redisbus.New(client, redisbus.Options{Prefix: c.prefix})
	t.Cleanup(func() { _ = client.Close() }) // after the instance's shutdown
	inst.rtEnv = newRealtimeEnvWith(t, store, o.sessions, func(cfg *app.Config) {
		cfg.Bus = inst.Bus
		// Courier positions in Redis, as cmd/ordercast keeps them.
		cfg.Locations = locredis.New(client, locredis.Options{Prefix: c.prefix})
		cfg.Outbox = outbox.Config{Grace: relayGrace, Interval: 50 * time.Millisecond, BusUp: func() bool { return inst.Bus.Stats().Connected }}
		// The fleet's heartbeats in Redis, as cmd/ordercast keeps them.
		cfg.Ops.Heartbeats, cfg.Ops.Redis = opsredis.New(client, opsredis.Options{Prefix: c.prefix}), inst.Bus.Ready
		if o.dies {
			cfg.Bus = losingBus{cfg.Bus}
			cfg.Outbox.Interval = time.Hour // no relay round within a test
		}
		if o.edit != nil {
			o.edit(cfg)
		}
	})
	inst.Outbox = inst.App.Outbox
	return inst
}

// losingBus loses every durable event, as an instance that died after
// its commit and before its publish: the bus refuses it, so the outbox
// leaves it for a relay.
type losingBus struct{ delivery.Bus }

func (b losingBus) Publish(ctx context.Context, msgs ...delivery.BusMessage) error {
	for _, msg := range msgs {
		if msg.Seq != 0 {
			return errors.New("instance died before publishing")
		}
	}
	return b.Bus.Publish(ctx, msgs...)
}

// waitFor polls cond until it holds, for up to waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, waitTimeout)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a bounded wait
	}
}

// expectSeqs checks that c received exactly want on channel, in order,
// estimates aside (withoutETA): call it after a barrier, so that anything
// still on its way is there.
func expectSeqs(t *testing.T, c subscriber, channel string, want []int64) {
	t.Helper()
	if got := seqs(withoutETA(c.events(channel))); !slices.Equal(got, want) {
		t.Errorf("%s on %s: got seqs %v, want %v (each once, in order)", c.label(), channel, got, want)
	}
}

// expectFeedSeqs is expectSeqs for a feed fed by more than one instance:
// each event once, in any order, since events of one order committed on
// two instances may cross on a feed (docs/protocol.md); an order channel
// is held to seq order.
func expectFeedSeqs(t *testing.T, c subscriber, channel string, want []int64) {
	t.Helper()
	got := seqs(withoutETA(c.events(channel)))
	if !slices.Equal(slices.Sorted(slices.Values(got)), want) {
		t.Errorf("%s on %s: got seqs %v, want each of %v once", c.label(), channel, got, want)
	}
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// tick appends a durable event to the order's log through e's publish API.
func (e *testEnv) tick(o delivery.Order, i int) {
	e.t.Helper()
	e.must(http.StatusOK, "POST", "/api/v1/publish", testAPIKey, map[string]any{
		"channel": "order:" + o.ID.String(), "event": "test.tick", "durable": true, "data": map[string]any{"i": i},
	})
}

func orderChannel(o delivery.Order) string { return fmt.Sprintf("order:%s", o.ID) }
