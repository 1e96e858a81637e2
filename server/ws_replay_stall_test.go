package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ordercast/ordercast/hub"
	"github.com/ordercast/ordercast/internal/wire"
)

// A client resumes a long log and stops reading: the replay waits for room
// in its send queue, the write times out, and the connection must still be
// cleaned up (the replay is woken, not left waiting forever).
func TestWSReplayToStalledClientIsCleanedUp(t *testing.T) {
	e := newRealtimeEnv(t, withLimits(hub.Limits{WriteTimeout: 300 * time.Millisecond, SendQueueFrames: 16}))
	w := e.newWorld()
	o := e.place(w)
	pad := strings.Repeat("x", 60<<10)
	for range 200 {
		e.must(http.StatusOK, "POST", "/api/v1/publish", testAPIKey, map[string]any{
			"channel": wire.OrderChannel(o.ID), "event": "test.pad", "data": map[string]any{"pad": pad}, "durable": true})
	}
	stalled := e.dialPaused(w.Customer.User.Email, w.Customer.Token)
	e.waitStat("the connection", func(s hub.Stats) bool { return s.Connections == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	sub := `{"type":"subscribe","channel":"` + wire.OrderChannel(o.ID) + `","since":0}`
	if err := stalled.conn.Write(ctx, websocket.MessageText, []byte(sub)); err != nil {
		t.Fatal(err)
	}
	e.waitStat("the stalled connection dropped", func(s hub.Stats) bool { return s.Connections == 0 && s.Subscriptions == 0 })
}
