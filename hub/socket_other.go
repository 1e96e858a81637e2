//go:build !linux

package hub

import (
	"errors"
	"net"
	"syscall"
)

// rawConnOf has no use off Linux (waitReadable, writeNow): a connection
// waits for its frames in the websocket library's read, and its writer
// sends its pings.
func rawConnOf(net.Conn) syscall.RawConn { return nil }

func waitReadable(syscall.RawConn) error { return nil }

func writeNow(syscall.RawConn, []byte) (int, error) { return 0, errors.ErrUnsupported }
