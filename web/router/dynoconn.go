package router

import (
	"bufio"
	"context"
	"io"
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
	in     io.Reader // the connection, read without the scheduler's system-call bookkeeping (rawio.go)
	br     *bufio.Reader
	bw     *bufio.Writer
	reused bool      // served a request before: may have been closed by the dyno meanwhile
	idleAt time.Time // when it went back to the pool

	abort   func()      // unblocks reads and writes for good (the client went away)
	aborted atomic.Bool // abort was called
	unwatch func() bool // stops calling abort when the request's context ends

	resp dynoResponse // the last response read (response.go)

	rdlMu  sync.Mutex      // readBy is also called by an upload's goroutine
	rdl    time.Time       // the read deadline last set by readBy
	brief  bool            // rdl is the short deadline of an unwatched wait (waitBriefly)
	full   time.Time       // and this is the real one
	gotAny bool            // a read returned bytes since waitBriefly
	quiet  bool            // new, or idle only briefly: see sendAndWait
	raw    syscall.RawConn // for sendAndWait and alive; nil if the connection has none
	waitFn func(uintptr) bool
	sent   bool  // sendAndWait has flushed the request
	werr   error // and what that returned
}

func newDynoConn(c net.Conn) *dynoConn {
	d := newDetachedDynoConn(nil, nil)
	d.attach(c)
	return d
}

// newDetachedDynoConn makes a dyno connection without a net.Conn, read
// from in and written to out: an event loop's (loop_linux.go), until
// attach hands it over.
func newDetachedDynoConn(in io.Reader, out io.Writer) *dynoConn {
	d := &dynoConn{in: in, bw: bufio.NewWriterSize(out, 8<<10)}
	d.br = bufio.NewReaderSize(readFunc(d.read), 8<<10)
	d.quiet = true
	return d
}

// attach makes c the connection: reads go on from what br holds, writes
// (bw is empty) go to c.
func (d *dynoConn) attach(c net.Conn) {
	rio := newRawIO(c)
	d.Conn, d.in = c, rio.reader(c)
	d.bw.Reset(rio.writer(c))
	d.abort = func() {
		d.aborted.Store(true)
		_ = c.SetDeadline(aLongTimeAgo)
	}
	if rio != nil {
		d.raw, d.waitFn = rio.rc, d.sendThenWait
	}
}

// readBy sets the read deadline, unless the connection was aborted: a
// deadline set after abort must not revive it. Setting the deadline that
// is set already costs nothing. Only the goroutine reading the connection
// calls it (an upload's calls moveDeadline).
func (c *dynoConn) readBy(t time.Time) {
	c.brief = false
	c.rdlMu.Lock()
	defer c.rdlMu.Unlock()
	c.readByLocked(t)
}

func (c *dynoConn) readByLocked(t time.Time) {
	if t.Equal(c.rdl) {
		return // and if aborted since, the deadline stays past
	}
	c.rdl = t
	_ = c.SetReadDeadline(t)
	if c.aborted.Load() {
		_ = c.SetReadDeadline(aLongTimeAgo)
	}
}

// read is what the connection's bufio.Reader reads through. The short
// deadline of an unwatched wait (waitBriefly) is for the answer's first
// bytes: once they came, a read for more gets the real deadline. Moving it
// only then spares a deadline change on nearly every request, whose whole
// answer comes in its first read.
func (c *dynoConn) read(p []byte) (int, error) {
	if c.brief && c.gotAny {
		c.readBy(c.full)
	}
	n, err := c.in.Read(p)
	if n > 0 {
		c.gotAny = true
	}
	return n, err
}

// readBriefly sets the short deadline of an unwatched wait (until soon)
// for the first bytes of an answer that is due by full. A short deadline
// set for an earlier request that is still at least half of watchAfter
// away is kept: moving a deadline costs more than watching the client a
// few milliseconds early on a slow answer, and on a busy connection this
// spares most of those moves.
func (c *dynoConn) readBriefly(now, soon, full time.Time) {
	if c.brief && !c.aborted.Load() && !c.rdl.After(soon) && c.rdl.Sub(now) >= watchAfter/2 {
		c.full, c.gotAny = full, false
		return
	}
	c.readBy(soon)
	c.brief, c.full, c.gotAny = true, full, false
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

// moveDeadline changes the read deadline from old to t, unless someone
// changed it meanwhile: an upload that ends after the response began must
// not shorten the wait for the rest of the body.
func (c *dynoConn) moveDeadline(old, t time.Time) {
	c.rdlMu.Lock()
	defer c.rdlMu.Unlock()
	if c.rdl.Equal(old) {
		c.readByLocked(t)
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// quietIdle is how long a connection may have been idle for sendAndWait
// to skip the first read: far below any app server's keep-alive timeout.
const quietIdle = 50 * time.Millisecond

// sendAndWait flushes the request head and waits until the dyno's answer
// can be read, or the read deadline passes (the read that follows reports
// either). net.Conn's Read would try a read first, which finds nothing
// this soon after the request: waiting through the RawConn saves that
// system call on every request. The poller forgets what it saw before the
// wait begins, and the request goes out after, so what wakes the wait is
// the answer, or the reset of a connection the dyno has closed. A dyno
// that half-closed an idle connection and reads on without answering
// would not wake it, so only connections new or idle for less than
// quietIdle wait this way; others flush and read as usual.
func (c *dynoConn) sendAndWait() error {
	if c.raw == nil || !c.quiet {
		return c.bw.Flush()
	}
	c.sent, c.werr = false, nil
	if err := c.raw.Read(c.waitFn); err != nil && !c.sent {
		return err // closed before anything was sent
	}
	return c.werr
}

// sendThenWait is the RawConn callback of sendAndWait: the first call
// flushes and asks to wait for readability, the next says it came.
func (c *dynoConn) sendThenWait(uintptr) bool {
	if c.sent {
		return true
	}
	c.sent = true
	c.werr = c.bw.Flush()
	return c.werr != nil
}

// alive tells whether an idle connection still looks usable: the dyno has
// not closed it and sent nothing unasked. It costs one non-blocking recv,
// so it is only done before requests that could not be sent again.
func (c *dynoConn) alive() bool {
	if c.br.Buffered() > 0 {
		return false
	}
	if _, ok := c.Conn.(syscall.Conn); !ok {
		return true
	}
	if c.raw == nil {
		return false
	}
	var rerr error
	err := c.raw.Read(func(fd uintptr) bool {
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
func (p *idlePool) get(now time.Time) *dynoConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.conns)
	if n == 0 {
		return nil
	}
	c := p.conns[n-1]
	p.conns = p.conns[:n-1]
	idle := now.Sub(c.idleAt)
	c.quiet = idle < quietIdle
	if idle > idleConnTimeout {
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

func (p *idlePool) put(c *dynoConn, now time.Time) {
	c.idleAt = now
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
func (r *Router) connect(ctx context.Context, u *upstream, now time.Time) (*dynoConn, error) {
	if c := u.idle.get(now); c != nil {
		return c, nil
	}
	c, err := r.dialer.DialContext(ctx, "tcp", u.Addr)
	if err != nil {
		return nil, err
	}
	return newDynoConn(c), nil
}
