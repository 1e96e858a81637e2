// Package testnet holds network fakes for tests: a TCP proxy that can cut
// or silently stall every connection, as a failing network would.
package testnet

import (
	"net"
	"sync"
	"testing"
	"time"
)

// Proxy forwards TCP connections to a target and can cut them all, as a
// network failure between an instance and Redis would.
type Proxy struct {
	Addr   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	cut    bool
	paused bool
	resume *sync.Cond // signalled on Resume and Cut
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup // the accept loop and every copy goroutine
}

// StartProxy listens on a free port and forwards to target until the test
// ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.resume = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = c.Close() // refused while cut
			continue
		}
		p.mu.Unlock()
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second) // the accept loop must not hang on a dead target
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			_ = c.Close()
			_ = up.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// pipe copies until either side fails, then closes both. While paused,
// what it read waits: the connection stays open but silent.
func (p *Proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.waitResumed() {
			break
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// waitResumed blocks while the proxy is paused; false means it was cut.
func (p *Proxy) waitResumed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.paused && !p.cut {
		p.resume.Wait()
	}
	return !p.cut
}

// Pause stops forwarding without closing anything, as a network that
// silently drops packets: only pings find out.
func (p *Proxy) Pause() {
	p.mu.Lock()
	p.paused = true
	p.mu.Unlock()
}

// Resume lets traffic through again after a Pause (what was held back
// goes first) or a Cut (new connections are accepted again).
func (p *Proxy) Resume() {
	p.mu.Lock()
	p.paused = false
	p.cut = false
	p.resume.Broadcast()
	p.mu.Unlock()
}

// Cut closes every forwarded connection and refuses new ones until
// Resume.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.resume.Broadcast()
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
}

func (p *Proxy) close() {
	_ = p.ln.Close()
	p.Cut()
	p.wg.Wait()
}
