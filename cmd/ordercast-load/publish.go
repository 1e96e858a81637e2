package main

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// publisher sends a run's publishes through a target's server API, each
// carrying loadData.
type publisher struct {
	t        target
	client   *http.Client
	base     string
	channels []channel
	durable  bool
	inflight int

	acked, failed atomic.Uint64
	skipped       atomic.Uint64 // open loop: offers that found every request busy
	gaveUp        atomic.Uint64 // closed loop: publishes not delivered to all in time
	lastErr       atomic.Value  // string
}

func newPublisher(t target, base string, chs []channel, durable bool, inflight int) *publisher {
	return &publisher{t: t, client: newHTTPClient(inflight), base: base, channels: chs, durable: durable, inflight: inflight}
}

type job struct {
	ch int
	n  uint64
}

// send publishes j's payload and counts the answer. A publish is never
// cancelled (the client's timeout bounds it): one cut off when the run
// stops publishing may still be delivered, and would count as received
// but never acked. The body is fresh each time: the HTTP transport may
// still hold a request's body after Do returns.
func (p *publisher) send(j job) bool {
	data := loadData(make([]byte, 0, 48), j.ch, j.n, time.Now())
	body := p.t.publishBody(make([]byte, 0, 64+len(data)), p.channels[j.ch].name, data, p.durable)
	if err := p.t.publish(context.Background(), p.client, p.base, body); err != nil {
		p.failed.Add(1)
		p.lastErr.Store(err.Error())
		return false
	}
	p.acked.Add(1)
	return true
}

// openLoop offers rate publishes a second, round robin over the
// channels, until ctx ends; at most p.inflight are sent at once. An offer
// that finds every request busy is skipped and counted, not queued: the
// offered load does not slow down for the server, and the count shows
// where the server stopped keeping up.
func (p *publisher) openLoop(ctx context.Context, rate float64) {
	jobs := make(chan job, p.inflight)
	var wg sync.WaitGroup
	for range p.inflight {
		wg.Go(func() {
			for j := range jobs {
				p.send(j)
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)
	next := make([]uint64, len(p.channels)) // the last number given per channel
	start := time.Now()
	var offered uint64
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for c := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		due := uint64(time.Since(start).Seconds() * rate)
		for ; offered < due; offered++ {
			next[c]++
			select {
			case jobs <- job{ch: c, n: next[c]}:
			default:
				p.skipped.Add(1)
			}
			c = (c + 1) % len(p.channels)
		}
	}
}

// completions tells a closed-loop publisher when every subscriber of its
// one channel has a publish. Worker w of k owns slot w and the publish
// numbers w+1, w+1+k, …, so a reader finds the slot from the number.
type completions struct {
	subscribers int64
	slots       []completionSlot
}

type completionSlot struct {
	n    atomic.Uint64
	left atomic.Int64
	done chan struct{} // cap 1
}

func newCompletions(workers, subscribers int) *completions {
	c := &completions{subscribers: int64(subscribers), slots: make([]completionSlot, workers)}
	for i := range c.slots {
		c.slots[i].done = make(chan struct{}, 1)
	}
	return c
}

// arrive counts a first delivery of publish n. One of a publish given up
// on (the slot armed again meanwhile) may count for the next: harmless,
// since that publish is lost already.
func (c *completions) arrive(n uint64) {
	s := &c.slots[(n-1)%uint64(len(c.slots))]
	if s.n.Load() == n && s.left.Add(-1) == 0 {
		s.done <- struct{}{}
	}
}

// closedLoop keeps p.inflight publishes to the one channel in flight, a
// publish being in flight until every subscriber has it (or for
// giveUp), so that the throughput measured is what the server delivers,
// not what its queues take in.
func (p *publisher) closedLoop(ctx context.Context, c *completions, giveUp time.Duration) {
	var wg sync.WaitGroup
	k := uint64(len(c.slots))
	for w := range c.slots {
		wg.Go(func() {
			s := &c.slots[w]
			t := time.NewTimer(giveUp)
			defer t.Stop()
			for n := uint64(w) + 1; ctx.Err() == nil; n += k {
				select {
				case <-s.done: // a stale signal of a publish given up on
				default:
				}
				s.left.Store(c.subscribers)
				s.n.Store(n)
				sent := p.send(job{ch: 0, n: n})
				wait := giveUp
				if !sent {
					wait = 100 * time.Millisecond // a refusal is counted; do not spin on it
				}
				t.Reset(wait)
				select {
				case <-s.done:
				case <-t.C:
					if sent {
						p.gaveUp.Add(1)
					}
				case <-ctx.Done():
				}
			}
		})
	}
	wg.Wait()
}
