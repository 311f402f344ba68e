package router

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// rawIO reads and writes a TCP connection the way net.Conn does — through
// Go's poller, with its deadlines and its close — but makes each
// non-blocking recv and send as a raw system call. A plain one tells the
// scheduler that the goroutine may block: the runtime's monitor thread then
// wakes every 20 µs to take the processor from threads stuck in system
// calls, and hands it to another thread when one is. On a busy 2-core
// machine that bookkeeping, for calls that never block, cost about a tenth
// of the router's CPU per request (perf, bench/router.sh). recv and send
// also skip the file-position lock that read and write take.
type rawIO struct {
	c  net.Conn
	rc syscall.RawConn
	// A read and a write may run at once (an upload streams while the
	// response is read): each has its own.
	rp, wp  []byte
	rn, wn  int
	rerr    error
	werr    error
	readFn  func(uintptr) bool
	writeFn func(uintptr) bool
}

// newRawIO returns nil for a connection without a file descriptor.
func newRawIO(c net.Conn) *rawIO {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	r := &rawIO{c: c, rc: rc}
	r.readFn, r.writeFn = r.recv, r.send
	return r
}

// reader and writer are r, or the connection itself without one.
func (r *rawIO) reader(c net.Conn) io.Reader {
	if r == nil {
		return c
	}
	return r
}

func (r *rawIO) writer(c net.Conn) io.Writer {
	if r == nil {
		return c
	}
	return r
}

func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.rp, r.rn, r.rerr = p, 0, nil
	err := r.rc.Read(r.readFn)
	r.rp = nil
	if err != nil {
		return 0, err // a deadline, or the connection closed
	}
	return r.rn, r.rerr
}

func (r *rawIO) recv(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&r.rp[0])), uintptr(len(r.rp)), 0, 0, 0)
		switch e {
		case 0:
			r.rn = int(n)
			if n == 0 {
				r.rerr = io.EOF
			}
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until readable
		}
		r.rerr = r.opError("read", e)
		return true
	}
}

func (r *rawIO) Write(p []byte) (int, error) {
	r.wp, r.wn, r.werr = p, 0, nil
	err := r.rc.Write(r.writeFn)
	r.wp = nil
	if err == nil {
		err = r.werr
	}
	return r.wn, err
}

func (r *rawIO) send(fd uintptr) bool {
	for r.wn < len(r.wp) {
		n, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, fd, uintptr(unsafe.Pointer(&r.wp[r.wn])), uintptr(len(r.wp)-r.wn), syscall.MSG_NOSIGNAL, 0, 0)
		switch e {
		case 0:
			r.wn += int(n)
			continue
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait until writable
		}
		r.werr = r.opError("write", e)
		return true
	}
	return true
}

// opError is the error net.Conn would return.
func (r *rawIO) opError(op string, e syscall.Errno) error {
	return &net.OpError{Op: op, Net: "tcp", Source: r.c.LocalAddr(), Addr: r.c.RemoteAddr(), Err: os.NewSyscallError(op, e)}
}
