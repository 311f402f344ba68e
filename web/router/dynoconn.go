package router

import (
	"bufio"
	"context"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Keep-alive connections to the dynos. The router talks HTTP/1.1 to a dyno
// itself, on the request's goroutine, instead of through net/http's
// Transport: the Transport's two goroutines per connection cost a hand-off
// each way per request, which halved the router's throughput on a small
// machine (see bench/router.sh).
const (
	// maxIdlePerDyno bounds the idle connections kept per dyno.
	maxIdlePerDyno = 256
	// idleConnTimeout stays below the keep-alive timeouts of common app
	// servers (gunicorn 2 s, Node 5 s), so that the router seldom picks a
	// connection the dyno is closing; dialing loopback costs ~50µs.
	idleConnTimeout = time.Second
)

// dynoConn is one HTTP/1.1 connection to a dyno.
type dynoConn struct {
	net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	reused bool      // served a request before: may have been closed by the dyno meanwhile
	idleAt time.Time // when it went back to the pool

	abort   func()      // unblocks reads and writes for good (the client went away)
	aborted atomic.Bool // abort was called
	unwatch func() bool // stops calling abort when the request's context ends

	resp dynoResponse // the last response read (response.go)
}

func newDynoConn(c net.Conn) *dynoConn {
	d := &dynoConn{Conn: c, br: bufio.NewReaderSize(c, 8<<10), bw: bufio.NewWriterSize(c, 8<<10)}
	d.abort = func() {
		d.aborted.Store(true)
		_ = c.SetDeadline(aLongTimeAgo)
	}
	return d
}

// readBy sets the read deadline, unless the connection was aborted: a
// deadline set after abort must not revive it.
func (c *dynoConn) readBy(t time.Time) {
	_ = c.SetReadDeadline(t)
	if c.aborted.Load() {
		_ = c.SetReadDeadline(aLongTimeAgo)
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// alive tells whether an idle connection still looks usable: the dyno has
// not closed it and sent nothing unasked. It costs one non-blocking recv,
// so it is only done before requests that could not be sent again.
func (c *dynoConn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait
	})
	// EAGAIN: nothing to read, the connection is open. Anything else is
	// data nobody asked for, an end of file or an error.
	return err == nil && rerr == syscall.EAGAIN
}

// idlePool holds a dyno's idle connections, most recently used last.
type idlePool struct {
	mu     sync.Mutex
	conns  []*dynoConn
	closed bool // the dyno left the pool: connections coming back are closed
}

// get returns a recent idle connection, or nil.
func (p *idlePool) get() *dynoConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	if n == 0 {
		return nil
	}
	c := p.conns[n-1]
	p.conns = p.conns[:n-1]
	if time.Since(c.idleAt) > idleConnTimeout {
		// The newest is stale, so are all the others.
		for _, old := range p.conns {
			old.Close()
		}
		p.conns = p.conns[:0]
		c.Close()
		return nil
	}
	c.reused = true
	return c
}

func (p *idlePool) put(c *dynoConn) {
	c.idleAt = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return
	}
	// Retire the oldest if it has been idle too long or the pool is full.
	if len(p.conns) > 0 && (len(p.conns) >= maxIdlePerDyno || c.idleAt.Sub(p.conns[0].idleAt) > idleConnTimeout) {
		p.conns[0].Close()
		p.conns = append(p.conns[:0], p.conns[1:]...)
	}
	p.conns = append(p.conns, c)
}

func (p *idlePool) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.closed = true
}

// connect returns a connection to the dyno: an idle one or a new one.
func (r *Router) connect(ctx context.Context, u *upstream) (*dynoConn, error) {
	if c := u.idle.get(); c != nil {
		return c, nil
	}
	c, err := r.dialer.DialContext(ctx, "tcp", u.Addr)
	if err != nil {
		return nil, err
	}
	return newDynoConn(c), nil
}
