package limits

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ordercast/ordercast/internal/delivery"
)

// fakeTimers hands each wait's timer to the test, which fires it.
type fakeTimers chan chan time.Time

func (f fakeTimers) after(time.Duration) (<-chan time.Time, func()) {
	c := make(chan time.Time, 1)
	f <- c
	return c, func() {}
}

// hold takes one of g's slots until the returned func is called.
func hold(t *testing.T, g *Gate) func() {
	t.Helper()
	started, release := make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := g.Do(context.Background(), func() { close(started); <-release }); err != nil {
			t.Errorf("hold: %v", err)
		}
	}()
	<-started
	return func() { close(release); <-done }
}

func TestGateRunsAtMostSlotsAtOnce(t *testing.T) {
	timers := make(fakeTimers, 1)
	g := NewGate(GateConfig{Slots: 2, After: timers.after})
	free1, free2 := hold(t, g), hold(t, g)
	ran := make(chan struct{})
	go func() {
		if err := g.Do(context.Background(), func() { close(ran) }); err != nil {
			t.Errorf("third: %v", err)
		}
	}()
	<-timers // the third waits
	select {
	case <-ran:
		t.Fatal("a third ran with both slots taken")
	default:
	}
	free1()
	<-ran
	free2()
}

func TestGateRefusesAWaitOverItsLimit(t *testing.T) {
	timers := make(fakeTimers, 1)
	g := NewGate(GateConfig{Slots: 1, Wait: 5 * time.Second, After: timers.after})
	free := hold(t, g)
	defer free()
	errc := make(chan error, 1)
	ran := false
	go func() { errc <- g.Do(context.Background(), func() { ran = true }) }()
	(<-timers) <- time.Now() // the 5 s are up
	err := <-errc
	if got := refusal(t, err, delivery.EUNAVAILABLE); got != "5" {
		t.Errorf("Retry-After %s, want 5", got)
	}
	if ran {
		t.Error("f ran although refused")
	}
	if n := g.Waiting(); n != 0 {
		t.Errorf("%d still waiting", n)
	}
}

func TestGateCancelledCallerLeavesTheQueue(t *testing.T) {
	timers := make(fakeTimers, 2)
	g := NewGate(GateConfig{Slots: 1, After: timers.after})
	free := hold(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Do(ctx, func() { t.Error("a cancelled caller ran") }) }()
	<-timers
	next := make(chan struct{})
	go func() {
		if err := g.Do(context.Background(), func() { close(next) }); err != nil {
			t.Errorf("next: %v", err)
		}
	}()
	<-timers
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v, want context.Canceled", err)
	}
	if n := g.Waiting(); n != 1 {
		t.Fatalf("%d waiting after the cancel, want 1", n)
	}
	free()
	<-next // the slot went to the one still waiting
}
