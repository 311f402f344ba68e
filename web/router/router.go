// Package router is dynobox's Heroku-style HTTP router: one public port in
// front of the web dynos, with Heroku's request headers, one router log line
// per request, Heroku's error codes and error page, and no request dropped
// while dynos come and go.
//
// Load spreading is least-busy: each request goes to the up dyno with the
// fewest requests in flight through the router, ties broken at random (so a
// lightly used app sees Heroku's random spreading). Heroku picks at random
// because its many routers share no state; dynobox has one router, and app
// servers run locally are often single-threaded or paused in a debugger,
// where random picking would queue requests behind the busy dyno.
package router

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Router. Zero durations take Heroku's values.
type Config struct {
	Pool Pool
	// Log receives one Heroku router line per request (without timestamp or
	// "heroku[router]:"). It is called on the request's goroutine and must
	// not block; nil discards.
	Log             func(line string)
	PublicPort      int           // for X-Forwarded-Port; 0: the listener's port
	ConnectTimeout  time.Duration // default 5s (H19)
	ResponseTimeout time.Duration // default 30s: no response start → H12
	IdleTimeout     time.Duration // default 55s between bytes once the response started (H15)
	BootWait        time.Duration // default 75s: no web dyno up while a request waits → H20
}

// Router is an http.Handler with a server of its own; see New.
type Router struct {
	cfg       Config
	port      string // X-Forwarded-Port, if configured
	view      poolView
	dialer    net.Dialer
	srv       *http.Server
	closing   chan struct{} // closed by Shutdown: waiting requests give up
	closeOnce sync.Once
	waiting   atomic.Int64          // requests waiting for a dyno now
	loops     atomic.Pointer[loops] // event loops serving client connections; nil: none (loop_linux.go)
	loopsOnce sync.Once             // started by the first Serve
	noLoops   bool                  // serve every connection on its own goroutine (tests)

	mu        sync.Mutex
	upgrades  map[*exchange]func()      // live WebSockets and how to close them
	conns     map[*fastConn]struct{}    // client connections the router serves itself
	listeners map[net.Listener]*handoff // what Serve accepts on
	down      bool                      // Shutdown began: Serve accepts nothing more
}

// New makes a router; it starts nothing.
func New(cfg Config) *Router {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.ConnectTimeout, 5*time.Second)
	def(&cfg.ResponseTimeout, 30*time.Second)
	def(&cfg.IdleTimeout, 55*time.Second)
	def(&cfg.BootWait, 75*time.Second)

	r := &Router{
		cfg:       cfg,
		view:      poolView{pool: cfg.Pool},
		dialer:    net.Dialer{Timeout: cfg.ConnectTimeout},
		closing:   make(chan struct{}),
		upgrades:  map[*exchange]func(){},
		conns:     map[*fastConn]struct{}{},
		listeners: map[net.Listener]*handoff{},
	}
	if cfg.PublicPort > 0 {
		r.port = strconv.Itoa(cfg.PublicPort)
	}
	r.srv = &http.Server{
		Handler:           r,
		MaxHeaderBytes:    maxHeadBytes,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       90 * time.Second,
	}
	r.srv.RegisterOnShutdown(r.closeUpgrades)
	return r
}

// Shutdown stops accepting, answers requests still waiting for a dyno at
// once, closes WebSockets and lets other requests finish until ctx ends,
// then closes what is left.
func (r *Router) Shutdown(ctx context.Context) error {
	r.closeOnce.Do(func() { close(r.closing) })
	r.mu.Lock()
	r.down = true
	for l := range r.listeners {
		l.Close()
	}
	r.mu.Unlock()
	err := r.srv.Shutdown(ctx) // the connections handed to net/http, and WebSockets
	if err == nil {
		err = r.waitConns(ctx)
	}
	if err != nil {
		r.srv.Close()
		r.closeConns()
	}
	if s := r.view.cur.Load(); s != nil {
		for _, u := range s.ups {
			u.idle.closeAll()
		}
	}
	return err
}

// waitConns closes the router's own client connections as they go idle,
// until none is left or ctx ends.
func (r *Router) waitConns(ctx context.Context) error {
	tick := time.Millisecond
	for r.closeIdle() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tick):
		}
		tick = min(2*tick, 50*time.Millisecond)
	}
	return nil
}

// ServeHTTP routes one request to a web dyno.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.route(w, req, &exchange{})
}

// route routes one request; x is blank but for fastConn.
func (r *Router) route(w http.ResponseWriter, req *http.Request, x *exchange) {
	x.start, x.requestID, x.fwd = time.Now(), requestID(req.Header), forwardedFor(req)
	defer r.finish(x, req)
	if why := checkLimits(req); why != "" {
		x.fail(h25)
		x.detail = why
		writeErrorPage(w, h25, why, x.requestID)
		return
	}
	up := newUpload(w, req)
	res, c, code := r.dispatch(w, req, x, up, nil)
	r.answer(w, req, x, up, res, c, code)
}

// answer passes on the dyno's response on c, or answers with code.
func (r *Router) answer(w http.ResponseWriter, req *http.Request, x *exchange, up *upload, res *http.Response, c *dynoConn, code hcode) {
	if code != none {
		up.stop()
		x.fail(code)
		writeErrorPage(w, code, "", x.requestID)
		return
	}
	defer x.up.inflight.Add(-1)
	if res.StatusCode == http.StatusSwitchingProtocols {
		r.upgrade(w, x, res, c)
		return
	}
	r.relay(w, req, x, res, c, up)
}

// finish writes the router line, also when relay aborts the response (the
// panic goes on to net/http, which drops the connection).
func (r *Router) finish(x *exchange, req *http.Request) {
	p := recover()
	if p != nil && x.code == none {
		x.fail(h13) // a bug in the router: still log the request
	}
	if x.end.IsZero() {
		x.end = time.Now()
	}
	r.logExchange(x, req)
	if p != nil {
		panic(p)
	}
}

// logExchange writes the router line of an ended exchange.
func (r *Router) logExchange(x *exchange, req *http.Request) {
	if r.cfg.Log == nil {
		return
	}
	status := x.status
	if x.code != none {
		status = codes[x.code].status
	}
	r.cfg.Log(logLine(x, req, status, x.end))
}

func (r *Router) closeUpgrades() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, end := range r.upgrades {
		end()
	}
}
