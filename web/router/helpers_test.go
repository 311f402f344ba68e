package router

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakePool is a Pool the test drives, like the supervisor would.
type fakePool struct {
	mu       sync.Mutex
	state    PoolState
	backends []Backend
	changed  chan struct{}
}

func newPool(state PoolState, bs ...Backend) *fakePool {
	return &fakePool{state: state, backends: bs, changed: make(chan struct{})}
}

func (p *fakePool) Backends() []Backend {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Backend(nil), p.backends...)
}

func (p *fakePool) State() PoolState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

func (p *fakePool) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

func (p *fakePool) set(state PoolState, bs ...Backend) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state, p.backends = state, bs
	close(p.changed)
	p.changed = make(chan struct{})
}

// logSink collects router lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
	added chan struct{} // closed and replaced on every line
}

func newLogSink() *logSink { return &logSink{added: make(chan struct{})} }

func (s *logSink) add(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lines = append(s.lines, line)
	close(s.added)
	s.added = make(chan struct{})
}

// waitFor returns the first line containing every part, waiting up to 5s:
// the line is logged after the response may have reached the client.
func (s *logSink) waitFor(t testing.TB, parts ...string) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		s.mu.Lock()
		added := s.added
		for _, l := range s.lines {
			if containsAll(l, parts) {
				s.mu.Unlock()
				return l
			}
		}
		s.mu.Unlock()
		select {
		case <-added:
		case <-deadline:
			t.Fatalf("no router line with %q; got:\n%s", parts, strings.Join(s.all(), "\n"))
		}
	}
}

func (s *logSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

type testRouter struct {
	*Router
	url  string // http://127.0.0.1:PORT
	addr string
	logs *logSink
}

// startRouter serves a router on a loopback port until the test ends.
func startRouter(t testing.TB, cfg Config) *testRouter {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink := newLogSink()
	if cfg.Log == nil {
		cfg.Log = sink.add
	}
	r := New(cfg)
	done := make(chan error, 1)
	go func() { done <- r.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return &testRouter{Router: r, url: "http://" + l.Addr().String(), addr: l.Addr().String(), logs: sink}
}

// startBackend runs a web dyno: a real HTTP server on a loopback port.
func startBackend(t testing.TB, dyno string, h http.Handler) (Backend, *http.Server) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	return serveBackend(t, dyno, l, srv), srv
}

// serveBackend serves srv on l until the test ends.
func serveBackend(t testing.TB, dyno string, l net.Listener, srv *http.Server) Backend {
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return Backend{Dyno: dyno, Addr: l.Addr().String()}
}

// rawBackend runs fn on every connection to a plain TCP listener, for dynos
// that misbehave below HTTP.
func rawBackend(t testing.TB, dyno string, fn func(c net.Conn)) Backend {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				fn(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return Backend{Dyno: dyno, Addr: l.Addr().String()}
}

// readHead reads a request head off a raw connection.
func readHead(c net.Conn) (*bufio.Reader, error) {
	br := bufio.NewReader(c)
	_, err := readHeadFrom(br)
	return br, err
}

// readRequest reads a whole request (body by Content-Length) off a raw
// connection.
func readRequest(c net.Conn) error {
	br := bufio.NewReader(c)
	n, err := readHeadFrom(br)
	if err == nil {
		_, err = io.CopyN(io.Discard, br, n)
	}
	return err
}

// readHeadFrom reads a request head and returns its Content-Length.
func readHeadFrom(br *bufio.Reader) (int64, error) {
	var n int64
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, err
		}
		if line == "\r\n" {
			return n, nil
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			n, _ = strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
}

// hello is a trivial web dyno.
func hello(dyno string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Dyno", dyno)
		io.WriteString(w, "Hello, world!")
	})
}

// client is a test HTTP client with its own connection pool.
func client(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

func get(t testing.TB, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return res, string(b)
}

// eventually polls cond until it holds, up to 5s.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
