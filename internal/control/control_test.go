package control_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/bus/bustest"
	"github.com/ordercast/ordercast/internal/control"
	"github.com/ordercast/ordercast/internal/delivery"
)

// fakeBus keeps the handler it was started with, so that the test can
// hand it messages and gaps as a backend would, and fails its first
// subscriptions, as an unreachable backend does.
type fakeBus struct {
	delivery.Bus
	mu         sync.Mutex
	handler    delivery.BusHandler
	failures   int
	subscribed []string
}

func (b *fakeBus) Start(h delivery.BusHandler) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.handler = h
	return nil
}

func (b *fakeBus) Subscribe(_ context.Context, channel string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures > 0 {
		b.failures--
		return context.DeadlineExceeded
	}
	b.subscribed = append(b.subscribed, channel)
	return nil
}

func (b *fakeBus) Close() error { return nil }

func (b *fakeBus) channels() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.subscribed)
}

// The listener gets its channel's messages and every gap; the hub gets
// every other message and the gaps too; the channel is subscribed again
// until the backend answers.
func TestListenerTakesItsChannelOutOfTheBus(t *testing.T) {
	fb := &fakeBus{failures: 1}
	var mu sync.Mutex
	var frames []string
	gaps := 0
	b := control.Bus(fb, control.Listener{
		Channel: "ops.test",
		Message: func(f []byte) { mu.Lock(); frames = append(frames, string(f)); mu.Unlock() },
		Gap:     func() { mu.Lock(); gaps++; mu.Unlock() },
	}, zerolog.Nop())
	hub := bustest.NewRecorder()
	if err := b.Start(hub); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })

	deadline := time.Now().Add(5 * time.Second) // one retry a second
	for !slices.Equal(fb.channels(), []string{"ops.test"}) {
		if time.Now().After(deadline) {
			t.Fatalf("subscribed %v within 5 s, want ops.test after one failure", fb.channels())
		}
		time.Sleep(10 * time.Millisecond) // poll interval of a bounded wait
	}
	fb.handler.HandleMessage(delivery.BusMessage{Channel: "ops.test", Frame: []byte("a")})
	fb.handler.HandleMessage(delivery.BusMessage{Channel: "order:1", Frame: []byte("b")})
	fb.handler.HandleGap()
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(frames, []string{"a"}) || gaps != 1 {
		t.Fatalf("listener got %q and %d gaps, want [a] and 1", frames, gaps)
	}
	if got := hub.On("order:1"); len(got) != 1 || len(hub.On("ops.test")) != 0 {
		t.Fatalf("hub got %d messages of order:1 and %d of ops.test, want 1 and 0", len(got), len(hub.On("ops.test")))
	}
	if hub.Gaps() != 1 {
		t.Fatalf("hub got %d gaps, want 1", hub.Gaps())
	}
}
