//go:build !linux

package hub

import (
	"net"
	"syscall"
)

// rawConnOf has no use off Linux (waitReadable): a connection waits for
// its frames in the websocket library's read.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func waitReadable(syscall.RawConn) error { return nil }
