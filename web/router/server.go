package router

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"log"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The client side of the router. The router reads plain requests itself,
// one goroutine per connection and no other: net/http's server costs a
// goroutine per request (its background read, which watches for the client
// going away), a request and header map per request, and several deadline
// changes per request, which made up about a third of the router's CPU per
// request on a 2-core machine (see bench/router.sh).
//
// "Plain" is an HTTP/1.1 request without body, in the usual form, whose
// head fits in the connection's read buffer: nearly every request of a
// browser or a benchmark. A connection whose next request is anything else
// (a body, Expect, an upgrade, HTTP/1.0, a malformed or huge head, TLS) is
// handed to net/http's server for the rest of its life, with the bytes read
// so far, and is served exactly as before.

const (
	// clientBufSize is the read buffer of a client connection, and so the
	// largest request head the router reads itself.
	clientBufSize = 8 << 10
	// maxFastFields is the most header fields the router parses itself.
	maxFastFields = 100
	// watchAfter is how long a request waits on its dyno before the router
	// starts watching the client's connection for a hang-up (H27). Nearly
	// every response comes sooner, and then the client is never watched.
	watchAfter = 20 * time.Millisecond
	// idleSlack is how stale the client's read deadline may get: it is
	// moved forward only when it is this much behind IdleTimeout, not on
	// every request.
	idleSlack = 10 * time.Second
)

// Connection states, for Shutdown.
const (
	connActive int32 = iota // reading or serving a request
	connIdle                // waiting for a request, none of it read
	connClosed              // closed by Shutdown
)

var (
	clientReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, clientBufSize) }}
	clientWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

// Serve accepts connections on l until Shutdown; then it returns nil.
func (r *Router) Serve(l net.Listener) error {
	hl := &handoff{addr: l.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	if !r.addListener(l, hl) {
		l.Close()
		return nil
	}
	r.loopsOnce.Do(r.startLoops)
	go r.srv.Serve(hl) // the connections the router hands over
	defer hl.Close()
	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if r.shuttingDown() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Temporary() { //nolint:staticcheck // as net/http does (EMFILE)
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if ls := r.loops.Load(); ls != nil && ls.take(c, hl) {
			continue
		}
		go r.serveConn(c, hl)
	}
}

func (r *Router) addListener(l net.Listener, hl *handoff) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return false
	}
	r.listeners[l] = hl
	return true
}

func (r *Router) shuttingDown() bool {
	select {
	case <-r.closing:
		return true
	default:
		return false
	}
}

// fastConn is one client connection that the router serves itself. Its
// request, response writer and exchange are reused from request to
// request; only the connection's goroutine touches them.
type fastConn struct {
	r      *Router
	c      net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	state  atomic.Int32
	ctx    context.Context // the requests' context: canceled when the client goes away
	cancel context.CancelFunc
	rdl    time.Time // the read deadline set on c

	req    http.Request
	url    url.URL
	header http.Header
	vals   []string // backing for header values
	fields []field
	w      fastWriter
	x      exchange
	close  bool // the request asked to close the connection

	// Watching the client for a hang-up while a request waits on its dyno.
	watching  bool          // a watcher runs (the connection's goroutine only)
	watchDone chan struct{} // the watcher has ended
	gone      atomic.Bool   // the client hung up
	cur       atomic.Pointer[dynoConn]
	unwatch   func() bool // fc.stopWatching, allocated once
	hijacked  bool
}

func (r *Router) serveConn(c net.Conn, hl *handoff) {
	if _, ok := c.(*tls.Conn); ok {
		hl.give(c)
		return
	}
	fc := r.newFastConn(c.RemoteAddr().String(), c.LocalAddr())
	fc.c = c
	rio := newRawIO(c)
	fc.br = clientReaders.Get().(*bufio.Reader)
	fc.br.Reset(rio.reader(c))
	fc.bw = clientWriters.Get().(*bufio.Writer)
	fc.bw.Reset(rio.writer(c))
	r.serveFast(fc, hl, nil)
}

// newFastConn makes the state of one client connection, without its I/O.
func (r *Router) newFastConn(remote string, local net.Addr) *fastConn {
	fc := &fastConn{r: r, watchDone: make(chan struct{}, 1)}
	fc.header = make(http.Header, 16)
	fc.unwatch = fc.stopWatching
	// The context net/http would give, less what the router does not use.
	fc.ctx, fc.cancel = context.WithCancel(context.WithValue(context.Background(), http.LocalAddrContextKey, local))
	base := &http.Request{Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RemoteAddr: remote}
	fc.req = *base.WithContext(fc.ctx)
	fc.w.fc = fc
	return fc
}

// serveFast serves the requests of a connection the router reads itself,
// on the connection's goroutine, until it closes. first, if any, is run
// before the next request is read: the rest of an exchange an event loop
// handed over (loop_linux.go); false closes the connection.
func (r *Router) serveFast(fc *fastConn, hl *handoff, first func() bool) {
	c := fc.c
	if !r.trackConn(fc, true) {
		c.Close()
		fc.cancel()
		return
	}
	handedOver := false
	defer func() {
		r.trackConn(fc, false)
		fc.cancel()
		if handedOver || fc.hijacked {
			return // the bufio pair goes with the connection
		}
		c.Close()
		fc.br.Reset(nil)
		clientReaders.Put(fc.br)
		fc.bw.Reset(nil)
		clientWriters.Put(fc.bw)
	}()
	if first != nil && (!first() || fc.close || fc.gone.Load() || r.shuttingDown()) {
		return
	}
	for {
		head, err := fc.readHead()
		if err == errHandOver {
			handedOver = r.handOver(fc, hl)
			return
		}
		if err != nil {
			return
		}
		if !fc.parse(head) {
			handedOver = r.handOver(fc, hl)
			return
		}
		fc.br.Discard(len(head))
		if !r.serveOne(fc) || fc.close || fc.gone.Load() || r.shuttingDown() {
			return
		}
	}
}

var errHandOver = errors.New("hand over to net/http")

// handOver gives the connection, with what was read of it, to net/http.
func (r *Router) handOver(fc *fastConn, hl *handoff) bool {
	r.trackConn(fc, false)
	if !fc.state.CompareAndSwap(connActive, connClosed) {
		return false // closed by Shutdown meanwhile
	}
	_ = fc.c.SetReadDeadline(time.Time{})
	return hl.give(&replayConn{Conn: fc.c, br: fc.br})
}

// readHead waits for a whole request head in the read buffer and returns
// it, unconsumed. errHandOver: net/http should read it.
func (fc *fastConn) readHead() ([]byte, error) {
	for {
		n := fc.br.Buffered()
		if n > 0 {
			buf, _ := fc.br.Peek(n)
			end, odd := headEnd(buf)
			if end > 0 {
				return buf[:end], nil
			}
			if odd || n >= fc.br.Size() {
				return nil, errHandOver
			}
			// Part of a head: the rest must follow within ReadHeaderTimeout.
			fc.setReadDeadline(time.Now().Add(fc.r.srv.ReadHeaderTimeout))
		} else {
			fc.state.Store(connIdle)
			now := fc.x.end // the end of the last request, if any: recent enough
			if now.IsZero() {
				now = time.Now()
			}
			if fc.rdl.Sub(now) < fc.r.srv.IdleTimeout-idleSlack {
				fc.setReadDeadline(now.Add(fc.r.srv.IdleTimeout))
			}
		}
		_, err := fc.br.Peek(n + 1)
		if n == 0 && !fc.state.CompareAndSwap(connIdle, connActive) {
			return nil, net.ErrClosed // Shutdown closed it while idle
		}
		if err != nil {
			return nil, err
		}
	}
}

func (fc *fastConn) setReadDeadline(t time.Time) {
	fc.rdl = t
	_ = fc.c.SetReadDeadline(t)
}

// headEnd returns the length of the request head at the start of buf
// (through its empty line), 0 if it is not all there. odd reports a line
// ending in a bare LF or an empty line first, which net/http handles.
func headEnd(buf []byte) (end int, odd bool) {
	i := 0
	for {
		j := indexLF(buf[i:])
		if j < 0 {
			return 0, false
		}
		j += i
		if j == 0 || buf[j-1] != '\r' || j == 1 {
			return 0, true // bare LF, or a head starting with an empty line
		}
		if j >= 3 && buf[j-2] == '\n' {
			return j + 1, false // "\r\n\r\n"
		}
		i = j + 1
	}
}

// serveOne serves the parsed request; false: the connection must close.
func (r *Router) serveOne(fc *fastConn) bool {
	fc.w.reset()
	fc.x = exchange{fc: fc}
	return r.guard(fc, func() { r.route(&fc.w, &fc.req, &fc.x) })
}

// resume finishes, on the connection's goroutine, an exchange an event
// loop began (loop_linux.go): the request is in flight on c, counted on
// x.up; res is the response if the loop read its head.
func (r *Router) resume(fc *fastConn, c *dynoConn, res *http.Response) bool {
	return r.guard(fc, func() {
		w, req, x := &fc.w, &fc.req, &fc.x
		defer r.finish(x, req)
		c.unwatch = fc.watchDyno(c)
		code := none
		if res == nil {
			// The loop waited watchAfter, or got a response it does not
			// read: watch the client from now on.
			deadline := x.connected.Add(r.cfg.ResponseTimeout)
			fc.watch()
			c.readBy(deadline)
			var out outcome
			res, out, code = r.receive(w, req, x, nil, c, deadline, true)
			if out != answered {
				x.up.inflight.Add(-1)
			}
			switch out {
			case retryStale:
				res, c, code = r.dispatch(w, req, x, nil, nil)
			case retryOther:
				x.failed = time.Now()
				res, c, code = r.dispatch(w, req, x, nil, &attempt{x.up, code})
			}
		}
		r.answer(w, req, x, nil, res, c, code)
	})
}

// guard runs serve, which answers fc's request, as net/http runs a
// handler: a panic closes the connection (and is logged unless it is
// http.ErrAbortHandler). It reports whether the connection can go on.
func (r *Router) guard(fc *fastConn, serve func()) (ok bool) {
	defer func() {
		fc.stopWatching()
		if p := recover(); p != nil {
			ok = false
			if p != http.ErrAbortHandler {
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				log.Printf("http: panic serving %v: %v\n%s", fc.req.RemoteAddr, p, buf)
			}
		}
	}()
	serve()
	if fc.hijacked {
		return false
	}
	return fc.w.finish()
}

// watch starts watching the client's connection for a hang-up, unless it
// is watched already or a pipelined request sits in the buffer (then the
// hang-up shows when the response is written).
func (fc *fastConn) watch() {
	if fc.watching || fc.gone.Load() || fc.br.Buffered() > 0 {
		return
	}
	fc.watching = true
	fc.setReadDeadline(time.Time{})
	go fc.watchClient()
}

func (fc *fastConn) watchClient() {
	_, err := fc.br.Peek(1)
	// A timeout is stopWatching; data is a pipelined request.
	if err != nil && !isTimeout(err) {
		fc.gone.Store(true)
		fc.cancel()
		if c := fc.cur.Load(); c != nil {
			c.abort()
		}
	}
	fc.watchDone <- struct{}{}
}

// watchDyno makes a client hang-up abort c, and returns what stops that;
// like context.AfterFunc's stop, it returns false if the client is gone.
func (fc *fastConn) watchDyno(c *dynoConn) func() bool {
	fc.cur.Store(c)
	if fc.gone.Load() {
		c.abort()
	}
	return fc.unwatch
}

// stopWatching stops the watcher and forgets the dyno connection. It
// reports whether the client is still there.
func (fc *fastConn) stopWatching() bool {
	if fc.cur.Load() != nil {
		fc.cur.Store(nil)
	}
	if fc.watching {
		_ = fc.c.SetReadDeadline(aLongTimeAgo)
		<-fc.watchDone
		fc.watching = false
		fc.rdl = aLongTimeAgo
	}
	return !fc.gone.Load()
}

// trackConn adds or removes a connection for Shutdown; adding fails once
// Shutdown began.
func (r *Router) trackConn(fc *fastConn, add bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !add {
		delete(r.conns, fc)
		return true
	}
	if r.down {
		return false
	}
	r.conns[fc] = struct{}{}
	return true
}

// closeIdle closes the idle connections and reports how many are left.
func (r *Router) closeIdle() int {
	n := r.loops.Load().open() // the loops close theirs when shutting down
	r.mu.Lock()
	defer r.mu.Unlock()
	for fc := range r.conns {
		if fc.state.CompareAndSwap(connIdle, connClosed) {
			fc.c.Close()
		}
	}
	return n + len(r.conns)
}

func (r *Router) closeConns() {
	r.loops.Load().closeAll()
	r.mu.Lock()
	defer r.mu.Unlock()
	for fc := range r.conns {
		fc.c.Close()
	}
}

// handoff is the listener through which net/http's server gets the
// connections the router hands over.
type handoff struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.done) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

func (h *handoff) give(c net.Conn) bool {
	select {
	case h.conns <- c:
		return true
	case <-h.done:
		c.Close()
		return false
	}
}

// replayConn is a connection handed over to net/http: its reads start with
// what the router had read ahead.
type replayConn struct {
	net.Conn
	br *bufio.Reader // nil once drained
}

func (c *replayConn) Read(p []byte) (int, error) {
	if c.br != nil {
		if c.br.Buffered() > 0 {
			return c.br.Read(p)
		}
		c.br = nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes, as net/http and WebSocket relaying expect of a
// TCP connection.
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
