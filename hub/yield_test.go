package hub

import (
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/ordercast/ordercast/internal/bus/memory"
	"github.com/ordercast/ordercast/internal/delivery"
)

// dataWrites counts the writes on a connection that begin with a text
// frame (a batch of data frames), to see how frames were coalesced.
type dataWrites struct {
	net.Conn
	n atomic.Int64
}

func (d *dataWrites) Write(p []byte) (int, error) {
	if len(p) > 0 && p[0] == finBit|opText {
		d.n.Add(1)
	}
	return d.Conn.Write(p)
}

// A writer started for one fan-out's frame lets another fan-out that is
// ready to run queue its frame first, and writes both with one write. On
// one thread the other fan-out would otherwise run only after the
// writer's first write. (The wrapped connection is not a plain socket, so
// no frame is written at once.)
func TestWriterYieldsToFanoutsReadyToRun(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	h := startHub(t, testConfig(t, &logStore{events: map[delivery.ID][]delivery.Event{}}, memory.New()))
	counted := &dataWrites{}
	ws := serveLoopback(t, h, adminClaims(), func(raw net.Conn) net.Conn { counted.Conn = raw; return counted }, nil)
	var c *client
	h.mu.Lock()
	for c = range h.clients {
	}
	h.mu.Unlock()

	start := make(chan struct{})
	var fanouts sync.WaitGroup
	for i := range 2 {
		frame := encodeEvent("user:9", "test.event", 0, []byte(`{}`), int64(i+1))
		fanouts.Go(func() {
			<-start
			c.sendEphemeral(frame)
		})
	}
	close(start) // both fan-outs ready to run at once
	fanouts.Wait()
	for range 2 {
		readFrame(t, ws)
	}
	if n := counted.n.Load(); n != 1 {
		t.Fatalf("2 frames of fan-outs ready at once took %d writes, want 1", n)
	}
}
