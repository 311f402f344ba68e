// Command epollprobe is a design probe for bench/router.sh, not a router:
// a reverse proxy built the way nginx is, in Go — one event loop per CPU,
// each on its own locked OS thread with its own epoll instance and its own
// SO_REUSEPORT listener — to measure what that shape is worth against the
// router's goroutine per connection on Go's shared poller.
//
//	epollprobe -addr 127.0.0.1:PORT -backend HOST:PORT [-loops N]
//
// It adds the headers the router adds (fixed values where the router
// computes them) and writes no log line. It handles only what the
// benchmark sends: small GET heads, and answers framed by Content-Length
// that fit in one read; one dyno connection per client connection.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (a port, not 0, for more than one loop)")
	backend := flag.String("backend", "", "the dyno's address")
	loops := flag.Int("loops", runtime.GOMAXPROCS(0), "event loops")
	flag.Parse()
	la, err := net.ResolveTCPAddr("tcp4", *addr)
	check(err)
	da, err := net.ResolveTCPAddr("tcp4", *backend)
	check(err)
	if la.Port == 0 {
		// Pick a free port first: every loop binds the same one.
		l, err := net.ListenTCP("tcp4", la)
		check(err)
		la = l.Addr().(*net.TCPAddr)
		l.Close()
	}
	for i := 0; i < *loops; i++ {
		lfd := listen(la)
		go loop(lfd, sockaddr(da))
	}
	fmt.Println("listening", la)
	select {}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "epollprobe:", err)
		os.Exit(1)
	}
}

func sockaddr(a *net.TCPAddr) *unix.SockaddrInet4 {
	sa := &unix.SockaddrInet4{Port: a.Port}
	copy(sa.Addr[:], a.IP.To4())
	return sa
}

func listen(a *net.TCPAddr) int {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	check(err)
	check(unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1))
	check(unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1))
	check(unix.Bind(fd, sockaddr(a)))
	check(unix.Listen(fd, 1024))
	return fd
}

// pair is a client connection and its dyno connection.
type pair struct {
	client, dyno int
	in, out      []byte // read from the client, from the dyno
	req          []byte // the request head for the dyno
}

func loop(lfd int, dyno *unix.SockaddrInet4) {
	runtime.LockOSThread()
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	check(err)
	add := func(fd int, events uint32) {
		check(unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: events, Fd: int32(fd)}))
	}
	add(lfd, unix.EPOLLIN)
	pairs := map[int]*pair{}
	events := make([]unix.EpollEvent, 512)
	buf := make([]byte, 16<<10)
	closePair := func(p *pair) {
		delete(pairs, p.client)
		delete(pairs, p.dyno)
		unix.Close(p.client)
		unix.Close(p.dyno)
	}
	for {
		n, err := unix.EpollWait(ep, events, -1)
		if err == unix.EINTR {
			continue
		}
		check(err)
		for _, ev := range events[:n] {
			fd := int(ev.Fd)
			if fd == lfd {
				for {
					c, _, err := unix.Accept4(lfd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
					if err != nil {
						break
					}
					d, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
					check(err)
					check(unix.Connect(d, dyno)) // blocking: once per client connection
					check(unix.SetNonblock(d, true))
					unix.SetsockoptInt(c, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					unix.SetsockoptInt(d, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					p := &pair{client: c, dyno: d}
					pairs[c], pairs[d] = p, p
					// Edge-triggered: a read shorter than the buffer drained
					// the socket, so no read is made only to find nothing.
					add(c, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLET)
					add(d, unix.EPOLLIN|unix.EPOLLRDHUP|unix.EPOLLET)
				}
				continue
			}
			p := pairs[fd]
			if p == nil {
				continue
			}
			m, err := unix.Read(fd, buf)
			if m == 0 || err != nil && err != unix.EAGAIN {
				closePair(p)
				continue
			}
			if m < 0 {
				continue
			}
			if fd == p.client {
				p.in = append(p.in, buf[:m]...)
				i := bytes.Index(p.in, []byte("\r\n\r\n"))
				if i < 0 {
					continue
				}
				r := append(p.req[:0], p.in[:i+2]...)
				r = append(r, "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nX-Forwarded-Port: 5006\r\nX-Request-Start: "...)
				r = strconv.AppendInt(r, time.Now().UnixMilli(), 10)
				r = append(r, "\r\nX-Request-Id: 0f9c1e2d-3b4a-4c5d-8e6f-7a8b9c0d1e2f\r\nVia: 1.1 vegur\r\n\r\n"...)
				p.req = r
				p.in = p.in[:copy(p.in, p.in[i+4:])]
				send(p.dyno, r)
				continue
			}
			p.out = append(p.out, buf[:m]...)
			i := bytes.Index(p.out, []byte("\r\n\r\n"))
			if i < 0 {
				continue
			}
			j := bytes.Index(p.out[:i], []byte("\r\nContent-Length: "))
			if j < 0 {
				check(fmt.Errorf("a response without Content-Length"))
			}
			j += len("\r\nContent-Length: ")
			k := bytes.IndexByte(p.out[j:], '\r')
			length, err := strconv.Atoi(string(p.out[j : j+k]))
			check(err)
			if end := i + 4 + length; len(p.out) >= end {
				send(p.client, p.out[:end])
				p.out = p.out[:copy(p.out, p.out[end:])]
			}
		}
	}
}

// send writes all of b; the probe's messages fit in a socket buffer.
func send(fd int, b []byte) {
	for len(b) > 0 {
		n, err := unix.SendmsgN(fd, b, nil, nil, unix.MSG_NOSIGNAL)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			check(fmt.Errorf("a send would wait: the probe handles only small messages"))
		}
		if err != nil {
			return // the peer is gone: its read sees it
		}
		b = b[n:]
	}
}
