package hub

import (
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type wrapped struct{ net.Conn }

func (w wrapped) NetConn() net.Conn { return w.Conn }

// TestStreamSocketHasUserTimeout: an event stream's socket gives up on
// data unacknowledged for ReadTimeout.
func TestStreamSocketHasUserTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	newSSEConn(wrapped{server}, Limits{ReadTimeout: 42 * time.Second}) // as the server's lease wraps it
	raw, err := server.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var gerr error
	if err := raw.Control(func(fd uintptr) { got, gerr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT) }); err != nil || gerr != nil {
		t.Fatal(err, gerr)
	}
	if got != 42000 {
		t.Errorf("TCP_USER_TIMEOUT %d ms, want 42000", got)
	}
}
