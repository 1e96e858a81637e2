//go:build !linux

package hub

import (
	"net"
	"time"
)

// setUserTimeout has no portable equivalent off Linux: there a vanished
// stream peer is noticed when TCP's retransmissions give up.
func setUserTimeout(net.Conn, time.Duration) {}
