// Package redistest gives tests Redis to run against: the shared server
// at TEST_REDIS_URL, and servers, clusters and a cuttable proxy that a
// test starts (and tears down) itself, so that fault tests never touch
// the shared server.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	redisbus "github.com/ordercast/ordercast/internal/bus/redis"
	"github.com/ordercast/ordercast/internal/testenv"
	goredis "github.com/redis/go-redis/v9"
)

// URLEnv names the environment variable that points tests at Redis.
const URLEnv = "TEST_REDIS_URL"

// URL returns TEST_REDIS_URL after checking that Redis answers there.
// Without it the test is skipped, or fails when CI=true, so that CI cannot
// pass without having run against real Redis. A Redis that does not
// answer fails the test.
func URL(t testing.TB) string {
	t.Helper()
	url := os.Getenv(URLEnv)
	if url == "" {
		testenv.Missing(t, URLEnv+" not set (a Redis URL such as redis://127.0.0.1:6379/0)")
	}
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", URLEnv, err)
	}
	c := goredis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("%s: Redis does not answer: %v", URLEnv, err)
	}
	return url
}

// Options returns client options for addr with short timeouts that
// follow the callers' contexts, as cmd/ordercast configures them.
func Options(addr string) *goredis.Options {
	return redisbus.TuneClient(&goredis.Options{Addr: addr})
}

// Client returns a client for url (a redis:// URL), closed when the test
// ends.
func Client(t testing.TB, url string) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(redisbus.TuneClient(opt))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Prefix returns a channel prefix of its own, so that tests sharing one
// Redis never see each other's messages.
func Prefix(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "test-" + hex.EncodeToString(b) + ":"
}
