package hub

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/ordercast/ordercast/internal/delivery"
	"github.com/ordercast/ordercast/internal/wire"
)

// idleQueueCap is the largest queue slice an idle connection keeps (it
// keeps one); a writer going idle drops longer ones, so that a burst long
// ago costs no memory now, while a busy writer reuses its slices whatever
// their size.
const idleQueueCap = 8

// directGap is how long after the last frame written at once the next may
// be too (writeNowLocked): one that comes sooner is likely part of a burst
// (a replay page, an answer and the event it made), which the writer
// coalesces into one write instead.
const directGap = time.Millisecond

// writerYields is how many times a writer started for a frame lets the
// goroutines ready to run go first, before it takes its first batch.
// Under load they are mostly fan-outs queuing more frames for the same
// sockets, which then share its write() (a broadcast to 5,000 sockets with
// 8 publishes in flight made about half the writes per delivery, on 40 %
// less CPU); with nothing else ready to run, each yield returns at once,
// so it adds no latency to a quiet server.
const writerYields = 8

var errClientClosed = errors.New("hub: connection closing")

// client is one connection, a websocket or an SSE stream behind the
// transport interface. Its reader goroutine (readLoop)
// lives as long as the connection and is the one that cleans up. A frame
// for a connection whose writer is idle, and that wrote nothing in the
// last directGap, is written at once by whoever sends it if the socket
// takes it without waiting (writeNowLocked): a socket getting a frame a
// second costs a write() per frame and no goroutine. Otherwise a writer
// goroutine (writeLoop) runs while frames are queued: the first frame
// queued on an idle connection starts it, and it ends when it found the
// queue empty. So an idle connection costs one goroutine, and no timer:
// the hub's sweeper does pings and token expiry for all connections.
type client struct {
	hub   *Hub
	t     transport
	actor delivery.Actor

	// What logs name the connection by (logs.go): id, the request id of
	// its handshake, and when it opened (Unix ns).
	id        uint64
	requestID string
	opened    int64
	framesIn  uint64 // data frames read; reader goroutine only

	exp      atomic.Int64 // token expiry, Unix nanoseconds
	lastRead atomic.Int64 // last frame, ping or pong from the peer, Unix ns
	quiet    int64        // t.keepaliveAfter(), set before the sweeper sees c
	// sid is the session of the connection's token (setClaims);
	// sidUnchecked says the sweeper has not yet asked whether it ended.
	sid          atomic.Pointer[string]
	sidUnchecked atomic.Bool

	// Reader goroutine only. subs are the subscriptions, user:{id}
	// first: a slice, not a map, since there are a few (MaxSubscriptions)
	// and an idle connection keeps them.
	subs     []*subscription
	tokens   float64 // rate limit bucket
	tokensAt int64   // Unix ns of the last refill

	mu sync.Mutex // guards everything below
	// queue holds frames not yet handed to the writer; spare is the
	// writer's previous batch, reused so that steady traffic allocates no
	// slices. Frames are shared by every socket and never modified.
	queue     [][]byte
	spare     [][]byte
	queued    int   // bytes in queue
	writing   bool  // a writer goroutine runs (or the close was handed to it)
	ping      bool  // the writer should send a keepalive
	rest      bool  // the transport holds the end of a frame written at once
	wroteAt   int64 // when a frame was last written at once, Unix ns
	closeCode int   // a close was requested: nothing more is queued
	reason    wire.CloseReason
	done      bool          // the reader ended; the client is gone
	room      chan struct{} // closed by the writer when it drains: replay flow control
	framesOut uint64        // frames written

	// eph runs beside queue: whether each frame is ephemeral (no seq), so
	// that a full queue can shed it (shedLocked); ephemerals counts them.
	eph        []bool
	ephemerals int
}

// touch records activity from the peer.
func (c *client) touch() { c.lastRead.Store(time.Now().UnixNano()) }

// send queues a durable frame (an event with a seq, an answer) for the
// socket; sendEphemeral one without a seq.
func (c *client) send(frame []byte)          { c.enqueue(frame, false, true) }
func (c *client) sendEphemeral(frame []byte) { c.enqueue(frame, true, true) }

// enqueue queues frame for the socket, or writes it at once when now
// allows it and the connection's writer is idle (writeNowLocked). It
// never blocks. A full queue
// first sheds its ephemeral frames (shedLocked); an ephemeral frame that
// still finds no room is dropped, and a durable one closes the client
// with 4009, too slow to keep up, its queued frames dropped so that it
// holds no memory for others: durable frames are never dropped from an
// open connection.
func (c *client) enqueue(frame []byte, ephemeral, now bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeCode != 0 || c.done {
		return
	}
	if now && c.writeNowLocked(frame) {
		return
	}
	if !c.fitsLocked(len(frame)) && !c.shedLocked(frame, ephemeral) {
		if ephemeral {
			c.hub.stats.shed[classOf(frame)].Add(1)
			return
		}
		clear(c.queue)
		c.queue, c.eph, c.queued, c.ephemerals = c.queue[:0], c.eph[:0], 0, 0
		c.hub.stats.slowClosed.Add(1)
		c.closeLocked(wire.ReasonSlow)
		return
	}
	if c.queue == nil {
		c.queue = make([][]byte, 0, idleQueueCap)
	}
	c.queue = append(c.queue, frame)
	c.eph = append(c.eph, ephemeral)
	if ephemeral {
		c.ephemerals++
	}
	c.queued += len(frame)
	c.kickLocked()
}

// writeNowLocked writes frame on the caller's goroutine, which saves
// starting the writer (and the thread wake-ups that come with it), if no
// writer runs (then nothing is queued), none was written at once within
// directGap, and the transport takes it without waiting; it reports
// whether the frame is taken. What the socket did not take of it, the
// writer writes, started here. A failed write ends the connection as the
// writer's would.
func (c *client) writeNowLocked(frame []byte) bool {
	if c.writing || !c.fitsLocked(len(frame)) {
		return false // a frame too large for the queue is refused by it
	}
	now := time.Now().UnixNano()
	if now-c.wroteAt < int64(directGap) {
		return false
	}
	c.wroteAt = now
	taken, rest, err := c.t.writeNow(frame)
	switch {
	case err != nil:
		c.writing = true // no writer after this
		c.writeFailedLocked()
		c.t.abort()
		return true
	case !taken:
		return false
	}
	c.hub.stats.written.Add(1)
	c.hub.stats.writtenAtOnce.Add(1)
	c.framesOut++
	if rest {
		c.finishRestLocked()
	}
	return true
}

// finishRest has the writer finish what the socket did not take of a
// frame or ping written at once (the transport holds it), before anything
// else.
func (c *client) finishRest() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.finishRestLocked()
}

func (c *client) finishRestLocked() {
	c.rest = true
	c.kickLocked()
}

// writeFailedLocked ends the connection after a failed write: nothing
// more is queued, a replay waiting for room sees it, and the reader, which
// the caller's abort ends, cleans up.
func (c *client) writeFailedLocked() {
	c.closeCode = wire.CloseInternal
	c.reason = reasonWriteFailed
	c.wakeLocked()
}

// queueLen is how many frames wait in the queue now.
func (c *client) queueLen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// fitsLocked reports whether n more bytes fit in the queue.
func (c *client) fitsLocked(n int) bool {
	lim := &c.hub.cfg.Limits
	return len(c.queue) < lim.SendQueueFrames && c.queued+n <= lim.SendQueueBytes
}

// kickLocked starts the writer unless it runs.
func (c *client) kickLocked() {
	if c.writing || c.done {
		return
	}
	c.writing = true
	c.hub.wg.Add(1) // the reader's count is held, so Wait cannot have returned
	c.hub.stats.writers.Add(1)
	// One 16-byte closure per start, amortized over the frames of a
	// burst: the price of holding no goroutine while idle.
	go c.writeLoop()
}

// closeWith asks the writer to close the connection with code after what
// is queued (4009 drops the queue first, in send).
func (c *client) closeWith(r wire.CloseReason) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked(r)
}

func (c *client) closeLocked(r wire.CloseReason) {
	if c.closeCode != 0 || c.done {
		return
	}
	c.closeCode, c.reason = r.Code, r
	c.wakeLocked()
	c.kickLocked()
}

func (c *client) closing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode != 0 || c.done
}

// requestPing asks the writer for a keepalive (the transport decides
// when one is due: keepaliveDue).
func (c *client) requestPing() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeCode != 0 {
		return
	}
	c.ping = true
	c.kickLocked()
}

// writeLoop writes batches until the queue is empty, then ends; or closes
// the connection when asked. A write error aborts the connection, which
// ends the reader, which cleans up.
func (c *client) writeLoop() {
	defer c.hub.wg.Done()
	for range writerYields {
		runtime.Gosched()
	}
	yielded := false
	for {
		c.mu.Lock()
		batch, ping, rest := c.queue, c.ping, c.rest
		if len(batch) == 0 && !ping && !rest && !yielded && c.closeCode == 0 {
			// Under a stream of events the next one is usually being
			// fanned out right now: let it land and write it with this
			// goroutine rather than end and start another.
			c.mu.Unlock()
			yielded = true
			runtime.Gosched()
			continue
		}
		yielded = false
		if len(batch) == 0 && !ping && !rest {
			if c.closeCode != 0 && !c.done {
				code, reason := c.closeCode, c.reason.Text
				c.mu.Unlock()
				c.t.close(code, reason) // writing stays true: no writer after this one
				return
			}
			c.writing = false
			if cap(c.queue) > idleQueueCap {
				c.queue = nil
			}
			// One slice is kept, not two: a burst of one batch (the usual
			// one) reuses it, only a longer one allocates the second.
			if c.queue == nil && cap(c.spare) <= idleQueueCap {
				c.queue = c.spare
			}
			c.spare = nil
			if cap(c.eph) > idleQueueCap {
				c.eph = nil
			}
			c.mu.Unlock()
			return
		}
		c.queue, c.spare, c.eph = c.spare[:0], nil, c.eph[:0]
		c.queued, c.ephemerals, c.ping, c.rest = 0, 0, false, false
		c.wakeLocked()
		c.mu.Unlock()

		err := c.t.writeFrames(batch, ping)
		c.hub.stats.written.Add(uint64(len(batch)))
		clear(batch) // drop references to shared frames
		c.mu.Lock()
		c.spare = batch[:0]
		if err != nil {
			c.writeFailedLocked()
			c.mu.Unlock()
			c.t.abort()
			return
		}
		c.framesOut += uint64(len(batch))
		c.mu.Unlock()
	}
}

// wakeLocked releases a replay waiting for room in the queue.
func (c *client) wakeLocked() {
	if c.room != nil {
		close(c.room)
		c.room = nil
	}
}

// hasRoomLocked reports whether the queue is at most half full, the
// level under which a replay may add to it.
func (c *client) hasRoomLocked() bool {
	lim := &c.hub.cfg.Limits
	return len(c.queue) < lim.SendQueueFrames/2 && c.queued < lim.SendQueueBytes/2
}

// waitRoom blocks a replay until the queue has room, so that replaying a
// long history is paced by the socket instead of overflowing the queue.
func (c *client) waitRoom(ctx context.Context) error {
	for {
		c.mu.Lock()
		if c.closeCode != 0 || c.done {
			c.mu.Unlock()
			return errClientClosed
		}
		if c.hasRoomLocked() {
			c.mu.Unlock()
			return nil
		}
		if c.room == nil {
			c.room = make(chan struct{})
		}
		room := c.room
		c.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// hasRoom reports whether a replay may queue more now.
func (c *client) hasRoom() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hasRoomLocked()
}

// sendAck queues an ack for this client alone.
func (c *client) sendAck(id []byte) {
	if id == nil {
		return
	}
	c.send(wire.AppendAck(make([]byte, 0, len(id)+24), id))
}

func (c *client) sendError(id []byte, err error) {
	code, msg := wire.FrameCode(delivery.ErrorCode(err)), delivery.ErrorMessage(err)
	if code == wire.CodeInternal {
		c.log(zerolog.ErrorLevel).Err(err).Str("transport", c.t.name()).Msg("client frame failed")
		msg = "internal error"
	}
	c.send(wire.AppendError(make([]byte, 0, len(id)+len(code)+len(msg)+48), id, code, msg))
}

// admit takes a frame of the peer, data or control, from the rate-limit
// bucket; beyond the limit the connection is closed with 4008. Frames that
// arrive while the connection closes are not answered: the close frame
// may already be on its way. Reader goroutine only.
func (c *client) admit() bool {
	if c.closing() {
		return false
	}
	if c.allow(time.Now().UnixNano()) {
		return true
	}
	c.hub.stats.rateLimited.Add(1)
	c.closeWith(wire.ReasonRateLimited)
	return false
}

// control takes a ping or pong of the peer, which the library reads
// within the reader's read (or, once closing, the close handshake's, when
// admit touches no bucket). Each counts against the frame limit like a
// data frame, since answering a ping is a write; it reports whether to
// answer a ping.
func (c *client) control() bool {
	c.touch()
	return c.admit()
}

// allow takes one frame from the rate-limit bucket.
func (c *client) allow(now int64) bool {
	lim := &c.hub.cfg.Limits
	burst := float64(lim.RateBurst)
	if c.tokensAt == 0 {
		c.tokens = burst
	} else {
		c.tokens = min(burst, c.tokens+float64(now-c.tokensAt)/float64(time.Second)*lim.RatePerSecond)
	}
	c.tokensAt = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}
