package limits

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/ordercast/ordercast/internal/bus/redis/redistest"
	"github.com/ordercast/ordercast/internal/delivery"
)

func mustAcquire(t *testing.T, c *Conns, user delivery.ID) *Lease {
	t.Helper()
	l, err := c.Acquire(context.Background(), user)
	if err != nil {
		t.Fatalf("user %s: %v", user, err)
	}
	return l
}

func TestConnsPerUserCap(t *testing.T) {
	c := NewConns(ConnsConfig{PerUser: 3, Max: 100})
	defer c.Close()
	var leases []*Lease
	for range 3 {
		leases = append(leases, mustAcquire(t, c, 1))
	}
	_, err := c.Acquire(context.Background(), 1)
	if got := refusal(t, err, delivery.ETOOMANYCONNS); got != "5" {
		t.Errorf("Retry-After %s, want 5", got)
	}
	mustAcquire(t, c, 2) // another user
	leases[0].Release()
	leases[0].Release() // once only
	mustAcquire(t, c, 1)
	if _, err := c.Acquire(context.Background(), 1); err == nil {
		t.Error("a double release freed two sockets")
	}
	if n := c.Open(); n != 4 {
		t.Errorf("%d open, want 4", n)
	}
}

func TestConnsInstanceCap(t *testing.T) {
	c := NewConns(ConnsConfig{PerUser: 0, Max: 3})
	defer c.Close()
	a := mustAcquire(t, c, 1)
	mustAcquire(t, c, 1)
	mustAcquire(t, c, 2)
	_, err := c.Acquire(context.Background(), 3)
	if got := refusal(t, err, delivery.EUNAVAILABLE); got != "5" {
		t.Errorf("Retry-After %s, want 5", got)
	}
	a.Release()
	mustAcquire(t, c, 3)
}

func TestNilConnsCountNothing(t *testing.T) {
	var c *Conns
	l, err := c.Acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	l.Release()
	c.Close()
}

// sharedPair is two instances' counters on one Redis key space, each on
// its own clock.
type sharedPair struct {
	a, b       *Conns
	clkA, clkB *clock
	rdb        *goredis.Client
	prefix     string
}

func newSharedPair(t *testing.T, perUser int) *sharedPair {
	t.Helper()
	url := redistest.URL(t)
	p := &sharedPair{clkA: newClock(), clkB: newClock(), rdb: redistest.Client(t, url), prefix: redistest.Prefix(t)}
	p.a = NewConns(ConnsConfig{PerUser: perUser, Shared: NewShared(p.rdb, SharedOptions{Prefix: p.prefix, Instance: "a", Now: p.clkA.Now})})
	p.b = NewConns(ConnsConfig{PerUser: perUser, Shared: NewShared(p.rdb, SharedOptions{Prefix: p.prefix, Instance: "b", Now: p.clkB.Now})})
	t.Cleanup(p.a.Close)
	t.Cleanup(p.b.Close)
	return p
}

func (p *sharedPair) advance(d time.Duration) {
	p.clkA.Add(d)
	p.clkB.Add(d)
}

func TestSharedCountHoldsAcrossInstances(t *testing.T) {
	p := newSharedPair(t, 4)
	ctx := context.Background()
	var onA []*Lease
	for range 3 {
		onA = append(onA, mustAcquire(t, p.a, 7))
	}
	mustAcquire(t, p.b, 7)
	for name, c := range map[string]*Conns{"a": p.a, "b": p.b} {
		_, err := c.Acquire(ctx, 7)
		if got := refusal(t, err, delivery.ETOOMANYCONNS); got != "5" {
			t.Errorf("fifth socket on %s: Retry-After %s, want 5", name, got)
		}
	}
	mustAcquire(t, p.b, 8) // another user
	onA[0].Release()
	if err := p.a.Heartbeat(ctx); err != nil { // the writer does this soon by itself
		t.Fatal(err)
	}
	mustAcquire(t, p.b, 7)
	if _, err := p.a.Acquire(ctx, 7); err == nil {
		t.Error("a fifth socket once the freed slot was taken on b")
	}
}

func TestSharedCountOfADeadInstanceExpires(t *testing.T) {
	p := newSharedPair(t, 2)
	ctx := context.Background()
	mustAcquire(t, p.a, 7)
	mustAcquire(t, p.a, 7)
	if _, err := p.b.Acquire(ctx, 7); err == nil {
		t.Fatal("b took a third socket")
	}
	// While a lives, its heartbeats keep its count past the TTL.
	for range 3 {
		p.advance(DefaultConnTTL / 2)
		if err := p.a.Heartbeat(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := p.b.Acquire(ctx, 7); err == nil {
			t.Fatal("b took a third socket while a heartbeats")
		}
	}
	// Once a is silent for the TTL, its sockets count no more. (Its writer
	// stops here without writing a count, as a killed instance's would.)
	p.a.Close()
	p.advance(DefaultConnTTL)
	mustAcquire(t, p.b, 7)
	mustAcquire(t, p.b, 7)
	if _, err := p.b.Acquire(ctx, 7); err == nil {
		t.Error("b took a third socket of its own")
	}
}

func TestSharedCountsAreRemovedOnClose(t *testing.T) {
	p := newSharedPair(t, 3)
	var leases []*Lease
	for u := range delivery.ID(3) {
		leases = append(leases, mustAcquire(t, p.a, u+1))
	}
	for _, l := range leases {
		l.Release()
	}
	p.a.Close()
	for u := range delivery.ID(3) {
		n, err := p.rdb.Exists(context.Background(), p.prefix+"conns:"+(u+1).String()).Result()
		if err != nil || n != 0 {
			t.Errorf("user %d: key left in Redis after close (%d, %v)", u+1, n, err)
		}
	}
}

func TestSharedIgnoresAnOlderWriteOfTheSameInstance(t *testing.T) {
	p := newSharedPair(t, 3)
	s := p.a.cfg.Shared
	ctx := context.Background()
	if ok, err := s.put(ctx, 9, 3, 10, 0); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, err := s.put(ctx, 9, 1, 5, 0); !ok || err != nil { // arrives late
		t.Fatal(ok, err)
	}
	if _, err := p.b.Acquire(ctx, 9); err == nil {
		t.Error("a's late, older count replaced its newer one")
	}
}

func TestSharedCountFallsBackToTheInstanceWhenRedisIsAway(t *testing.T) {
	rdb := goredis.NewClient(redistest.Options("127.0.0.1:1")) // nothing listens
	t.Cleanup(func() { _ = rdb.Close() })
	c := NewConns(ConnsConfig{PerUser: 2, Shared: NewShared(rdb, SharedOptions{})})
	defer c.Close()
	mustAcquire(t, c, 1)
	mustAcquire(t, c, 1)
	if _, err := c.Acquire(context.Background(), 1); delivery.ErrorCode(err) != delivery.ETOOMANYCONNS {
		t.Errorf("third socket with Redis away: %v, want the instance's own cap", err)
	}
}

// On a Redis Cluster each user's hash is one key, so the script and the
// pipelined heartbeats run wherever its slot is.
func TestSharedCountOnACluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	rdb := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { _ = rdb.Close() })
	a := NewConns(ConnsConfig{PerUser: 2, Shared: NewShared(rdb, SharedOptions{Instance: "a"})})
	b := NewConns(ConnsConfig{PerUser: 2, Shared: NewShared(rdb, SharedOptions{Instance: "b"})})
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	for u := range delivery.ID(20) { // users spread over the nodes
		mustAcquire(t, a, u+1)
		mustAcquire(t, b, u+1)
		if _, err := b.Acquire(context.Background(), u+1); delivery.ErrorCode(err) != delivery.ETOOMANYCONNS {
			t.Fatalf("user %d: third socket: %v", u+1, err)
		}
	}
	if err := a.Heartbeat(context.Background()); err != nil {
		t.Fatalf("heartbeat on the cluster: %v", err)
	}
}

func TestPresentOnThisInstance(t *testing.T) {
	c := NewConns(ConnsConfig{})
	defer c.Close()
	ctx := context.Background()
	l := mustAcquire(t, c, 7)
	if got, err := c.Present(ctx, []delivery.ID{7, 8}); err != nil || !got[7] || got[8] || len(got) != 1 {
		t.Fatalf("Present = %v, %v; want user 7 only", got, err)
	}
	l.Release()
	if got, err := c.Present(ctx, []delivery.ID{7}); err != nil || len(got) != 0 {
		t.Fatalf("Present after the release = %v, %v; want none", got, err)
	}
}

// With Presence, counts go to Redis without a per-user cap, and another
// instance sees them until they are released, or until the deadline of
// an instance that died.
func TestPresentAcrossInstances(t *testing.T) {
	url := redistest.URL(t)
	rdb, prefix := redistest.Client(t, url), redistest.Prefix(t)
	clkA, clkB := newClock(), newClock()
	a := NewConns(ConnsConfig{Presence: true, Shared: NewShared(rdb, SharedOptions{Prefix: prefix, Instance: "a", Now: clkA.Now})})
	b := NewConns(ConnsConfig{Presence: true, Shared: NewShared(rdb, SharedOptions{Prefix: prefix, Instance: "b", Now: clkB.Now})})
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	ctx := context.Background()
	presentOnB := func(user delivery.ID) bool {
		t.Helper()
		got, err := b.Present(ctx, []delivery.ID{user})
		if err != nil {
			t.Fatal(err)
		}
		return got[user]
	}

	l := mustAcquire(t, a, 7)
	if !presentOnB(7) {
		t.Fatal("b does not see a's socket of user 7")
	}
	if presentOnB(8) {
		t.Fatal("b sees user 8, who has no socket")
	}
	l.Release() // a's writer writes the zero soon
	deadline := time.Now().Add(5 * time.Second)
	for presentOnB(7) {
		if time.Now().After(deadline) {
			t.Fatal("user 7 still present on b 5 s after a released the socket")
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a bounded wait
	}

	mustAcquire(t, a, 9)
	a.Close() // a dies: its writer stops without writing the count
	if !presentOnB(9) {
		t.Fatal("b does not see user 9 before a's deadline")
	}
	clkB.Add(DefaultConnTTL)
	if presentOnB(9) {
		t.Fatal("user 9 still present on b past the deadline of a's count")
	}
}
