package orders_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/bus/bustest"
	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
	locmemory "github.com/ordercast/ordercast/internal/location/memory"
	"github.com/ordercast/ordercast/internal/orders"
	"github.com/ordercast/ordercast/internal/wire"
)

// locateOn moves the clock by step, sends courier's position taken then,
// and returns the AsOf of what it published to order's channel, -1 if
// nothing.
func (e *env) locateOn(svc *orders.Service, pub *pubRecorder, courier delivery.Actor, order delivery.ID, step time.Duration) int64 {
	e.t.Helper()
	e.clock.Add(step)
	pub.take()
	if _, err := svc.UpdateLocation(e.t.Context(), courier, position(e.clock.Now())); err != nil {
		e.t.Fatalf("position: %v", err)
	}
	for _, p := range pub.take() {
		if p.Channel == wire.OrderChannel(order) && p.Event == delivery.EventCourierLocation {
			return p.AsOf
		}
	}
	return -1
}

// A courier's positions read the store once, and again only after an
// event of one of its orders (a chat message moves the seq the positions
// must be published AsOf; an unassign and a claim change where they go).
func TestPositionsReadActiveOrdersOnlyAfterTheyChange(t *testing.T) {
	e, w := newCountedEnv(t)
	o := e.assigned()
	e.clock.Set(*o.AssignedAt)
	before := w.activeReads.Load()
	for range 5 {
		if asOf := e.locateOn(e.svc, e.pub, e.w.courier, o.ID, time.Second); asOf != o.Seq {
			t.Fatalf("position AsOf %d, want the order's seq %d", asOf, o.Seq)
		}
	}
	if got := w.activeReads.Load() - before; got != 1 {
		t.Fatalf("5 positions read the courier's orders %d times, want 1", got)
	}

	msg, _, err := e.svc.PostMessage(t.Context(), e.w.customer, o.ID, delivery.MessageInput{Text: "ring twice", ClientMsgID: "m1"})
	must(t, err)
	if asOf := e.locateOn(e.svc, e.pub, e.w.courier, o.ID, time.Second); asOf != msg.Seq {
		t.Fatalf("position after a chat message AsOf %d, want its seq %d", asOf, msg.Seq)
	}
	o = e.setStatus(e.w.staff, o.ID, delivery.StatusPreparing)
	if asOf := e.locateOn(e.svc, e.pub, e.w.courier, o.ID, time.Second); asOf != o.Seq {
		t.Fatalf("position after a status change AsOf %d, want %d", asOf, o.Seq)
	}
	_, err = e.svc.Unassign(t.Context(), e.w.staff, o.ID, "too slow")
	must(t, err)
	if asOf := e.locateOn(e.svc, e.pub, e.w.courier, o.ID, time.Second); asOf != -1 {
		t.Fatalf("position after the unassign published AsOf %d, want nothing", asOf)
	}
	o2 := e.claim(e.w.courier, e.accepted().ID)
	if asOf := e.locateOn(e.svc, e.pub, e.w.courier, o2.ID, time.Second); asOf != o2.Seq {
		t.Fatalf("position after a claim AsOf %d on the claimed order, want %d", asOf, o2.Seq)
	}
	if got := w.activeReads.Load() - before; got != 5 {
		t.Fatalf("the courier's orders were read %d times, want 5 (once, then after each of 4 changes)", got)
	}
	// A copy older than its expiry (30 s) is read again: the backstop for
	// an announcement the bus lost.
	e.locateOn(e.svc, e.pub, e.w.courier, o2.ID, 29*time.Second)
	e.locateOn(e.svc, e.pub, e.w.courier, o2.ID, 2*time.Second)
	if got := w.activeReads.Load() - before; got != 6 {
		t.Fatalf("the courier's orders were read %d times, want 6 (once more after 30 s)", got)
	}
}

// An event committed on another instance makes this one read the
// courier's orders again: the instances share the announcements on the
// bus's CourierChannel, and not only the expiry.
func TestActiveOrdersAreForgottenOnEveryInstance(t *testing.T) {
	broker := memory.NewBroker()
	newCache := func() *orders.ActiveCache {
		c := orders.NewActiveCache(nil, zerolog.Nop())
		b := c.Bus(broker.NewBus())
		must(t, b.Start(bustest.NewRecorder()))
		t.Cleanup(func() { _ = b.Close() })
		t.Cleanup(c.Close) // first: its last announcements go out on the open bus
		return c
	}
	e, _ := newCountedEnv(t, func(cfg *orders.Config) { cfg.Active = newCache() })
	pubB := &pubRecorder{}
	svcB := orders.New(orders.Config{
		Store: e.store, Outbox: &outboxRecorder{}, Publisher: pubB, Locations: locmemory.NewWithClock(e.clock.Now),
		Active: newCache(), MaxActivePerCourier: maxActive, Now: e.clock.Now, Log: zerolog.Nop(),
	})
	o := e.assigned()
	e.clock.Set(*o.AssignedAt)
	e.locateOn(e.svc, e.pub, e.w.courier, o.ID, time.Second) // this instance keeps the courier's orders

	// Each round commits a chat message on B and sends a position to A;
	// the caches subscribe in the background, so the first rounds may
	// miss. The clock moves 100 ms a round: far from activeTTL.
	round := 0
	untilPositionAsOf(t, "a chat message on another instance", func() (int64, int64) {
		round++
		msg, _, err := svcB.PostMessage(t.Context(), e.w.customer, o.ID, delivery.MessageInput{Text: "where are you", ClientMsgID: fmt.Sprintf("m%d", round)})
		must(t, err)
		return e.locateOn(e.svc, e.pub, e.w.courier, o.ID, 100*time.Millisecond), msg.Seq
	})
	// A claim on B reaches A's positions as soon as B's announcement
	// does: B announces from its own loop, so no request waits for the bus.
	o2, err := svcB.Claim(t.Context(), e.w.courier, e.accepted().ID)
	must(t, err)
	untilPositionAsOf(t, "a claim on another instance", func() (int64, int64) {
		return e.locateOn(e.svc, e.pub, e.w.courier, o2.ID, 100*time.Millisecond), o2.Seq
	})
}

// untilPositionAsOf repeats round, which returns the AsOf of a position
// and the seq it should be, until they match, for 5 s at most.
func untilPositionAsOf(t *testing.T, after string, round func() (got, want int64)) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, want := round()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s this instance's positions are AsOf %d, want %d, within 5 s", after, got, want)
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a bounded wait
	}
}
