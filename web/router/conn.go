package router

import (
	"context"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// A bound on the memory of request heads being read. Heroku's limits allow
// 8 MB heads, which net/http holds whole until parsed: 30 slow clients would
// take hundreds of MB. A connection reads smallHead bytes of a head freely
// (browsers' are a few KB); past that it waits, up to ReadHeaderTimeout, for
// one of bigHeadSlots slots, held until its head is read or it closes.
const (
	smallHead    = 64 << 10
	bigHeadSlots = 2
)

// listener gives net/http the router's client connections.
type listener struct {
	net.Listener
	r *Router
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &clientConn{Conn: c, r: l.r, inHead: true, closed: make(chan struct{})}, nil
}

type connKey struct{}

// withConn is the server's ConnContext: requests find their connection.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// clientConn is a client's connection, as net/http reads it.
type clientConn struct {
	net.Conn
	r *Router

	mu     sync.Mutex
	inHead bool // net/http is reading a request head (no handler runs)
	n      int  // bytes read since the head began
	slot   bool // holds a slot of r.bigHeads
	closed chan struct{}
	once   sync.Once
}

func (c *clientConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.inHead && !c.slot && c.n+len(p) > smallHead {
		if c.n < smallHead {
			p = p[:smallHead-c.n] // the free part first
		} else if err := c.waitSlot(); err != nil {
			c.mu.Unlock()
			return 0, err
		}
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.n += n // reset as a head begins
	c.mu.Unlock()
	return n, err
}

// waitSlot takes a slot for a large head, waiting (unlocked) for at most
// ReadHeaderTimeout, until the connection closes or the router shuts down.
func (c *clientConn) waitSlot() error {
	c.mu.Unlock()
	defer c.mu.Lock()
	c.r.headWaits.Add(1)
	defer c.r.headWaits.Add(-1)
	tm := time.NewTimer(c.r.srv.ReadHeaderTimeout)
	defer tm.Stop()
	select {
	case c.r.bigHeads <- struct{}{}:
	case <-tm.C:
		return os.ErrDeadlineExceeded // as if net/http's ReadHeaderTimeout had passed
	case <-c.closed:
		return net.ErrClosed
	case <-c.r.closing.Done(): // Shutdown: no new request starts
		return net.ErrClosed
	}
	c.mu.Lock()
	c.slot = true
	select {
	case <-c.closed: // Close came meanwhile, with no slot to give back
		c.releaseSlot()
	default:
	}
	c.mu.Unlock()
	return nil
}

// setInHead marks the start (true: the last response is out) or the end of
// a request head (a handler starts).
func (c *clientConn) setInHead(in bool) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inHead, c.n = in, 0
	c.releaseSlot()
}

// connState is the server's ConnState: once a response is out (idle),
// net/http reads the next request's head.
func connState(c net.Conn, s http.ConnState) {
	if cc, ok := c.(*clientConn); ok && s == http.StateIdle {
		cc.setInHead(true)
	}
}

// Write passes on what net/http writes. What it writes while it reads a
// head is its answer to a request it refused (400, 431, 501): that gets a
// router line too, which no hook of net/http's would give.
func (c *clientConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	refused := c.inHead
	c.mu.Unlock()
	if refused && c.r.cfg.Log != nil {
		c.r.cfg.Log(refusedLine(c.RemoteAddr(), p))
	}
	return c.Conn.Write(p)
}

func (c *clientConn) releaseSlot() {
	if c.slot {
		c.slot = false
		<-c.r.bigHeads
	}
}

func (c *clientConn) Close() error {
	c.once.Do(func() {
		close(c.closed)
		c.mu.Lock()
		c.releaseSlot()
		c.mu.Unlock()
	})
	return c.Conn.Close()
}

// CloseWrite half-closes, as a tunnel's direction ends (see tunnel).
func (c *clientConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
