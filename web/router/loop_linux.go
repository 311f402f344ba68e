//go:build linux

package router

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The router's event loops: nginx's shape. Each loop is one goroutine
// with an epoll instance of its own, one per CPU the runtime uses; client
// connections are dealt to them as they are accepted. A loop serves the
// plain keep-alive exchanges of its connections from start to end with no
// other goroutine: read the request head, send it to a dyno on a
// connection of the loop's, read the answer, write it to the client, log
// the router line.
//
// A goroutine per connection waits on Go's shared poller for every read:
// a park and a wake-up each time, often a thread woken to run it, and a
// read after each response that finds nothing. A loop takes all its ready
// sockets from one non-blocking epoll_wait, reads each until drained (the
// registration is edge-triggered, so a short read says the socket is
// empty) and, when nothing at all is ready, sleeps in epoll_wait on a
// thread of its own, as an nginx worker does: the kernel wakes that
// thread, on its CPU, and no other. See bench/README.md, Router, fourth
// and fifth passes.
//
// A loop serves only what it can without waiting on anything but its
// sockets: a plain request (server.go) with an idempotent method, to a dyno
// that is up, answered within watchAfter by a usual response (response.go)
// that fits in the connection's buffer. Anything else goes to a goroutine
// of the connection's own, as the router serves connections without loops
// (serveFast), at the point the exchange has reached: before the request
// is read, before it is sent, or while it is in flight, with the bytes
// read so far. The connection stays on its goroutine from then on.

// loops are the router's event loops.
type loops struct {
	all  []*evLoop
	next atomic.Uint32
}

// maxLoops bounds the loops: one per CPU the runtime uses.
const maxLoops = 8

// loopCount is the number of loops a router starts: one per CPU the
// runtime used before the loops' own processor was added.
var loopCount = sync.OnceValue(func() int {
	n := min(runtime.GOMAXPROCS(0), maxLoops)
	// A loop asleep in epoll_wait keeps its processor (P) in a system
	// call. With every P so held, the runtime's monitor takes one away
	// each time, 20 µs into the sleep, and wakes a thread to hand it to:
	// 5 µs more CPU per request at 10 connections. One P more than the
	// loops keeps one idle, and then a sleeping loop's P stays its own.
	// A GOMAXPROCS the user set is left alone.
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	return n
})

func (r *Router) startLoops() {
	if r.noLoops {
		return
	}
	n := loopCount()
	ls := &loops{}
	for range n {
		l, err := newLoop(r)
		if err != nil {
			for _, l := range ls.all {
				l.stop()
			}
			return // served without loops
		}
		ls.all = append(ls.all, l)
	}
	for _, l := range ls.all {
		go l.run()
	}
	r.loops.Store(ls)
	if r.shuttingDown() {
		ls.open() // wakes them to end: Shutdown may have looked before the Store
	}
}

// take gives c to a loop; false: serve it as usual.
func (ls *loops) take(c net.Conn, hl *handoff) bool {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return false
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	if err := rc.Control(func(s uintptr) {
		fd, _ = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil || fd < 0 {
		return false
	}
	l := ls.all[ls.next.Add(1)%uint32(len(ls.all))]
	in := incoming{fd: fd, remote: c.RemoteAddr().String(), local: c.LocalAddr(), hl: hl}
	// Go's close takes the socket out of its poller; the copy keeps it open.
	c.Close()
	if !l.add(in) {
		unix.Close(fd)
	}
	return true
}

// open counts the client connections the loops serve, and has them close
// those that are idle once the router shuts down.
func (ls *loops) open() int {
	if ls == nil {
		return 0
	}
	n := 0
	for _, l := range ls.all {
		n += int(l.clients.Load())
		l.wake()
	}
	return n
}

// closeAll has the loops close every connection.
func (ls *loops) closeAll() {
	if ls == nil {
		return
	}
	for _, l := range ls.all {
		l.kill.Store(true)
		l.wake()
	}
}

type incoming struct {
	fd     int
	remote string
	local  net.Addr
	hl     *handoff
}

type evLoop struct {
	r       *Router
	ep      int // the epoll instance
	wakeFd  int // an eventfd: new connections, shutdown
	clients atomic.Int64
	kill    atomic.Bool // close everything (Shutdown's time is up)

	mu      sync.Mutex
	in      []incoming
	stopped bool // the loop has ended: add refuses

	// Only the loop's goroutine touches the rest.
	ends    map[int32]end // by fd
	gen     int32         // registrations so far: tells a closed fd's late event from its successor's
	idle    map[*upstream][]*loopDyno
	addrs   map[*upstream]unix.Sockaddr
	snap    *snapshot // the pool as the idle connections last saw it
	waiting []waiter  // exchanges waiting on a dyno, oldest first
	scanAt  time.Time // the next look for idle clients
	events  []unix.EpollEvent
}

// end is a registered socket: *loopClient or *loopDyno, and its
// registration's generation.
type end struct {
	e   any
	gen int32
}

// register adds fd to the loop's epoll instance, edge-triggered: a read
// shorter than asked drained the socket, so the loop never reads only to
// find nothing.
func (l *evLoop) register(fd int, e any) error {
	l.gen++
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLOUT | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: l.gen}
	if err := unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return err
	}
	l.ends[int32(fd)] = end{e, l.gen}
	return nil
}

// waiter is an exchange waiting for its dyno's answer; seq tells whether
// it is still the same exchange.
type waiter struct {
	lc  *loopClient
	seq uint64
}

// loopClient is a client connection a loop serves.
type loopClient struct {
	fd     int
	fc     *fastConn
	hl     *handoff
	src    switchReader // fc.br reads this: the loop's recv until handed over
	rio    loopReader
	out    loopWriter // fc.bw writes this
	dyno   *loopDyno  // the exchange's dyno connection, nil if none
	seq    uint64     // exchanges begun
	queued uint64     // the last exchange put in waiting
	busy   bool       // an exchange is under way
	more   bool       // the socket may hold bytes not read yet
	sentAt time.Time  // when the request went to the dyno
	active time.Time  // the end of the last exchange, or the connection's start
	partAt time.Time  // when a partial head was first seen; zero if none
}

// loopDyno is a dyno connection a loop owns.
type loopDyno struct {
	fd         int
	u          *upstream
	d          *dynoConn
	rio        loopReader
	out        loopWriter
	client     *loopClient // the exchange using it; nil while idle
	connecting bool
	res        *http.Response // the answer's head, read; its body is still coming
}

func newLoop(r *Router) (*evLoop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	wfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, err
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wfd)}); err != nil {
		unix.Close(ep)
		unix.Close(wfd)
		return nil, err
	}
	return &evLoop{
		r: r, ep: ep, wakeFd: wfd,
		ends:   map[int32]end{},
		idle:   map[*upstream][]*loopDyno{},
		addrs:  map[*upstream]unix.Sockaddr{},
		events: make([]unix.EpollEvent, 256),
	}, nil
}

func (l *evLoop) add(in incoming) bool {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return false
	}
	l.in = append(l.in, in)
	l.clients.Add(1)
	l.mu.Unlock()
	l.wake()
	return true
}

func (l *evLoop) wake() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped { // else the descriptor may be another socket's now
		one := [8]byte{1}
		unix.Write(l.wakeFd, one[:])
	}
}

// stop ends a loop that never ran.
func (l *evLoop) stop() {
	unix.Close(l.ep)
	unix.Close(l.wakeFd)
}

func (l *evLoop) run() {
	// The thread that sleeps in the loop's epoll_wait is the loop's alone:
	// the kernel wakes it where it last ran, and the runtime need not
	// find a thread for the loop each time it wakes.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for {
		n := l.poll()
		if n == 0 {
			n = l.park()
		}
		for _, ev := range l.events[:n] {
			fd := ev.Fd
			if int(fd) == l.wakeFd {
				l.accept()
				continue
			}
			en, ok := l.ends[fd]
			if !ok || en.gen != ev.Pad {
				continue // for a socket closed since
			}
			switch e := en.e.(type) {
			case *loopClient:
				l.clientEvent(e, ev.Events)
			case *loopDyno:
				l.dynoEvent(e, ev.Events)
			}
		}
		now := time.Now()
		l.expire(now)
		if l.r.shuttingDown() && l.shutdown(now) {
			return
		}
	}
}

// poll returns the events ready now, without waiting, as a raw system
// call (rawio.go says why).
func (l *evLoop) poll() int {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(l.ep), uintptr(unsafe.Pointer(&l.events[0])), uintptr(len(l.events)), 0, 0, 0)
	if e != 0 {
		return 0
	}
	return int(n)
}

// park waits until the loop's epoll instance has events, or the next
// timer is due, asleep in epoll_wait (a system call the runtime knows of,
// so that it can run other goroutines meanwhile).
func (l *evLoop) park() int {
	ms := -1 // no timer: until an event
	if due := l.due(); !due.IsZero() {
		wait := time.Until(due)
		if wait <= 0 {
			return 0
		}
		ms = int((wait + time.Millisecond - 1) / time.Millisecond)
	}
	n, err := unix.EpollWait(l.ep, l.events, ms)
	if err != nil {
		return 0 // EINTR: a signal, the loop looks again
	}
	return n
}

// due is when the loop must look at its timers: the oldest wait on a
// dyno's hand-over, else the next look for idle clients, else never.
func (l *evLoop) due() time.Time {
	for len(l.waiting) > 0 && !l.waiting[0].live() {
		l.waiting = l.waiting[1:]
	}
	if len(l.waiting) > 0 {
		return l.waiting[0].lc.sentAt.Add(watchAfter)
	}
	if len(l.ends) > 0 {
		return l.scanAt
	}
	return time.Time{}
}

func (w waiter) live() bool { return w.lc.seq == w.seq && w.lc.busy && w.lc.dyno != nil }

// accept registers the connections add handed in.
func (l *evLoop) accept() {
	var b [8]byte
	unix.Read(l.wakeFd, b[:])
	l.mu.Lock()
	in := l.in
	l.in = nil
	l.mu.Unlock()
	now := time.Now()
	for _, c := range in {
		fc := l.r.newFastConn(c.remote, c.local)
		lc := &loopClient{fd: c.fd, fc: fc, hl: c.hl, active: now, more: true}
		lc.rio.fd, lc.out.fd, lc.out.keep = c.fd, c.fd, true
		lc.src.r = &lc.rio
		fc.br = clientReaders.Get().(*bufio.Reader)
		fc.br.Reset(&lc.src)
		fc.bw = clientWriters.Get().(*bufio.Writer)
		fc.bw.Reset(&lc.out)
		if err := l.register(c.fd, lc); err != nil {
			l.dropClient(lc)
			continue
		}
		l.advance(lc) // a request may be there already
	}
}

func (l *evLoop) clientEvent(lc *loopClient, ev uint32) {
	if ev&unix.EPOLLOUT != 0 && len(lc.out.pend) > 0 {
		if err := lc.out.flushPending(); err != nil {
			l.closeClient(lc)
			return
		}
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) != 0 {
		lc.more = true
	}
	l.advance(lc)
}

// advance reads and begins the client's next request, if the connection
// is free for one.
func (l *evLoop) advance(lc *loopClient) {
	fc := lc.fc
	for lc.fd >= 0 && !lc.busy && len(lc.out.pend) == 0 {
		n := fc.br.Buffered()
		if fc.close || l.kill.Load() || n == 0 && l.r.shuttingDown() {
			l.closeClient(lc)
			return
		}
		if n > 0 {
			buf, _ := fc.br.Peek(n)
			end, odd := headEnd(buf)
			if end > 0 {
				lc.partAt = time.Time{}
				l.begin(lc, buf[:end])
				continue // it may have ended at once, or handed lc over
			}
			if odd || n >= fc.br.Size() {
				l.handOver(lc, nil)
				return
			}
			if lc.partAt.IsZero() {
				lc.partAt = time.Now()
			}
		}
		if !lc.more {
			return // until the next edge
		}
		lc.rio.drained = false
		_, err := fc.br.Peek(n + 1)
		switch {
		case err == errWouldBlock:
			lc.more = false
		case err != nil:
			l.closeClient(lc) // the client closed, or reset
			return
		default:
			lc.more = !lc.rio.drained
		}
	}
}

// begin starts the exchange for the request head at the start of fc.br.
func (l *evLoop) begin(lc *loopClient, head []byte) {
	fc, r := lc.fc, l.r
	if lc.fd < 0 {
		return // closed
	}
	if !fc.parse(head) || !idempotent(fc.req.Method) || checkLimits(&fc.req) != "" {
		l.handOver(lc, nil) // from the head, still unread
		return
	}
	snap := r.view.get()
	if snap != l.snap {
		l.dropGone(snap)
	}
	u := snap.pick(nil)
	if u == nil {
		l.handOver(lc, nil) // waits for a dyno, or answers H10, H14, H20
		return
	}
	fc.br.Discard(len(head))
	now := time.Now()
	fc.w.reset()
	fc.x = exchange{fc: fc, start: now, requestID: requestID(fc.req.Header), fwd: forwardedFor(&fc.req), up: u}
	lc.busy = true
	lc.seq++
	u.inflight.Add(1)
	if ld := l.idleDyno(u, now); ld != nil {
		fc.x.connected = now
		l.send(lc, ld, now)
		return
	}
	ld, err := l.dial(u)
	if err != nil {
		l.restart(lc)
		return
	}
	ld.client, lc.dyno = lc, ld
	if !ld.connecting {
		fc.x.connected = time.Now()
		l.send(lc, ld, now)
		return
	}
	l.wait(lc, now) // a connection not made within watchAfter is the goroutine's (H19)
}

// wait queues lc's exchange for a hand-over if its dyno takes longer than
// watchAfter from now.
func (l *evLoop) wait(lc *loopClient, now time.Time) {
	if lc.queued == lc.seq {
		return
	}
	lc.queued, lc.sentAt = lc.seq, now
	l.waiting = append(l.waiting, waiter{lc, lc.seq})
}

// restart gives the exchange, its request read but not sent, to the
// connection's goroutine, which serves it from the start (a dial that
// failed is tried again there, and answered with H19 or H21 if it fails
// again).
func (l *evLoop) restart(lc *loopClient) {
	x := &lc.fc.x
	x.up.inflight.Add(-1)
	x.up = nil
	lc.busy = false
	fc, r := lc.fc, l.r
	l.handOverWith(lc, nil, func() bool { return r.serveOne(fc) })
}

// send writes the request head to the dyno on ld.
func (l *evLoop) send(lc *loopClient, ld *loopDyno, now time.Time) {
	fc := lc.fc
	ld.client, lc.dyno = lc, ld
	writeRequestHead(ld.d.bw, &fc.req, &fc.x, l.r.forwardedPort(&fc.req), nil)
	if err := ld.d.bw.Flush(); err != nil {
		// Nothing the app could answer reached it: the connection had been
		// closed by the dyno, or the head did not fit (it always does in
		// an idle connection's send buffer).
		l.closeDyno(ld)
		lc.dyno = nil
		l.restart(lc)
		return
	}
	l.wait(lc, now)
}

func (l *evLoop) dynoEvent(ld *loopDyno, ev uint32) {
	lc := ld.client
	if ld.connecting {
		if ev&(unix.EPOLLOUT|unix.EPOLLERR|unix.EPOLLHUP) == 0 {
			return
		}
		ld.connecting = false
		if soerr, err := unix.GetsockoptInt(ld.fd, unix.SOL_SOCKET, unix.SO_ERROR); err != nil || soerr != 0 {
			l.closeDyno(ld)
			lc.dyno = nil
			l.restart(lc)
			return
		}
		now := time.Now()
		lc.fc.x.connected = now
		l.send(lc, ld, now)
		return
	}
	if ev&(unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLHUP|unix.EPOLLERR) == 0 {
		return
	}
	if lc == nil {
		// Idle: the dyno closed it, or sent what nobody asked for.
		l.removeIdle(ld)
		l.closeDyno(ld)
		return
	}
	l.read(lc, ld)
}

// read takes what the dyno sent and answers the client if the response is
// all there.
func (l *evLoop) read(lc *loopClient, ld *loopDyno) {
	br := ld.d.br
	var rerr error
	for br.Buffered() < br.Size() {
		ld.rio.drained = false
		_, err := br.Peek(br.Buffered() + 1)
		if err == errWouldBlock {
			break
		}
		if err != nil {
			rerr = err // the dyno closed, or reset
			break
		}
		if ld.rio.drained {
			break
		}
	}
	full := br.Buffered() == br.Size()
	fc := lc.fc
	if ld.res == nil {
		buf, _ := br.Peek(br.Buffered())
		if end, odd := headEnd(buf); end == 0 && !odd {
			if rerr != nil || full {
				// A close before a whole head, or a huge head: the
				// goroutine reads the same and answers as without loops
				// (another try, H13, H12…).
				l.handOver(lc, ld)
			}
			return
		}
		ld.res = ld.d.resp.parse(br, &fc.req)
		if ld.res == nil {
			l.handOver(lc, ld) // not a usual response: http.ReadResponse reads it
			return
		}
	}
	if b, ok := ld.res.Body.(*lengthBody); ok && int64(br.Buffered()) < b.n {
		if rerr != nil || full {
			l.handOver(lc, ld) // relay streams the rest, or reports H18
		}
		return
	}
	l.answer(lc, ld)
}

// answer passes the dyno's response on to the client, as relay does, and
// ends the exchange.
func (l *evLoop) answer(lc *loopClient, ld *loopDyno) {
	fc := lc.fc
	w, x, res, d := &fc.w, &fc.x, ld.res, ld.d
	x.status = res.StatusCode
	w.startDyno(res)
	if b, ok := res.Body.(*lengthBody); ok {
		p, _ := d.br.Peek(int(b.n))
		w.Write(p)
		d.br.Discard(len(p))
		x.bytes += b.n
		b.n = 0
	}
	reuse := w.finish()
	x.end = time.Now()
	ld.client, ld.res, lc.dyno = nil, nil, nil
	if w.err != nil {
		x.fail(h27) // the client went away
	}
	if w.err != nil || res.Close || d.br.Buffered() > 0 {
		l.closeDyno(ld)
	} else {
		l.putIdle(ld, x.end)
	}
	x.up.inflight.Add(-1)
	l.r.logExchange(&fc.x, &fc.req)
	lc.busy, lc.active = false, x.end
	if !reuse || w.err != nil {
		l.closeClient(lc)
		return
	}
	l.advance(lc) // a request may have come meanwhile
}

// expire hands over the exchanges whose dyno has not answered within
// watchAfter (the connection's goroutine then watches the client, and
// times the answer out), and closes clients idle too long.
func (l *evLoop) expire(now time.Time) {
	for len(l.waiting) > 0 {
		w := l.waiting[0]
		if w.live() && now.Sub(w.lc.sentAt) < watchAfter {
			break
		}
		l.waiting = l.waiting[1:]
		switch {
		case !w.live():
		case w.lc.dyno.connecting:
			l.closeDyno(w.lc.dyno)
			w.lc.dyno = nil
			l.restart(w.lc)
		default:
			l.handOver(w.lc, w.lc.dyno)
		}
	}
	if now.Before(l.scanAt) {
		return
	}
	l.scanAt = now.Add(time.Second)
	for _, en := range l.ends {
		lc, ok := en.e.(*loopClient)
		if !ok || lc.busy {
			continue
		}
		switch {
		case !lc.partAt.IsZero() && now.Sub(lc.partAt) > l.r.srv.ReadHeaderTimeout,
			lc.fc.br.Buffered() == 0 && now.Sub(lc.active) > l.r.srv.IdleTimeout:
			l.closeClient(lc)
		}
	}
}

// shutdown closes idle clients, and everything once told to; it reports
// whether the loop is done (no client left): then it has ended.
func (l *evLoop) shutdown(now time.Time) bool {
	kill := l.kill.Load()
	for _, en := range l.ends {
		if lc, ok := en.e.(*loopClient); ok && (kill || !lc.busy && lc.fc.br.Buffered() == 0 && len(lc.out.pend) == 0) {
			if lc.busy {
				lc.fc.x.fail(h27)
				lc.fc.x.end = now
				if ld := lc.dyno; ld != nil {
					l.closeDyno(ld)
				}
				lc.fc.x.up.inflight.Add(-1)
				l.r.logExchange(&lc.fc.x, &lc.fc.req)
				lc.busy = false
			}
			l.closeClient(lc)
		}
	}
	l.mu.Lock()
	done := l.clients.Load() == 0 && len(l.in) == 0
	if done {
		l.stopped = true
	}
	l.mu.Unlock()
	if !done {
		return false
	}
	for _, en := range l.ends {
		if ld, ok := en.e.(*loopDyno); ok {
			l.closeDyno(ld)
		}
	}
	l.stop()
	return true
}

// handOver gives lc to a goroutine of its own at the point its exchange
// has reached: with ld, the request is in flight there; without, the next
// request is read from the start.
func (l *evLoop) handOver(lc *loopClient, ld *loopDyno) {
	var first func() bool
	if ld != nil {
		fc, r, res := lc.fc, l.r, ld.res
		d := ld.d
		first = func() bool { return r.resume(fc, d, res) }
	}
	l.handOverWith(lc, ld, first)
}

func (l *evLoop) handOverWith(lc *loopClient, ld *loopDyno, first func() bool) {
	fc := lc.fc
	if ld != nil {
		c, err := l.detach(ld.fd)
		ld.fd = -1
		if err != nil {
			l.failExchange(lc)
			return
		}
		ld.d.attach(c)
		lc.dyno = nil
	}
	c, err := l.detach(lc.fd) // closes lc.fd, also on failure
	lc.fd = -1
	if err != nil {
		if ld != nil {
			ld.d.Close()
			fc.x.fail(h13)
			fc.x.end = time.Now()
			fc.x.up.inflight.Add(-1)
			l.r.logExchange(&fc.x, &fc.req)
		}
		l.dropClient(lc)
		return
	}
	l.clients.Add(-1)
	rio := newRawIO(c)
	lc.src.r = rio.reader(c)
	fc.bw.Reset(rio.writer(c))
	fc.c = c
	lc.busy = false
	go l.r.serveFast(fc, lc.hl, first)
}

// failExchange ends an exchange that cannot go on (out of file
// descriptors): H13, and the client is closed.
func (l *evLoop) failExchange(lc *loopClient) {
	x := &lc.fc.x
	x.fail(h13)
	x.end = time.Now()
	x.up.inflight.Add(-1)
	l.r.logExchange(&lc.fc.x, &lc.fc.req)
	lc.busy, lc.dyno = false, nil
	l.closeClient(lc)
}

// detach takes fd out of the loop and makes it a net.Conn on Go's poller.
func (l *evLoop) detach(fd int) (net.Conn, error) {
	unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, fd, nil)
	delete(l.ends, int32(fd))
	f := os.NewFile(uintptr(fd), "")
	c, err := net.FileConn(f) // a copy of fd
	f.Close()
	return c, err
}

func (l *evLoop) closeClient(lc *loopClient) {
	if lc.fd < 0 {
		return
	}
	delete(l.ends, int32(lc.fd))
	l.dropClient(lc) // and closes the socket
}

// dropClient forgets a client whose socket is closed.
func (l *evLoop) dropClient(lc *loopClient) {
	if lc.fd >= 0 {
		unix.Close(lc.fd)
		lc.fd = -1
	}
	fc := lc.fc
	fc.cancel()
	fc.br.Reset(nil)
	clientReaders.Put(fc.br)
	fc.bw.Reset(nil)
	clientWriters.Put(fc.bw)
	l.clients.Add(-1)
}

func (l *evLoop) closeDyno(ld *loopDyno) {
	if ld.fd < 0 {
		return
	}
	delete(l.ends, int32(ld.fd))
	unix.Close(ld.fd)
	ld.fd = -1
}

// dial starts a connection to u's dyno.
func (l *evLoop) dial(u *upstream) (*loopDyno, error) {
	sa, ok := l.addrs[u]
	if !ok {
		a, err := net.ResolveTCPAddr("tcp", u.Addr)
		if err != nil {
			return nil, err
		}
		if ip4 := a.IP.To4(); ip4 != nil {
			s := &unix.SockaddrInet4{Port: a.Port}
			copy(s.Addr[:], ip4)
			sa = s
		} else {
			s := &unix.SockaddrInet6{Port: a.Port}
			copy(s.Addr[:], a.IP.To16())
			sa = s
		}
		l.addrs[u] = sa
	}
	family := unix.AF_INET
	if _, ok := sa.(*unix.SockaddrInet6); ok {
		family = unix.AF_INET6
	}
	fd, err := unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	ld := &loopDyno{fd: fd, u: u}
	ld.rio.fd, ld.out.fd = fd, fd
	ld.d = newDetachedDynoConn(&ld.rio, &ld.out)
	switch err := unix.Connect(fd, sa); err {
	case nil:
	case unix.EINPROGRESS:
		ld.connecting = true
	default:
		unix.Close(fd)
		return nil, err
	}
	if err := l.register(fd, ld); err != nil {
		unix.Close(fd)
		return nil, err
	}
	return ld, nil
}

// idleDyno returns the loop's most recently used idle connection to u, or
// nil; as idlePool.get.
func (l *evLoop) idleDyno(u *upstream, now time.Time) *loopDyno {
	list := l.idle[u]
	n := len(list)
	if n == 0 {
		return nil
	}
	ld := list[n-1]
	l.idle[u] = list[:n-1]
	if now.Sub(ld.d.idleAt) > idleConnTimeout {
		for _, old := range list {
			l.closeDyno(old)
		}
		delete(l.idle, u)
		return nil
	}
	ld.d.reused = true
	return ld
}

// putIdle keeps ld for u's next request; as idlePool.put.
func (l *evLoop) putIdle(ld *loopDyno, now time.Time) {
	if snap := l.r.view.get(); snap != l.snap {
		l.dropGone(snap)
	}
	if !l.snap.has(ld.u) {
		l.closeDyno(ld) // the dyno has left the pool
		return
	}
	ld.d.idleAt = now
	list := l.idle[ld.u]
	if len(list) > 0 && (len(list) >= maxIdlePerDyno || now.Sub(list[0].d.idleAt) > idleConnTimeout) {
		l.closeDyno(list[0])
		list = append(list[:0], list[1:]...)
	}
	l.idle[ld.u] = append(list, ld)
}

func (l *evLoop) removeIdle(ld *loopDyno) {
	list := l.idle[ld.u]
	for i, c := range list {
		if c == ld {
			l.idle[ld.u] = append(list[:i], list[i+1:]...)
			return
		}
	}
}

// dropGone closes the idle connections to dynos that left the pool.
func (l *evLoop) dropGone(snap *snapshot) {
	l.snap = snap
	for u, list := range l.idle {
		if !snap.has(u) {
			for _, ld := range list {
				l.closeDyno(ld)
			}
			delete(l.idle, u)
			delete(l.addrs, u)
		}
	}
}

// errWouldBlock is a loop socket's read or write that would have to wait.
var errWouldBlock = errors.New("router: would block")

// loopReader reads a loop's socket without waiting.
type loopReader struct {
	fd      int
	drained bool // the last read found the socket empty or emptied it
}

func (r *loopReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(r.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
		switch e {
		case 0:
			if n == 0 {
				return 0, io.EOF
			}
			r.drained = int(n) < len(p)
			return int(n), nil
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			r.drained = true
			return 0, errWouldBlock
		}
		return 0, os.NewSyscallError("read", e)
	}
}

// loopWriter writes a loop's socket without waiting. A client's keeps
// what does not fit for the next writable edge; a dyno's fails.
type loopWriter struct {
	fd   int
	keep bool
	pend []byte
}

func (w *loopWriter) Write(p []byte) (int, error) {
	if len(w.pend) > 0 {
		w.pend = append(w.pend, p...)
		return len(p), nil
	}
	n, err := w.send(p)
	if err == errWouldBlock && w.keep {
		w.pend = append(w.pend, p[n:]...)
		return len(p), nil
	}
	return n, err
}

func (w *loopWriter) flushPending() error {
	n, err := w.send(w.pend)
	w.pend = w.pend[:copy(w.pend, w.pend[n:])]
	if err == errWouldBlock {
		return nil
	}
	return err
}

func (w *loopWriter) send(p []byte) (int, error) {
	sent := 0
	for sent < len(p) {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(w.fd), uintptr(unsafe.Pointer(&p[sent])), uintptr(len(p)-sent), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			sent += int(n)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return sent, errWouldBlock
		}
		return sent, os.NewSyscallError("write", e)
	}
	return sent, nil
}

// switchReader reads from r, which a hand-over replaces without losing
// what the bufio.Reader on top holds.
type switchReader struct{ r io.Reader }

func (s *switchReader) Read(p []byte) (int, error) { return s.r.Read(p) }
