// Package redis is the delivery.LocationStore shared by instances: one
// hash per courier in Redis, so that a party subscribing on any instance
// gets the position the courier sent to another.
package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/delivery"
)

var _ delivery.LocationStore = (*Store)(nil)

// Options tune a Store; zero fields take defaults.
type Options struct {
	// Prefix starts every key ("ordercast:" by default), so that
	// deployments (and tests) sharing one Redis stay apart.
	Prefix string
	// Now is the clock positions expire by (time.Now by default); tests
	// move it instead of waiting.
	Now func() time.Time
}

// Store keeps the last position of each courier in the hash
// {prefix}loc:{courier id} with fields ts (milliseconds) and loc (JSON).
// The key expires delivery.MaxLocationAge after the position's ts, so
// that couriers who stopped sending do not stay in Redis.
type Store struct {
	c   goredis.UniversalClient
	opt Options
}

// New returns a store on c; c stays the caller's to close.
func New(c goredis.UniversalClient, opt Options) *Store {
	if opt.Prefix == "" {
		opt.Prefix = "ordercast:"
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Store{c: c, opt: opt}
}

// put compares and writes in one step on the server: two instances
// storing positions of one courier at once never leave the older one.
// ts values are milliseconds below 2^53, exact as Lua numbers. A
// position already past its age gets a TTL of at most 0, which deletes
// the key (the one it replaced was no newer, so expired too).
// It answers {stored, the position replaced or false}.
var put = goredis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 'ts', 'loc')
if cur[1] and tonumber(cur[1]) > tonumber(ARGV[1]) then
  return {0, false}
end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'loc', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, cur[2]}
`)

func (s *Store) key(courierID delivery.ID) string {
	return s.opt.Prefix + "loc:" + courierID.String()
}

// Put stores loc unless the courier's stored position has a later Ts.
func (s *Store) Put(ctx context.Context, loc delivery.Location) (*delivery.Location, bool, error) {
	b, err := loc.AppendJSON(nil)
	if err != nil {
		return nil, false, fmt.Errorf("location: encode: %w", err)
	}
	ttl := loc.Ts + delivery.MaxLocationAge.Milliseconds() - s.opt.Now().UnixMilli()
	res, err := put.Run(ctx, s.c, []string{s.key(loc.CourierID)},
		strconv.FormatInt(loc.Ts, 10), b, max(ttl, 0)).Slice()
	if err != nil {
		return nil, false, fmt.Errorf("location: put: %w", err)
	}
	if len(res) != 2 {
		return nil, false, fmt.Errorf("location: put: unexpected answer %v", res)
	}
	if n, _ := res[0].(int64); n != 1 {
		return nil, false, nil
	}
	old, ok := res[1].(string)
	if !ok {
		return nil, true, nil
	}
	// loc is stored: one it replaced that does not decode (another
	// version's) is no predecessor, not a failure of this Put.
	prev, _ := s.decode([]byte(old))
	return prev, true, nil
}

// Get returns the courier's last position unless it expired (by the
// store's clock too: Redis's may differ).
func (s *Store) Get(ctx context.Context, courierID delivery.ID) (delivery.Location, bool, error) {
	b, err := s.c.HGet(ctx, s.key(courierID), "loc").Bytes()
	if errors.Is(err, goredis.Nil) {
		return delivery.Location{}, false, nil
	}
	if err != nil {
		return delivery.Location{}, false, fmt.Errorf("location: get: %w", err)
	}
	loc, err := s.decode(b)
	if err != nil || loc == nil {
		return delivery.Location{}, false, err
	}
	return *loc, true, nil
}

// decode reads a stored position; one expired by the store's clock (Redis's
// may differ) is nil.
func (s *Store) decode(b []byte) (*delivery.Location, error) {
	var loc delivery.Location
	if err := json.Unmarshal(b, &loc); err != nil {
		return nil, fmt.Errorf("location: decode: %w", err)
	}
	if time.UnixMilli(loc.Ts).Before(s.opt.Now().Add(-delivery.MaxLocationAge)) {
		return nil, nil
	}
	return &loc, nil
}
