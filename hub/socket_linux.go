package hub

import (
	"crypto/tls"
	"net"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// rawConnOf is the socket under conn and the wrappers around it (the
// server's lease), for reading and writing frames straight on it; nil
// when there is none, or under TLS, whose socket carries records.
func rawConnOf(conn net.Conn) syscall.RawConn {
	for c := conn; ; {
		if _, ok := c.(*tls.Conn); ok {
			return nil
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = w.NetConn()
	}
	return socketOf(conn)
}

// socketOf is the socket under conn and every wrapper around it (the
// lease, TLS), for socket options; nil when there is none.
func socketOf(conn net.Conn) syscall.RawConn {
	for {
		w, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		conn = w.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// waitReadable parks until the socket has a byte to read, its end or an
// error, or the read deadline passed, reading nothing: it peeks. Parked
// here, a goroutine's stack holds a few frames, not a websocket reader's.
func waitReadable(rc syscall.RawConn) error {
	var b [1]byte
	return rc.Read(func(fd uintptr) bool {
		for {
			_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			if err != unix.EINTR {
				return err != unix.EAGAIN
			}
		}
	})
}

// writeNow writes what of p the socket takes at once, waiting for
// nothing: a full send buffer writes 0 bytes, with no error. It writes
// through Control, not RawConn's Write, which fails once the last write
// deadline passed: a write that cannot wait needs none. The function
// Control calls is pooled, so that a write allocates nothing.
func writeNow(rc syscall.RawConn, p []byte) (int, error) {
	w := rawWrites.Get().(*rawWrite)
	w.b = p
	cerr := rc.Control(w.fn)
	n, err := w.n, w.err
	*w = rawWrite{fn: w.fn}
	rawWrites.Put(w)
	switch {
	case cerr != nil:
		return 0, cerr
	case err == unix.EAGAIN:
		return 0, nil
	case err != nil:
		return 0, err
	}
	return n, nil
}

// rawWrite is one write() of writeNow and the function that makes it.
type rawWrite struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr)
}

var rawWrites = sync.Pool{New: func() any {
	w := &rawWrite{}
	w.fn = func(fd uintptr) {
		for {
			w.n, w.err = unix.Write(int(fd), w.b)
			if w.err != unix.EINTR {
				return
			}
		}
	}
	return w
}}
