// Package redis keeps the fleet's heartbeats (ops.Heartbeats) in Redis,
// so that every instance lists every live one: each heartbeat is a key
// that expires unless its instance writes it again, and a set names the
// instances, so that listing them needs no SCAN (which Redis Cluster
// would need on every node). Both share one hash tag, one slot.
package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/ops"
)

var _ ops.Heartbeats = (*Heartbeats)(nil)

// Options tune Heartbeats; zero fields take defaults.
type Options struct {
	// Prefix starts every key ("ordercast:" by default), so that
	// deployments (and tests) sharing one Redis stay apart.
	Prefix string
}

// Heartbeats keeps each heartbeat as JSON in the key
// {<prefix>ops}:hb:<instance id>, with the heartbeat's ttl, and the ids in
// the set {<prefix>ops}:instances, which List prunes of the expired.
type Heartbeats struct {
	c     goredis.UniversalClient
	tag   string // the hash tag that starts every key
	index string
}

// New returns Heartbeats on c; c stays the caller's to close.
func New(c goredis.UniversalClient, opt Options) *Heartbeats {
	if opt.Prefix == "" {
		opt.Prefix = "ordercast:"
	}
	tag := "{" + opt.Prefix + "ops}"
	return &Heartbeats{c: c, tag: tag, index: tag + ":instances"}
}

func (h *Heartbeats) key(id string) string { return h.tag + ":hb:" + id }

// Put writes hb for ttl and names its instance in the set, which expires
// with the last heartbeat to expire (a fleet all gone leaves nothing):
// its expiry is set when it has none (NX), and only ever moved later
// (GT, Redis 7), never cut short by a heartbeat of a shorter ttl.
func (h *Heartbeats) Put(ctx context.Context, hb ops.Heartbeat, ttl time.Duration) error {
	b, err := json.Marshal(hb)
	if err != nil {
		return fmt.Errorf("heartbeat: encode: %w", err)
	}
	ms := max(ttl.Milliseconds(), 1)
	_, err = h.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, h.key(hb.ID), b, ttl)
		p.SAdd(ctx, h.index, hb.ID)
		p.Do(ctx, "PEXPIRE", h.index, ms, "NX")
		p.Do(ctx, "PEXPIRE", h.index, ms, "GT")
		return nil
	})
	if err != nil {
		return fmt.Errorf("heartbeat: put: %w", err)
	}
	return nil
}

// List reads the heartbeats of the instances in the set; those expired
// leave it. A heartbeat that does not decode is left out.
func (h *Heartbeats) List(ctx context.Context) ([]ops.Heartbeat, error) {
	ids, err := h.c.SMembers(ctx, h.index).Result()
	if err != nil {
		return nil, fmt.Errorf("heartbeat: list: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = h.key(id)
	}
	vals, err := h.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fmt.Errorf("heartbeat: list: %w", err)
	}
	out := make([]ops.Heartbeat, 0, len(ids))
	var gone []any
	for i, v := range vals {
		s, ok := v.(string)
		if !ok { // nil: expired
			gone = append(gone, ids[i])
			continue
		}
		var hb ops.Heartbeat
		if json.Unmarshal([]byte(s), &hb) == nil {
			out = append(out, hb)
		}
	}
	if len(gone) > 0 {
		// An instance putting again at once adds itself back; one whose
		// key expired had missed several beats.
		if err := h.c.SRem(ctx, h.index, gone...).Err(); err != nil {
			return nil, fmt.Errorf("heartbeat: prune: %w", err)
		}
	}
	return out, nil
}

// Delete removes the heartbeat of instance id and its name in the set.
func (h *Heartbeats) Delete(ctx context.Context, id string) error {
	_, err := h.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, h.key(id))
		p.SRem(ctx, h.index, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("heartbeat: delete: %w", err)
	}
	return nil
}
