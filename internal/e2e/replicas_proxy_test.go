package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
)

// proxy is a loopback TCP proxy to a backend (PostgreSQL or Redis) that a
// fault test can cut and restore, so that the shared servers themselves
// are never stopped.
type proxy struct {
	ln      net.Listener
	backend string

	mu    sync.Mutex
	state proxyState
	conns map[net.Conn]struct{}
	held  []net.Conn // accepted while blackholed
}

type proxyState int

const (
	proxyUp        proxyState = iota
	proxyRefuse               // new connections are closed at once, like a stopped server
	proxyBlackhole            // new connections are accepted and never answered, like a partition
)

// startProxy listens on a free loopback port and forwards to backend.
func startProxy(t *testing.T, backend string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, backend: backend, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut(proxyRefuse)
	})
	return p
}

// addr is the proxy's host:port.
func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		state := p.state
		switch state {
		case proxyRefuse:
			c.Close()
		case proxyBlackhole:
			p.held = append(p.held, c)
		}
		p.mu.Unlock()
		if state == proxyUp {
			go p.forward(c)
		}
	}
}

func (p *proxy) forward(c net.Conn) {
	b, err := net.Dial("tcp", p.backend)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.state != proxyUp {
		p.mu.Unlock()
		c.Close()
		b.Close()
		return
	}
	p.conns[c], p.conns[b] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, c); done <- struct{}{} }()
	go func() { io.Copy(c, b); done <- struct{}{} }()
	<-done
	c.Close()
	b.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, b)
	p.mu.Unlock()
}

// cut drops every open connection and handles new ones as state says.
func (p *proxy) cut(state proxyState) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = state
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// restore forwards new connections again.
func (p *proxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = proxyUp
	for _, c := range p.held {
		c.Close()
	}
	p.held = nil
}
