package server_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/internal/app"
	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/store/sqlite"
)

// replayFails is a store whose event log cannot be read while fail is set.
type replayFails struct {
	app.Store
	fail atomic.Bool
}

func (s *replayFails) EventsAfter(ctx context.Context, id delivery.ID, after int64, limit int) ([]delivery.Event, error) {
	if s.fail.Load() {
		return nil, errors.New("disk unreadable")
	}
	return s.Store.EventsAfter(ctx, id, after, limit)
}

// TestWSReplayFailureAfterAckCloses1011: the subscribe is acked before its
// replay runs; a replay that then fails must not leave an acked
// subscription silent (an error frame would answer nothing the client
// waits for): the connection is closed with 1011, resume with since.
func TestWSReplayFailureAfterAckCloses1011(t *testing.T) {
	store := &replayFails{Store: sqlite.OpenTest(t)}
	e := newRealtimeEnvOn(t, store)
	w := e.newWorld()
	o := e.place(w)
	c := e.dial(w.Customer)
	store.fail.Store(true)
	c.send(map[string]any{"type": "subscribe", "id": "s", "channel": "order:" + o.ID.String(), "since": 0})
	if code := c.closeCode(); code != websocket.StatusInternalError {
		t.Fatalf("closed with %d, want 1011 (resume with since)", code)
	}
	for _, f := range c.waitUntil("frames", func([]frame) bool { return true }) {
		if f.Type == "error" {
			t.Fatalf("an error frame after the ack: %+v", f)
		}
	}
}
