package limits

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// HashWait is how long a request may wait for a password hashing slot.
const HashWait = 5 * time.Second

// GateConfig configures a Gate; zero fields take defaults.
type GateConfig struct {
	// Slots is how many may run at once: runtime.GOMAXPROCS by default,
	// one a core, since a bcrypt hash is pure CPU.
	Slots int
	// Wait is the longest wait for a slot (HashWait by default); past it
	// the caller is refused with 503 unavailable.
	Wait time.Duration
	// After starts the wait's timer (time.NewTimer by default); tests
	// fire it themselves.
	After func(time.Duration) (c <-chan time.Time, stop func())
}

// Gate bounds a costly computation (password hashing) to a few at once.
type Gate struct {
	slots   chan struct{}
	wait    time.Duration
	after   func(time.Duration) (<-chan time.Time, func())
	waiting atomic.Int64
	refused atomic.Uint64
}

// NewGate returns a gate of cfg.
func NewGate(cfg GateConfig) *Gate {
	if cfg.Slots <= 0 {
		cfg.Slots = runtime.GOMAXPROCS(0)
	}
	if cfg.Wait <= 0 {
		cfg.Wait = HashWait
	}
	if cfg.After == nil {
		cfg.After = func(d time.Duration) (<-chan time.Time, func()) {
			t := time.NewTimer(d)
			return t.C, func() { t.Stop() }
		}
	}
	return &Gate{slots: make(chan struct{}, cfg.Slots), wait: cfg.Wait, after: cfg.After}
}

// Do runs f once a slot is free. It returns ctx's error when ctx ends
// first (the caller leaves the queue), and 503 unavailable with
// Retry-After when no slot came free within the wait; f did not run then.
func (g *Gate) Do(ctx context.Context, f func()) error {
	select {
	case g.slots <- struct{}{}:
	default:
		if err := g.queue(ctx); err != nil {
			return err
		}
	}
	defer func() { <-g.slots }()
	f()
	return nil
}

func (g *Gate) queue(ctx context.Context) error {
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	timeout, stop := g.after(g.wait)
	defer stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-timeout:
		g.refused.Add(1)
		return refuse(delivery.EUNAVAILABLE, g.wait, "too many sign-ins at once; retry shortly")
	}
}

// Waiting is how many callers wait for a slot now.
func (g *Gate) Waiting() int { return int(g.waiting.Load()) }

// Refused is how many callers were refused for want of a slot.
func (g *Gate) Refused() uint64 { return g.refused.Load() }
