package redis_test

import (
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/ops"
	"github.com/ordercast/ordercast/internal/ops/opstest"
	opsredis "github.com/ordercast/ordercast/internal/ops/redis"
)

// TestContractRedis runs against TEST_REDIS_URL (skipped without it,
// failed under CI=true), each subtest under a prefix of its own.
func TestContractRedis(t *testing.T) {
	url := redistest.URL(t)
	opstest.Run(t, func(t *testing.T) ops.Heartbeats {
		return opsredis.New(redistest.Client(t, url), opsredis.Options{Prefix: redistest.Prefix(t)})
	})
}

// TestPrefixesApart: deployments sharing one Redis do not list each
// other's instances.
func TestPrefixesApart(t *testing.T) {
	url := redistest.URL(t)
	client := redistest.Client(t, url)
	a := opsredis.New(client, opsredis.Options{Prefix: redistest.Prefix(t)})
	b := opsredis.New(client, opsredis.Options{Prefix: redistest.Prefix(t)})
	if err := a.Put(t.Context(), ops.Heartbeat{Instance: ops.Instance{ID: "host-a"}}, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := b.List(t.Context())
	if err != nil || len(got) != 0 {
		t.Fatalf("the other deployment lists %+v, %v; want none", got, err)
	}
}
