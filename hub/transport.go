package hub

// transport is what the hub core (a client's reader and writer, Serve,
// Shutdown) needs of a connection; the websocket (websocket.go) and the
// server-sent event stream (sse.go) implement it, and every difference
// between them lives behind it. One goroutine reads (read, then release);
// at most one writes (writeFrames, then close), the writer goroutine of
// the client; abort may be called from anywhere.
type transport interface {
	// name names the transport in logs: "ws" or "sse".
	name() string
	// read returns the peer's next frame, in a pooled buffer the caller
	// puts back with putBuf(bp, msg), and whether it is text; or blocks
	// until the peer is gone, for a transport the peer does not write to.
	read() (bp *[]byte, msg []byte, text bool, err error)
	// writeFrames writes a batch of queued frames, each one encoded
	// once for every connection as a websocket frame's JSON, preceded by
	// a keepalive when asked (a websocket ping, an SSE comment). Every
	// write has a deadline.
	writeFrames(frames [][]byte, keepalive bool) error
	// writeNow writes one frame without blocking, if the transport can,
	// for the goroutine that holds the writing turn while no writer runs.
	// taken: the frame is written, or its rest held for the next
	// writeFrames (rest, which the caller must then run); otherwise
	// nothing was written. An error is a failed write.
	writeNow(frame []byte) (taken, rest bool, err error)
	// keepaliveDue tells the hub's sweeper whether to ask for a keepalive
	// now; lastRead is the peer's last activity (Unix ns). Sweeper only.
	keepaliveDue(now, lastRead int64) bool
	// keepaliveAfter is how long after the peer's last frame a keepalive
	// is due at the soonest (Unix ns); the sweeper passes by a connection
	// heard from within it without asking keepaliveDue.
	keepaliveAfter() int64
	// keepaliveNow sends a due keepalive at once when that needs no
	// wait, and reports whether it did (if not, the sweeper asks the
	// writer for it) and whether a rest of it is left, which the writer
	// must finish. Sweeper only.
	keepaliveNow() (taken, rest bool)
	// close ends the connection with a close code of API.md and a reason,
	// after what was written; the reader's read then fails.
	close(code int, reason string)
	// abort cuts the connection at once; whatever blocks on it returns.
	abort()
	// release frees the connection once its reader ended with readErr.
	release(readErr error)
	// ended names, for the log, an end the hub did not ask for: the close
	// code and a reason (logs.go), from the reader's readErr. It never
	// returns the peer's own close text.
	ended(readErr error) (code int, reason string)
}

var (
	_ transport = (*wsConn)(nil)
	_ transport = (*sseConn)(nil)
)
