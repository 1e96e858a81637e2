package redis_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/bus/bustest"
	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
)

func newClusterClient(t testing.TB, addrs []string) *goredis.ClusterClient {
	c := goredis.NewClusterClient(&goredis.ClusterOptions{
		Addrs: addrs, ContextTimeoutEnabled: true, DialTimeout: 2 * time.Second,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// A three-node Redis Cluster, started by the test from redis-server
// binaries: the contract holds with sharded pub/sub, and the channels are
// spread over the nodes' shards (SSUBSCRIBE), none on the cluster-wide
// PUBLISH bus.
func TestRedisCluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	saved := bustest.Timeout
	bustest.Timeout = 10 * time.Second
	t.Cleanup(func() { bustest.Timeout = saved })

	t.Run("Contract", func(t *testing.T) {
		bustest.Run(t, func(t *testing.T) func() delivery.Bus {
			prefix := redistest.Prefix(t)
			return func() delivery.Bus {
				return newBus(t, newClusterClient(t, addrs), redisbus.Options{Prefix: prefix})
			}
		})
	})

	t.Run("Sharded", func(t *testing.T) {
		ctx := context.Background()
		prefix := redistest.Prefix(t)
		sub := newBus(t, newClusterClient(t, addrs), redisbus.Options{Prefix: prefix})
		pub := newBus(t, newClusterClient(t, addrs), redisbus.Options{Prefix: prefix})
		r := bustest.NewRecorder()
		must(t, sub.Start(r))
		must(t, pub.Start(bustest.NewRecorder()))
		const n = 30
		for i := range n {
			must(t, sub.Subscribe(ctx, fmt.Sprintf("order:%d", i)))
		}
		for i := range n {
			must(t, pub.Publish(ctx, msg(fmt.Sprintf("order:%d", i), 1)))
		}
		for i := range n {
			r.WaitCount(t, fmt.Sprintf("order:%d", i), 1)
		}
		nodes, total := 0, 0
		for _, addr := range addrs {
			c := goredis.NewClient(redistest.Options(addr))
			shard, err := c.PubSubShardChannels(ctx, prefix+"*").Result()
			must(t, err)
			plain, err := c.PubSubChannels(ctx, prefix+"*").Result()
			must(t, err)
			_ = c.Close()
			if len(plain) > 0 {
				t.Errorf("%s: plain SUBSCRIBE channels %v, want sharded only", addr, plain)
			}
			if len(shard) > 0 {
				nodes++
			}
			total += len(shard)
		}
		if total != n || nodes < 2 {
			t.Errorf("%d shard channels on %d nodes, want %d over several nodes", total, nodes, n)
		}
		if err := sub.Ready(ctx); err != nil {
			t.Errorf("Ready: %v", err)
		}
	})
}

// TestRedisClusterRetiresShardOfGoneNode: when every slot of a node moves
// to another node and the node goes away, the bus moves its channels to
// their new node and ends that node's subscriber connection instead of
// dialling it forever; every channel still delivers.
func TestRedisClusterRetiresShardOfGoneNode(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	ctx := context.Background()
	prefix := redistest.Prefix(t)
	sub := newBus(t, newClusterClient(t, addrs), redisbus.Options{Prefix: prefix})
	pub := newBus(t, newClusterClient(t, addrs), redisbus.Options{Prefix: prefix})
	r := bustest.NewRecorder()
	must(t, sub.Start(r))
	must(t, pub.Start(bustest.NewRecorder()))
	const n = 30
	for i := range n {
		must(t, sub.Subscribe(ctx, fmt.Sprintf("order:%d", i)))
	}
	if got := sub.Stats().Shards; got != 3 {
		t.Fatalf("%d shards, want one per node", got)
	}

	gone, heir := addrs[2], addrs[0]
	redistest.MoveAllSlots(t, gone, heir)
	c := goredis.NewClient(redistest.Options(gone))
	_ = c.Shutdown(ctx).Err() // the connection ends with the server
	_ = c.Close()
	waitUntil(t, "the gone node's shard retired", func() bool {
		st := sub.Stats()
		return st.Shards == 2 && st.Connected
	})
	for i := range n {
		ch := fmt.Sprintf("order:%d", i)
		waitUntil(t, "a publish to "+ch, func() bool { return pub.Publish(ctx, msg(ch, 1)) == nil })
		r.WaitCount(t, ch, 1)
	}
	if got := sub.Stats().Shards; got != 2 {
		t.Errorf("%d shards after publishing, want 2", got)
	}
}
