package redis_test

import (
	"testing"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/location/locationtest"
	locredis "github.com/ordercast/ordercast/internal/location/redis"
)

func TestContractMiniredis(t *testing.T) {
	locationtest.Run(t, func(t *testing.T) delivery.LocationStore {
		mr := miniredis.RunT(t)
		client := goredis.NewClient(redistest.Options(mr.Addr()))
		t.Cleanup(func() { _ = client.Close() })
		return locredis.New(client, locredis.Options{})
	})
}

// TestContractRedis runs against TEST_REDIS_URL (skipped without it,
// failed under CI=true), each subtest under a prefix of its own.
func TestContractRedis(t *testing.T) {
	url := redistest.URL(t)
	locationtest.Run(t, func(t *testing.T) delivery.LocationStore {
		return locredis.New(redistest.Client(t, url), locredis.Options{Prefix: redistest.Prefix(t)})
	})
}

// TestExpires: a courier who stopped sending is forgotten after the TTL.
func TestExpires(t *testing.T) {
	mr := miniredis.RunT(t)
	client := goredis.NewClient(redistest.Options(mr.Addr()))
	t.Cleanup(func() { _ = client.Close() })
	s := locredis.New(client, locredis.Options{TTL: locredis.DefaultTTL})
	if ok, err := s.Put(t.Context(), delivery.Location{CourierID: 3, Lat: 1, Lng: 2, Ts: 1000}); !ok || err != nil {
		t.Fatalf("Put = %v, %v", ok, err)
	}
	mr.FastForward(locredis.DefaultTTL)
	if _, ok, err := s.Get(t.Context(), 3); ok || err != nil {
		t.Fatalf("after the TTL: Get = %v, %v; want nothing", ok, err)
	}
}
