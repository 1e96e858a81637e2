package sessions_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/auth"
	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/sessions"
)

// fakeStore holds revocations and records the since of every read.
type fakeStore struct {
	mu     sync.Mutex
	revs   []delivery.Revocation
	sinces []time.Time
	read   chan struct{} // signalled after every read
}

func newFakeStore() *fakeStore { return &fakeStore{read: make(chan struct{}, 1)} }

func (s *fakeStore) RevokedSessions(_ context.Context, since time.Time) ([]delivery.Revocation, error) {
	s.mu.Lock()
	defer func() {
		s.mu.Unlock()
		select {
		case s.read <- struct{}{}:
		default:
		}
	}()
	s.sinces = append(s.sinces, since)
	var out []delivery.Revocation
	for _, r := range s.revs {
		if !r.RevokedAt.Before(since) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (s *fakeStore) add(sid string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revs = append(s.revs, delivery.Revocation{SessionID: sid, UserID: 1, RevokedAt: at})
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// ended collects what OnEnd is called with, but the markers of
// waitSubscribed.
type ended struct {
	mu   sync.Mutex
	sids []string
	got  chan struct{}
}

func newEnded(l *sessions.List) *ended {
	e := &ended{got: make(chan struct{}, 1)}
	l.OnEnd(func(sid string) {
		if strings.HasPrefix(sid, markerPrefix) {
			return
		}
		e.mu.Lock()
		e.sids = append(e.sids, sid)
		e.mu.Unlock()
		select {
		case e.got <- struct{}{}:
		default:
		}
	})
	return e
}

func (e *ended) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.sids)
}

func (e *ended) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for len(e.list()) < n {
		select {
		case <-e.got:
		case <-deadline:
			t.Fatalf("OnEnd called for %v, want %d sessions", e.list(), n)
		}
	}
}

// Start loads the revocations within the horizon only; Revoked answers
// from memory; OnEnd is called once per session.
func TestStartLoadsRecentRevocations(t *testing.T) {
	st := newFakeStore()
	st.add("old", base.Add(-auth.RevocationHorizon-time.Second))
	st.add("recent", base.Add(-time.Minute))
	clk := &clock{t: base}
	l := sessions.New(st, sessions.Options{Refresh: time.Hour, Now: clk.Now})
	e := newEnded(l)
	if err := l.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if !l.Revoked("recent") || l.Revoked("old") || l.Revoked("other") {
		t.Fatalf("Revoked: recent %v, old %v, other %v; want true, false, false", l.Revoked("recent"), l.Revoked("old"), l.Revoked("other"))
	}
	if got := e.list(); !slices.Equal(got, []string{"recent"}) {
		t.Fatalf("OnEnd for %v, want [recent]", got)
	}
	l.Announce(t.Context(), "recent", "new") // recent is known: no second call
	if got := e.list(); !slices.Equal(got, []string{"recent", "new"}) {
		t.Fatalf("OnEnd for %v, want [recent new]", got)
	}
}

// The periodic read finds what was written elsewhere, reads from the
// latest revocation seen less the overlap, and forgets revocations once
// the horizon passed them.
func TestRefreshFindsAndForgets(t *testing.T) {
	st := newFakeStore()
	clk := &clock{t: base}
	l := sessions.New(st, sessions.Options{Refresh: 10 * time.Millisecond, Overlap: time.Minute, Now: clk.Now})
	e := newEnded(l)
	if err := l.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	st.add("elsewhere", base.Add(time.Second))
	e.wait(t, 1)
	if !l.Revoked("elsewhere") {
		t.Fatal("a revocation in the store is not refused after a read")
	}
	<-st.read // a read that started after the one that found it
	<-st.read
	st.mu.Lock()
	since := st.sinces[len(st.sinces)-1]
	st.mu.Unlock()
	if want := base.Add(time.Second - time.Minute); !since.Equal(want) {
		t.Errorf("read since %v, want the latest revocation less the overlap %v", since, want)
	}
	clk.Set(base.Add(auth.RevocationHorizon + 2*time.Second))
	deadline := time.After(5 * time.Second)
	for l.Revoked("elsewhere") {
		select {
		case <-st.read:
		case <-deadline:
			t.Fatal("a revocation past the horizon is still held")
		}
	}
}

// The wrapped bus hands ControlChannel messages to the list (Push from
// another process, Announce of another instance) and every other
// message to the hub; Announce publishes on the bus.
func TestBusCarriesEndedSessions(t *testing.T) {
	broker := memory.NewBroker()
	newInstance := func() (*sessions.List, *ended, *recorder) {
		l := sessions.New(newFakeStore(), sessions.Options{Refresh: time.Hour})
		e := newEnded(l)
		if err := l.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(l.Close)
		b := l.Bus(broker.NewBus())
		rec := &recorder{}
		if err := b.Start(rec); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = b.Close() })
		if err := b.Subscribe(t.Context(), "order:1"); err != nil {
			t.Fatal(err)
		}
		return l, e, rec
	}
	a, endedA, recA := newInstance()
	b, endedB, _ := newInstance()
	waitSubscribed(t, broker.NewBus(), a, b)

	a.Announce(t.Context(), "s1")
	endedB.wait(t, 1)
	if !b.Revoked("s1") || !a.Revoked("s1") {
		t.Fatal("an announced session is not refused on both instances")
	}
	if err := sessions.Push(t.Context(), broker.NewBus(), "s2", "s3"); err != nil {
		t.Fatal(err)
	}
	endedA.wait(t, 3)
	endedB.wait(t, 3)
	if got := endedA.list(); !slices.Equal(got, []string{"s1", "s2", "s3"}) {
		t.Errorf("instance a ended %v", got)
	}
	if err := broker.NewBus().Publish(t.Context(), delivery.BusMessage{Channel: "order:1", Frame: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	recA.wait(t, "order:1")
	if got := recA.channels(); slices.Contains(got, sessions.ControlChannel) {
		t.Errorf("the hub was handed %v", got)
	}
}

const markerPrefix = "marker-"

// waitSubscribed pushes marker sessions until every list heard one: the
// wrapped buses subscribe the ControlChannel in the background.
func waitSubscribed(t *testing.T, pub delivery.Bus, lists ...*sessions.List) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for i := 0; ; i++ {
		marker := fmt.Sprintf("%s%d", markerPrefix, i)
		if err := sessions.Push(t.Context(), pub, marker); err != nil {
			t.Fatal(err)
		}
		all := true
		for _, l := range lists {
			all = all && l.Revoked(marker)
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the ControlChannel was not subscribed within 5 s")
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a bounded wait
	}
}

// recorder is the hub's side of a bus.
type recorder struct {
	mu   sync.Mutex
	msgs []delivery.BusMessage
}

func (r *recorder) HandleMessage(m delivery.BusMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
}

func (r *recorder) HandleGap() {}

func (r *recorder) channels() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, m.Channel)
	}
	return out
}

func (r *recorder) wait(t *testing.T, channel string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(r.channels(), channel) {
		if time.Now().After(deadline) {
			t.Fatalf("no message on %s for the hub", channel)
		}
		time.Sleep(5 * time.Millisecond) // poll interval of a bounded wait
	}
}
