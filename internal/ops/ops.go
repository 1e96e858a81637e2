// Package ops is what an operator sees of a running fleet (API.md,
// "Operations"): each instance writes its own figures every interval as a
// heartbeat that expires (Heartbeats: in memory for a lone instance, in
// Redis for a fleet), so that any instance can tell the whole fleet with
// the store's and Redis's health, the outbox's lag and the last errors.
// That view answers GET /api/v1/ops/stats and is pushed as ops.stats to
// the instance's own subscribers of the ops channel.
package ops

import (
	"context"
	"time"
)

// Subscriptions are an instance's subscriptions now, by channel kind.
type Subscriptions struct {
	Order      int64 `json:"order"`
	User       int64 `json:"user"`
	Restaurant int64 `json:"restaurant"`
	Dispatch   int64 `json:"dispatch"`
	Track      int64 `json:"track"`
	Ops        int64 `json:"ops"`
}

// Instance is one instance's figures as of SeenAt. The rates are per
// second over the interval before SeenAt; SlowCloses and RateLimited
// count since StartedAt.
type Instance struct {
	ID            string        `json:"id"`
	Version       string        `json:"version"`
	StartedAt     time.Time     `json:"started_at"`
	Connections   int64         `json:"connections"`
	Subscriptions Subscriptions `json:"subscriptions"`
	// FramesInPerS: frames read from clients; FramesOutPerS: frames
	// written to them.
	FramesInPerS  float64 `json:"frames_in_per_s"`
	FramesOutPerS float64 `json:"frames_out_per_s"`
	// EventsPerS: publications this instance handed to the bus (an event
	// counts once per channel it goes to); EventsDeliveredPerS: events
	// queued to this instance's sockets, one per socket.
	EventsPerS          float64 `json:"events_per_s"`
	EventsDeliveredPerS float64 `json:"events_delivered_per_s"`
	// SlowCloses: connections closed with 4009; RateLimited: REST
	// requests refused with 429.
	SlowCloses  uint64    `json:"slow_closes"`
	RateLimited uint64    `json:"rate_limited"`
	SeenAt      time.Time `json:"seen_at"`
}

// Heartbeat is what an instance writes of itself: its figures and its
// last errors, newest first.
type Heartbeat struct {
	Instance
	Errors []Error `json:"errors"`
}

// Error is an error-level log line of an instance: its time and message,
// never its fields (which may hold ids).
type Error struct {
	At       time.Time `json:"at"`
	Instance string    `json:"instance"`
	Message  string    `json:"message"`
}

// Health is the answer to one ping: whether it came within the timeout,
// and how long it took (or was waited for).
type Health struct {
	OK        bool    `json:"ok"`
	LatencyMS float64 `json:"latency_ms"`
}

// Outbox is the outbox's lag: the age of the oldest durable event not
// yet marked published (0 when there is none; null when the store did
// not answer).
type Outbox struct {
	OldestUnpublishedS *float64 `json:"oldest_unpublished_s"`
}

// Stats is the fleet as one instance sees it: GET /api/v1/ops/stats and
// the data of ops.stats.
type Stats struct {
	Instances []Instance `json:"instances"` // by id
	Store     Health     `json:"store"`
	Redis     *Health    `json:"redis"` // nil without Redis
	Outbox    Outbox     `json:"outbox"`
	Errors    []Error    `json:"errors"` // newest first, at most MaxErrors
}

// MaxErrors bounds Stats.Errors, merged from every instance's.
const MaxErrors = 50

// Heartbeats keep the heartbeat of each live instance. Implementations:
// Memory (a lone instance) and internal/ops/redis (a fleet), held to
// internal/ops/opstest.
type Heartbeats interface {
	// Put writes hb as the heartbeat of instance hb.ID, replacing the
	// one before; it is listed for ttl unless put again.
	Put(ctx context.Context, hb Heartbeat, ttl time.Duration) error
	// List returns every heartbeat put less than its ttl ago and not
	// deleted, in no order.
	List(ctx context.Context) ([]Heartbeat, error)
	// Delete removes the heartbeat of instance id (none: no error).
	Delete(ctx context.Context, id string) error
}
