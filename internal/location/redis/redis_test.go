package redis_test

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/location/locationtest"
	locredis "github.com/ordercast/ordercast/internal/location/redis"
)

func TestContractMiniredis(t *testing.T) {
	locationtest.Run(t, func(t *testing.T, c *locationtest.Clock) delivery.LocationStore {
		mr := miniredis.RunT(t)
		client := goredis.NewClient(redistest.Options(mr.Addr()))
		t.Cleanup(func() { _ = client.Close() })
		return locredis.New(client, locredis.Options{Now: c.Now})
	})
}

// TestContractRedis runs against TEST_REDIS_URL (skipped without it,
// failed under CI=true), each subtest under a prefix of its own.
func TestContractRedis(t *testing.T) {
	url := redistest.URL(t)
	locationtest.Run(t, func(t *testing.T, c *locationtest.Clock) delivery.LocationStore {
		return locredis.New(redistest.Client(t, url), locredis.Options{Prefix: redistest.Prefix(t), Now: c.Now})
	})
}

// TestExpires: a courier who stopped sending leaves Redis
// delivery.MaxLocationAge after the ts of its last position, and a
// position that arrives that old is not kept at all.
func TestExpires(t *testing.T) {
	mr := miniredis.RunT(t)
	client := goredis.NewClient(redistest.Options(mr.Addr()))
	t.Cleanup(func() { _ = client.Close() })
	s := locredis.New(client, locredis.Options{Prefix: "p:"})
	now := time.Now().UnixMilli()
	if _, ok, err := s.Put(t.Context(), delivery.Location{CourierID: 3, Lat: 1, Lng: 2, Ts: now - 1000}); !ok || err != nil {
		t.Fatalf("Put = %v, %v", ok, err)
	}
	if ttl := mr.TTL("p:loc:3"); ttl <= delivery.MaxLocationAge-time.Minute || ttl > delivery.MaxLocationAge {
		t.Fatalf("TTL %v, want MaxLocationAge after the ts", ttl)
	}
	mr.FastForward(delivery.MaxLocationAge)
	if mr.Exists("p:loc:3") {
		t.Fatal("key still in Redis after MaxLocationAge")
	}
	if _, _, err := s.Put(t.Context(), delivery.Location{CourierID: 4, Lat: 1, Lng: 2, Ts: now - delivery.MaxLocationAge.Milliseconds() - 1000}); err != nil {
		t.Fatal(err)
	}
	if mr.Exists("p:loc:4") {
		t.Fatal("a position older than MaxLocationAge was kept")
	}
}
