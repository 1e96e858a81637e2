package main

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/sync/errgroup"
)

// recorder keeps the latency of deliveries of publishes sent within the
// measured window; the window is by send time, so a delivery counts
// whenever it arrives.
type recorder struct {
	from, to atomic.Int64 // unix nanoseconds; from 0: no window yet
	lat      histogram
}

func (r *recorder) start(now time.Time) {
	r.to.Store(math.MaxInt64)
	r.from.Store(now.UnixNano())
}

func (r *recorder) stop(now time.Time) { r.to.Store(now.UnixNano()) }

// in tells whether a publish sent at sent (unix nanoseconds) is
// measured.
func (r *recorder) in(sent int64) bool {
	f := r.from.Load()
	return f != 0 && sent >= f && sent < r.to.Load()
}

func (r *recorder) observe(sent int64, now time.Time) {
	if r.in(sent) {
		r.lat.add(time.Duration(now.UnixNano() - sent))
	}
}

// subscribers are a run's sockets, each on one channel that the run
// publishes to, each read by its own goroutine from the moment it is
// open (a socket not read misses the server's pings and is dropped).
type subscribers struct {
	t target
	// parse numbers and times a frame of the socket on channel ch (its
	// index in the run's channels).
	parse func(ch int, b []byte) (n uint64, sent int64, ok bool)
	rec   *recorder
	done  *completions // the closed loop's, or nil

	delivered atomic.Uint64 // first deliveries, for the drain
	readErrs  atomic.Uint64 // sockets that failed before the run's end
	lastErr   atomic.Value  // string

	mu    sync.Mutex
	socks []*sock
	wg    sync.WaitGroup
}

type sock struct {
	ch    int // index of its channel
	conn  *websocket.Conn
	win   seqWindow
	tally tally
}

// open dials n sockets, socket i to channel i mod len(chs), at most
// concurrency at once; subscriber k of a channel connects as its
// users[k%len]. The readers run until readCtx ends.
func (s *subscribers) open(ctx, readCtx context.Context, chs []channel, n, concurrency int) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i := range n {
		g.Go(func() error {
			ch := chs[i%len(chs)]
			conn, err := s.t.dial(gctx, ch.users[i/len(chs)%len(ch.users)], ch.name)
			if err != nil {
				return err
			}
			sk := &sock{ch: i % len(chs), conn: conn}
			s.mu.Lock()
			s.socks = append(s.socks, sk)
			s.mu.Unlock()
			s.wg.Go(func() { s.read(readCtx, sk) })
			return nil
		})
	}
	return g.Wait()
}

func (s *subscribers) read(ctx context.Context, sk *sock) {
	err := s.t.read(ctx, sk.conn, func(b []byte) {
		n, sent, ok := s.parse(sk.ch, b)
		if !ok {
			return
		}
		a := sk.win.observe(n)
		sk.tally.count(a)
		if a == arrivalDuplicate {
			return
		}
		s.delivered.Add(1)
		s.rec.observe(sent, time.Now())
		if s.done != nil {
			s.done.arrive(n)
		}
	})
	if ctx.Err() == nil {
		s.readErrs.Add(1)
		s.lastErr.Store(err.Error())
	}
}

// loadNumber is parse for the tool's publishes: a durable event is
// numbered by its seq (the server's, consecutive per channel), an
// ephemeral one by the tool's count.
func loadNumber(_ int, b []byte) (uint64, int64, bool) {
	d, ok := parseLoad(b)
	if d.seq > 0 {
		return d.seq, d.sent, ok
	}
	return d.n, d.sent, ok
}

// close ends every socket and waits for the readers; call it after
// readCtx ended.
func (s *subscribers) close() tally {
	s.mu.Lock()
	for _, sk := range s.socks {
		sk.conn.CloseNow()
	}
	s.mu.Unlock()
	s.wg.Wait()
	var sum tally
	for _, sk := range s.socks {
		sk.tally.addTo(&sum)
	}
	return sum
}

func (s *subscribers) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.socks)
}
