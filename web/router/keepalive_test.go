package router

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Keep-alive: to the client and to the dynos.

// A client that sends many requests before reading any answer gets them
// all, in order: what its socket cannot take waits for it.
func TestPipelinedSlowReader(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("b", 6000)
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer := r.URL.Path + " " + body
		w.Header().Set("Content-Length", fmt.Sprint(len(answer))) // else net/http chunks it
		io.WriteString(w, answer)
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	c.SetDeadline(time.Now().Add(60 * time.Second)) // a thousand requests on a busy machine
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	const n = 1000 // 6 MB of answers: more than the sockets hold
	var reqs bytes.Buffer
	for i := range n {
		fmt.Fprintf(&reqs, "GET /%d HTTP/1.1\r\nHost: app.test\r\n\r\n", i)
	}
	go c.Write(reqs.Bytes())
	time.Sleep(200 * time.Millisecond) // not reading meanwhile
	for i := range n {
		res, got := readRawResponse(t, br, "GET")
		if want := fmt.Sprintf("/%d %s", i, body); res.StatusCode != 200 || got != want {
			t.Fatalf("answer %d: %d, %d bytes %.20q…, want 200, %d bytes", i, res.StatusCode, len(got), got, len(want))
		}
	}
	rt.logs.waitFor(t, fmt.Sprintf(`path="/%d"`, n-1), "status=200")
}

// An idle connection to a dyno is not used after idleConnTimeout: the dyno
// may be closing it.
func TestStaleDynoConnectionNotReused(t *testing.T) {
	t.Parallel()
	var opened atomic.Int32
	b := startServer(t, "web.1", &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				opened.Add(1)
			}
		},
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	ask := func() {
		t.Helper()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
		if res, body := readRawResponse(t, br, "GET"); res.StatusCode != 200 || body != "ok" {
			t.Fatalf("got %d %q", res.StatusCode, body)
		}
	}
	ask()
	ask()
	if n := opened.Load(); n != 1 {
		t.Fatalf("%d dyno connections for two requests in a row, want 1 (kept alive)", n)
	}
	time.Sleep(idleConnTimeout + 100*time.Millisecond)
	ask()
	if n := opened.Load(); n != 2 {
		t.Errorf("%d dyno connections after %v idle, want 2 (a new one)", n, idleConnTimeout)
	}
}

// A dyno that leaves the pool while it answers a request still has its
// answer passed on; its connection is then closed, not kept, and the next
// request goes to the dyno that replaced it.
func TestDynoLeavesPoolWhileAnswering(t *testing.T) {
	t.Parallel()
	arrived, leave := make(chan struct{}), make(chan struct{})
	var closed sync.WaitGroup
	closed.Add(1)
	var once, arrival sync.Once
	old := startServer(t, "web.1", &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			arrival.Do(func() { close(arrived) })
			<-leave
			io.WriteString(w, "old")
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateClosed {
				once.Do(closed.Done)
			}
		},
	})
	repl, _ := startBackend(t, "web.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "new")
	}))
	pool := newPool(Ready, old)
	rt := startRouter(t, Config{Pool: pool})
	c, br := dial(t, rt)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
	<-arrived // the request is at the old dyno
	pool.set(Ready, repl)
	close(leave)
	if res, body := readRawResponse(t, br, "GET"); res.StatusCode != 200 || body != "old" {
		t.Fatalf("got %d %q, want the old dyno's answer", res.StatusCode, body)
	}
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
	if res, body := readRawResponse(t, br, "GET"); res.StatusCode != 200 || body != "new" {
		t.Fatalf("got %d %q, want the new dyno's answer", res.StatusCode, body)
	}
	done := make(chan struct{})
	go func() { closed.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the router kept its connection to the dyno that left the pool")
	}
}

// startServer serves srv as a web dyno on a loopback port.
func startServer(t *testing.T, dyno string, srv *http.Server) Backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveBackend(t, dyno, l, srv)
}
