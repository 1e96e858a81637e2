package hub

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// rawConnOf is the socket under conn and the wrappers around it (the
// server's lease), or nil when it is not one.
func rawConnOf(conn net.Conn) syscall.RawConn {
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
		_, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return err != unix.EAGAIN
	})
}

// writeNow writes what p the socket takes at once, waiting for nothing.
// It writes through Control, not RawConn's Write, which fails once the
// last write deadline passed: a write that cannot wait needs none.
func writeNow(rc syscall.RawConn, p []byte) (n int, err error) {
	if cerr := rc.Control(func(fd uintptr) { n, err = unix.Write(int(fd), p) }); cerr != nil {
		return 0, cerr
	}
	return n, err
}
