package router

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// load sends GETs from a few workers until stopped and counts the outcomes.
type load struct {
	ok, sent atomic.Int64
	mu       sync.Mutex
	failures []string
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startLoad(t *testing.T, url string, workers int) *load {
	l := &load{stop: make(chan struct{})}
	c := client(t)
	for w := 0; w < workers; w++ {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				l.sent.Add(1)
				res, err := c.Get(fmt.Sprintf("%s/w%d/%d", url, w, i))
				if err != nil {
					l.fail(err.Error())
					continue
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || string(body) != "Hello, world!" {
					l.fail(fmt.Sprintf("%d %q %v", res.StatusCode, pageCode.FindString(string(body)), err))
					continue
				}
				l.ok.Add(1)
			}
		}()
	}
	t.Cleanup(l.finish)
	return l
}

func (l *load) fail(what string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, what)
}

func (l *load) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// more waits until n more requests have succeeded.
func (l *load) more(t *testing.T, n int64) {
	t.Helper()
	target := l.ok.Load() + n
	eventually(t, fmt.Sprintf("%d successful requests", target), func() bool { return l.ok.Load() >= target })
}

func (l *load) check(t *testing.T) {
	t.Helper()
	l.finish()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 0 {
		t.Errorf("%d of %d requests failed, first: %s", len(l.failures), l.sent.Load(), l.failures[0])
	}
	t.Logf("%d requests, %d ok", l.sent.Load(), l.ok.Load())
}

var pageCode = regexp.MustCompile(`H\d\d · [^<]*`) // on the error page

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// dyno is a restartable web dyno on a fixed port, as the supervisor keeps
// web.N on its $PORT across restarts.
type dyno struct {
	t    *testing.T
	name string
	addr string
	srv  *http.Server
}

func newDyno(t *testing.T, name string) *dyno {
	d := &dyno{t: t, name: name, addr: "127.0.0.1:0"}
	d.start()
	return d
}

func (d *dyno) start() {
	l, err := net.Listen("tcp", d.addr)
	if err != nil {
		d.t.Fatal(err)
	}
	d.addr = l.Addr().String()
	d.srv = &http.Server{Handler: hello(d.name)}
	serveBackend(d.t, d.name, l, d.srv)
}

// stop is a dyno's graceful exit on SIGTERM: stop listening, finish what
// is in flight.
func (d *dyno) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.srv.Shutdown(ctx); err != nil {
		d.t.Fatal(err)
	}
}

func (d *dyno) backend() Backend { return Backend{Dyno: d.name, Addr: d.addr} }

const workers = 8

// Requests that arrive while web is starting wait and go through as soon
// as a dyno is up.
func TestStartingThenReady(t *testing.T) {
	t.Parallel()
	pool := newPool(Starting)
	rt := startRouter(t, Config{Pool: pool})
	l := startLoad(t, rt.url, workers)
	eventually(t, "requests waiting", func() bool { return l.sent.Load() >= workers })
	d := newDyno(t, "web.1")
	pool.set(Ready, d.backend())
	l.more(t, 100)
	l.check(t)
}

// Restarts drop no request, whichever comes first: the supervisor telling
// the router or the dyno going away.
func TestNoDroppedRequests(t *testing.T) {
	t.Parallel()
	t.Run("one dyno, pool first", func(t *testing.T) {
		t.Parallel()
		d := newDyno(t, "web.1")
		pool := newPool(Ready, d.backend())
		rt := startRouter(t, Config{Pool: pool})
		l := startLoad(t, rt.url, workers)
		for range 3 {
			l.more(t, 50)
			pool.set(Starting)
			d.stop()
			d.start()
			pool.set(Ready, d.backend())
		}
		l.more(t, 50)
		l.check(t)
	})
	t.Run("one dyno, dyno first", func(t *testing.T) {
		t.Parallel()
		d := newDyno(t, "web.1")
		pool := newPool(Ready, d.backend())
		rt := startRouter(t, Config{Pool: pool})
		l := startLoad(t, rt.url, workers)
		for range 3 {
			l.more(t, 50)
			d.stop() // refused from here on, the pool still says up
			eventually(t, "refused requests waiting", func() bool { return rt.waiting.Load() > 0 })
			pool.set(Starting)
			d.start()
			pool.set(Ready, d.backend())
		}
		l.more(t, 50)
		l.check(t)
	})
	t.Run("one dyno, preboot", func(t *testing.T) {
		t.Parallel()
		old := newDyno(t, "web.1")
		pool := newPool(Ready, old.backend())
		rt := startRouter(t, Config{Pool: pool})
		l := startLoad(t, rt.url, workers)
		for range 3 {
			l.more(t, 50)
			next := newDyno(t, "web.1")
			pool.set(Ready, old.backend(), next.backend())
			l.more(t, 20)
			pool.set(Ready, next.backend())
			old.stop()
			old = next
		}
		l.more(t, 50)
		l.check(t)
	})
	t.Run("two dynos, rolling, dyno first", func(t *testing.T) {
		t.Parallel()
		d1, d2 := newDyno(t, "web.1"), newDyno(t, "web.2")
		pool := newPool(Ready, d1.backend(), d2.backend())
		rt := startRouter(t, Config{Pool: pool})
		l := startLoad(t, rt.url, workers)
		for range 2 {
			for _, d := range []*dyno{d1, d2} {
				other := d1
				if d == d1 {
					other = d2
				}
				l.more(t, 50)
				d.stop()
				l.more(t, 20) // refused requests go to the other dyno
				pool.set(Ready, other.backend())
				d.start()
				pool.set(Ready, d1.backend(), d2.backend())
			}
		}
		l.more(t, 50)
		l.check(t)
	})
}

// A refused connection is retried on another dyno.
func TestRetryRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := Backend{"web.1", l.Addr().String()}
	l.Close()
	live, _ := startBackend(t, "web.2", hello("web.2"))
	rt := startRouter(t, Config{Pool: newPool(Ready, dead, live)})
	c := client(t)
	for i := range 20 {
		if res, body := get(t, c, rt.url+"/"); res.StatusCode != 200 || body != "Hello, world!" {
			t.Fatalf("request %d: %d %q", i, res.StatusCode, firstLine(body))
		}
	}
	for _, line := range rt.logs.all() {
		if !strings.Contains(line, " dyno=web.2 ") || !strings.HasPrefix(line, "at=info ") {
			t.Errorf("router line %s", line)
		}
	}
}

// Least-busy: while one dyno holds a slow request, the others get the rest;
// idle dynos share requests at random.
func TestLeastBusy(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan string, 1)
	var mu sync.Mutex
	served := map[string]int{}
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/slow" {
				arrived <- name
				<-release
			}
			mu.Lock()
			served[name]++
			mu.Unlock()
			io.WriteString(w, name)
		})
	}
	b1, _ := startBackend(t, "web.1", handler("web.1"))
	b2, _ := startBackend(t, "web.2", handler("web.2"))
	rt := startRouter(t, Config{Pool: newPool(Ready, b1, b2)})
	c := client(t)

	slow := make(chan error, 1)
	go func() {
		res, err := c.Get(rt.url + "/slow")
		if err == nil {
			res.Body.Close()
		}
		slow <- err
	}()
	busy := <-arrived
	for i := range 20 {
		res, body := get(t, c, rt.url+"/fast")
		if res.StatusCode != 200 || body == busy {
			t.Fatalf("request %d went to %q, the busy dyno is %s", i, body, busy)
		}
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	clear(served)
	mu.Unlock()
	for range 200 {
		get(t, c, rt.url+"/fast")
	}
	mu.Lock()
	defer mu.Unlock()
	if served["web.1"] < 50 || served["web.2"] < 50 {
		t.Errorf("idle dynos served %v of 200 requests, want both a fair share", served)
	}
}

// Shutdown answers requests waiting for a dyno at once.
func TestShutdownWhileWaiting(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := New(Config{Pool: newPool(Starting)})
	served := make(chan error, 1)
	go func() { served <- r.Serve(l) }()

	got := make(chan int, 1)
	go func() {
		res, err := http.Get("http://" + l.Addr().String())
		if err != nil {
			got <- 0
			return
		}
		res.Body.Close()
		got <- res.StatusCode
	}()
	eventually(t, "a waiting request", func() bool { return r.waiting.Load() > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != 503 {
		t.Errorf("waiting request got %d, want 503", s)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}
