package limits

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/delivery"
)

// DefaultConnTTL is how long an instance's counts outlive its last
// heartbeat: the sockets of an instance that was killed, rather than shut
// down, count this long at most.
const DefaultConnTTL = 30 * time.Second

// SharedOptions configure Shared; zero fields take defaults.
type SharedOptions struct {
	// Prefix starts every key ("ordercast:" by default).
	Prefix string
	// Instance names this instance's fields (random by default).
	Instance string
	// TTL is DefaultConnTTL by default; heartbeats come every TTL/3.
	TTL time.Duration
	// Now is the clock of the deadlines (time.Now by default). Instances
	// compare each other's deadlines by their own clocks, so those may
	// differ by a small part of TTL.
	Now func() time.Time
}

// Shared keeps each user's socket counts in Redis, in the hash
// {prefix}conns:{user id}: one field per instance, "count:seq:deadline"
// (deadline in Unix ms). An instance writes its own field only; it reads
// the others' and counts those whose deadline has not passed, deleting
// the rest (an instance that died). The key expires TTL after the last
// write, so users gone from every instance leave nothing behind.
type Shared struct {
	c   goredis.UniversalClient
	opt SharedOptions
}

// NewShared returns counts on c; c stays the caller's to close.
func NewShared(c goredis.UniversalClient, opt SharedOptions) *Shared {
	if opt.Prefix == "" {
		opt.Prefix = "ordercast:"
	}
	if opt.Instance == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		opt.Instance = hex.EncodeToString(b)
	}
	if opt.TTL <= 0 {
		opt.TTL = DefaultConnTTL
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Shared{c: c, opt: opt}
}

func (s *Shared) heartbeat() time.Duration { return s.opt.TTL / 3 }

func (s *Shared) key(user delivery.ID) string { return s.opt.Prefix + "conns:" + user.String() }

// putScript writes this instance's count of a user (ARGV[2], as the field
// value ARGV[7]) unless the field holds a later seq of ours (writes of
// one instance may arrive out of order), after summing the other live
// instances' counts. With ARGV[6] > 0 it first checks the cap: a total
// above it writes nothing and answers -1. Else it answers the total.
var putScript = goredis.NewScript(`
local inst, n, seq, now, ttl, max = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local others, newer = 0, false
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local c, s, dl = string.match(all[i+1], '^(%d+):(%d+):(%d+)$')
  if all[i] == inst then
    newer = s ~= nil and tonumber(s) > seq
  elseif c == nil or tonumber(dl) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    others = others + tonumber(c)
  end
end
if max > 0 and others + n > max then
  return -1
end
if not newer then
  if n > 0 then
    redis.call('HSET', KEYS[1], inst, ARGV[7])
  else
    redis.call('HDEL', KEYS[1], inst)
  end
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return others + n
`)

// sharedCount is this instance's count of a user, at seq.
type sharedCount struct {
	user delivery.ID
	n    int
	seq  uint64
}

func (s *Shared) args(w sharedCount, max int) []any {
	now := s.opt.Now().UnixMilli()
	ttl := s.opt.TTL.Milliseconds()
	value := strconv.Itoa(w.n) + ":" + strconv.FormatUint(w.seq, 10) + ":" + strconv.FormatInt(now+ttl, 10)
	return []any{s.opt.Instance, w.n, w.seq, now, ttl, max, value}
}

// put writes this instance's count n of user, refusing (false) when it
// and the other instances' counts exceed max.
func (s *Shared) put(ctx context.Context, user delivery.ID, n int, seq uint64, max int) (bool, error) {
	total, err := putScript.Run(ctx, s.c, []string{s.key(user)}, s.args(sharedCount{user, n, seq}, max)...).Int()
	if err != nil {
		return false, fmt.Errorf("connection count: %w", err)
	}
	return total >= 0, nil
}

// putBatch is how many counts go in one pipeline.
const putBatch = 500

// putAll writes counts without checking a cap, in pipelines, and returns
// those Redis took.
func (s *Shared) putAll(ctx context.Context, counts []sharedCount) ([]sharedCount, error) {
	// Pipelined EVALSHA cannot fall back to EVAL by itself: load first
	// (on every node of a cluster).
	if err := putScript.Load(ctx, s.c).Err(); err != nil {
		return nil, fmt.Errorf("connection counts: load script: %w", err)
	}
	var written []sharedCount
	for len(counts) > 0 {
		batch := counts[:min(putBatch, len(counts))]
		counts = counts[len(batch):]
		cmds := make([]*goredis.Cmd, len(batch))
		_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, w := range batch {
				cmds[i] = putScript.EvalSha(ctx, p, []string{s.key(w.user)}, s.args(w, 0)...)
			}
			return nil
		})
		for i, cmd := range cmds {
			if cmd.Err() == nil {
				written = append(written, batch[i])
			}
		}
		if err != nil {
			return written, fmt.Errorf("connection counts: %w", err)
		}
	}
	return written, nil
}

// present returns those of users that another live instance counts a
// socket of; this instance's own field is left to its own counts, which
// are ahead of Redis.
func (s *Shared) present(ctx context.Context, users []delivery.ID) ([]delivery.ID, error) {
	now := s.opt.Now().UnixMilli()
	var out []delivery.ID
	for len(users) > 0 {
		batch := users[:min(putBatch, len(users))]
		users = users[len(batch):]
		cmds := make([]*goredis.MapStringStringCmd, len(batch))
		_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for i, user := range batch {
				cmds[i] = p.HGetAll(ctx, s.key(user))
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("presence: %w", err)
		}
		for i, cmd := range cmds {
			for inst, value := range cmd.Val() {
				if inst != s.opt.Instance && liveCount(value, now) {
					out = append(out, batch[i])
					break
				}
			}
		}
	}
	return out, nil
}

// liveCount reports whether a field "count:seq:deadline" counts a socket
// and its deadline has not passed.
func liveCount(value string, now int64) bool {
	parts := strings.Split(value, ":")
	if len(parts) != 3 {
		return false
	}
	n, err1 := strconv.Atoi(parts[0])
	deadline, err2 := strconv.ParseInt(parts[2], 10, 64)
	return err1 == nil && err2 == nil && n > 0 && deadline > now
}
