package redis_test

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/bus/bustest"
	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
)

// newBus returns a bus on client, closed (before the client) when the
// test ends.
func newBus(t testing.TB, client goredis.UniversalClient, opt redisbus.Options) *redisbus.Bus {
	b := redisbus.New(client, opt)
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestContractMiniredis(t *testing.T) {
	bustest.Run(t, func(t *testing.T) func() delivery.Bus {
		mr := miniredis.RunT(t)
		return func() delivery.Bus {
			client := goredis.NewClient(redistest.Options(mr.Addr()))
			t.Cleanup(func() { _ = client.Close() })
			return newBus(t, client, redisbus.Options{})
		}
	})
}

func TestContractRedis(t *testing.T) {
	url := redistest.URL(t)
	saved := bustest.Timeout
	bustest.Timeout = 10 * time.Second
	t.Cleanup(func() { bustest.Timeout = saved })
	bustest.Run(t, func(t *testing.T) func() delivery.Bus {
		prefix := redistest.Prefix(t) // one deployment per test
		return func() delivery.Bus {
			return newBus(t, redistest.Client(t, url), redisbus.Options{Prefix: prefix})
		}
	})
}
