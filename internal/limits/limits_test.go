package limits

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// clock is a clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Unix(1_700_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// refusal checks that err is a Refusal of code and returns its
// Retry-After.
func refusal(t *testing.T, err error, code string) string {
	t.Helper()
	var r *Refusal
	if !errors.As(err, &r) {
		t.Fatalf("got %v, want a refusal %s", err, code)
	}
	if got := delivery.ErrorCode(err); got != code {
		t.Fatalf("code %s, want %s (%v)", got, code, err)
	}
	return r.RetryAfter()
}

func TestKeyedTakesABurstThenRefillsAtTheRate(t *testing.T) {
	clk := newClock()
	k := NewKeyed(Rule{Rate: 2, Burst: 5}, 0, clk.Now)
	for i := range 5 {
		if ok, _ := k.Take("a"); !ok {
			t.Fatalf("take %d of the burst refused", i+1)
		}
	}
	ok, wait := k.Take("a")
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("take beyond the burst: ok %v, wait %v; want refused, 500ms", ok, wait)
	}
	if ok, _ := k.Take("b"); !ok {
		t.Error("another key was refused with the first one's bucket")
	}
	clk.Add(499 * time.Millisecond)
	if ok, _ := k.Take("a"); ok {
		t.Error("a token came before 1/rate")
	}
	clk.Add(time.Millisecond)
	if ok, _ := k.Take("a"); !ok {
		t.Error("no token after 1/rate")
	}
}

func TestKeyedForgetsBucketsThatRefilled(t *testing.T) {
	clk := newClock()
	k := NewKeyed(Rule{Rate: 1, Burst: 10}, 0, clk.Now) // full again 10 s after its last use
	for i := range 1000 {
		k.Take(fmt.Sprintf("addr-%d", i))
	}
	if n := k.Len(); n != 1000 {
		t.Fatalf("%d buckets, want 1000", n)
	}
	clk.Add(9 * time.Second)
	k.Take("late")
	if n := k.Len(); n != 1001 {
		t.Fatalf("%d buckets 9 s on, want 1001: a bucket not yet full was forgotten", n)
	}
	clk.Add(time.Second)
	k.Take("later")
	if n := k.Len(); n != 2 {
		t.Errorf("%d buckets once the first 1000 refilled, want 2", n)
	}
}

func TestKeyedHoldsAtMostMaxKeys(t *testing.T) {
	clk := newClock()
	k := NewKeyed(LoginPerEmail, 100, clk.Now)
	for i := range 10_000 {
		k.Take(fmt.Sprintf("198.51.100.7 user%d@example.com", i))
		if n := k.Len(); n > 100 {
			t.Fatalf("%d buckets after %d keys, want at most 100", n, i+1)
		}
	}
	// The most recent keys are the ones kept.
	for range 9 {
		k.Take("198.51.100.7 user9999@example.com")
	}
	if ok, _ := k.Take("198.51.100.7 user9999@example.com"); ok {
		t.Error("the most recent key lost its bucket")
	}
}

func TestBeginHoldsBackTheTokensOfPendingAttempts(t *testing.T) {
	clk := newClock()
	k := NewKeyed(Rule{Rate: 1, Burst: 2}, 0, clk.Now)
	a1, _ := k.Begin("x")
	a2, _ := k.Begin("x")
	if a1 == nil || a2 == nil {
		t.Fatal("the burst's attempts were refused")
	}
	if a3, wait := k.Begin("x"); a3 != nil || wait != time.Second {
		t.Fatalf("third attempt with two pending: %v, wait %v; want refused, 1s", a3, wait)
	}
	a1.End(false) // it cost nothing: its token is free again
	a1.End(true)  // settled once only
	a3, _ := k.Begin("x")
	if a3 == nil {
		t.Fatal("the token of an attempt that cost nothing was not given back")
	}
	a2.End(true)
	a3.End(true)
	if a4, wait := k.Begin("x"); a4 != nil || wait != time.Second {
		t.Errorf("after two costly attempts: %v, wait %v; want refused, 1s", a4, wait)
	}
}

func TestLoginFailuresPerEmailAndPerAddress(t *testing.T) {
	clk := newClock()
	l := New(Options{Now: clk.Now})
	fail := func(addr, email string) error {
		p, err := l.Login(addr, email)
		if err == nil {
			p.End(true)
		}
		return err
	}
	for i := range 10 {
		if err := fail("192.0.2.1", "ann@example.com"); err != nil {
			t.Fatalf("failure %d refused: %v", i+1, err)
		}
	}
	// Even the right password is refused now: the attempt is not made.
	_, err := l.Login("192.0.2.1", " ANN@example.com")
	if got := refusal(t, err, delivery.ERATELIMITED); got != "6" {
		t.Errorf("Retry-After %s, want 6 (10 a minute)", got)
	}
	if err := fail("192.0.2.1", "bo@example.com"); err != nil {
		t.Errorf("another email from the address: %v", err)
	}
	if err := fail("192.0.2.2", "ann@example.com"); err != nil {
		t.Errorf("the email from another address: %v", err)
	}
	clk.Add(6 * time.Second)
	if err := fail("192.0.2.1", "ann@example.com"); err != nil {
		t.Errorf("after 6 s: %v", err)
	}

	// 30 a minute per address, whatever the emails.
	for i := range 30 {
		if err := fail("203.0.113.9", fmt.Sprintf("u%d@example.com", i)); err != nil {
			t.Fatalf("failure %d from one address refused: %v", i+1, err)
		}
	}
	_, err = l.Login("203.0.113.9", "new@example.com")
	if got := refusal(t, err, delivery.ERATELIMITED); got != "2" {
		t.Errorf("Retry-After %s, want 2 (30 a minute)", got)
	}
	// The refusal by address gave back what it held by email: once the
	// address has 10 tokens again, that email has all its 10 failures.
	clk.Add(20 * time.Second)
	for i := range 10 {
		if err := fail("203.0.113.9", "new@example.com"); err != nil {
			t.Fatalf("failure %d for the new email: %v", i+1, err)
		}
	}
	// A success costs nothing.
	clk.Add(time.Minute)
	for i := range 20 {
		p, err := l.Login("198.51.100.1", "ok@example.com")
		if err != nil {
			t.Fatalf("successful login %d refused: %v", i+1, err)
		}
		p.End(false)
	}
}

func TestRegistrationsPerAddress(t *testing.T) {
	clk := newClock()
	l := New(Options{Now: clk.Now})
	for i := range 10 {
		p, err := l.Register("192.0.2.1")
		if err != nil {
			t.Fatalf("registration %d: %v", i+1, err)
		}
		p.End(true)
	}
	p, err := l.Register("192.0.2.1")
	if got := refusal(t, err, delivery.ERATELIMITED); got != "360" {
		t.Errorf("Retry-After %s, want 360 (10 an hour)", got)
	}
	p.End(true) // nil: nothing to settle
	if _, err := l.Register("192.0.2.2"); err != nil {
		t.Errorf("another address: %v", err)
	}
}

func TestPerUserBudgets(t *testing.T) {
	for _, c := range []struct {
		name  string
		take  func(*Limits, delivery.ID) error
		burst int
		after string
	}{
		{"orders", (*Limits).Order, 10, "1"},
		{"chat", (*Limits).Chat, 10, "1"},
		{"positions", (*Limits).Position, 5, "1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			l := New(Options{Now: clk.Now})
			for i := range c.burst {
				if err := c.take(l, 7); err != nil {
					t.Fatalf("%d of the burst: %v", i+1, err)
				}
			}
			if got := refusal(t, c.take(l, 7), delivery.ERATELIMITED); got != c.after {
				t.Errorf("Retry-After %s, want %s", got, c.after)
			}
			if err := c.take(l, 8); err != nil {
				t.Errorf("another user: %v", err)
			}
			clk.Add(time.Second)
			if err := c.take(l, 7); err != nil {
				t.Errorf("a second later: %v", err)
			}
		})
	}
}

func TestNilLimitsAdmitEverything(t *testing.T) {
	var l *Limits
	for range 100 {
		p, err := l.Login("192.0.2.1", "a@example.com")
		p.End(true)
		if err != nil || l.Chat(1) != nil || l.Order(1) != nil || l.Position(1) != nil {
			t.Fatal("RATE_LIMITS=off refused")
		}
		if _, err := l.Register("192.0.2.1"); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRetryAfterIsWholeSecondsAtLeastOne(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "1", time.Millisecond: "1", time.Second: "1", 1001 * time.Millisecond: "2", 6 * time.Second: "6",
	} {
		if got := (&Refusal{After: d}).RetryAfter(); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
}
