package hub

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
)

// An error Serve returns, which the server logs, names the failure but
// not the peer's address; errors.Is still finds its cause.
func TestErrorsLeaveThePeerAddressOut(t *testing.T) {
	peer := &net.TCPAddr{IP: net.IPv4(203, 0, 113, 7), Port: 51234}
	local := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 8080}
	err := withoutAddrs(fmt.Errorf("write stream head: %w", &net.OpError{Op: "write", Net: "tcp", Source: local, Addr: peer, Err: syscall.EPIPE}))
	if strings.Contains(err.Error(), "203.0.113.7") || strings.Contains(err.Error(), "10.0.0.1") {
		t.Errorf("%q holds an address", err)
	}
	if !strings.Contains(err.Error(), "write stream head: write tcp: ") || !errors.Is(err, syscall.EPIPE) {
		t.Errorf("%q: the failure or its cause is lost", err)
	}
	plain := errors.New("hub: shut down")
	if got := withoutAddrs(plain); got != plain {
		t.Errorf("an error without addresses became %v", got)
	}
}
