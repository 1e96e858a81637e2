package hub

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// setUserTimeout bounds how long data written to conn may stay
// unacknowledged before the kernel drops the connection
// (TCP_USER_TIMEOUT): an event stream's peer never writes, so a phone
// gone from the network is noticed only this way, not after TCP's
// retransmissions give up some 15 minutes later.
func setUserTimeout(conn net.Conn, d time.Duration) {
	raw := socketOf(conn)
	if raw == nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d.Milliseconds()))
	})
}
