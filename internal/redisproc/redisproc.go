// Package redisproc runs a redis-server process of one's own: on a free
// port, in a directory of its own, stopped (killed, a crash) and started
// again on the same port. The Redis fault tests (through
// internal/bus/redis/redistest) and the load tool's soak use it, so that
// neither touches a shared server.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Binary returns the path of redis-server on the PATH.
func Binary() (string, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return "", errors.New("redis-server not installed (not on the PATH)")
	}
	return path, nil
}

// FreePort returns a TCP port of 127.0.0.1 nobody listens on right now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Server is one redis-server process, without persistence, listening on
// 127.0.0.1 at Addr, with its logs in its directory.
type Server struct {
	Addr string
	bin  string
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// New prepares a server of the binary bin on port, in dir, with extra
// config arguments ("--cluster-enabled", "yes", …); Start starts it.
func New(bin, dir string, port int, extra ...string) *Server {
	return &Server{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bin: bin, dir: dir,
		args: append([]string{
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--appendonly", "no", "--protected-mode", "no",
		}, extra...),
	}
}

// Start starts the process (again, after Stop) and waits until it
// answers, for up to 10 s.
func (s *Server) Start(ctx context.Context) error {
	cmd := exec.Command(s.bin, s.args...)
	logf, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("redis-%d.log", time.Now().UnixNano())))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	err = cmd.Start()
	logf.Close() // the child holds its own descriptor
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	return WaitPing(ctx, s.Addr, 10*time.Second)
}

// Pid is the running process's id, 0 when stopped.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop kills the process (a crash, not a shutdown) and waits for it; it
// does nothing when the server is stopped.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// WaitPing waits until Redis at addr answers PING, for up to within.
func WaitPing(ctx context.Context, addr string, within time.Duration) error {
	c := goredis.NewClient(&goredis.Options{Addr: addr, DialTimeout: time.Second, MaxRetries: -1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		pctx, pcancel := context.WithTimeout(ctx, time.Second)
		err := c.Ping(pctx).Err()
		pcancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis at %s does not answer within %s: %w", addr, within, err)
		case <-time.After(20 * time.Millisecond): // poll interval of a bounded wait
		}
	}
}
