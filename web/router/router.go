// Package router is dynobox's Heroku-style HTTP router: one public port in
// front of the web dynos, with Heroku's request headers, one router log line
// per request, Heroku's error codes and error page, and no request dropped
// while dynos come and go.
//
// It is net/http's server and an http.Transport per dyno, with: the choice
// of dyno and the waiting for one (dispatch.go), Heroku's headers
// (headers.go) and limits (limits.go), the relay of the answer (relay.go),
// the H-codes and the log line (errors.go, log.go), and a bound on the
// memory of request heads being read (conn.go).
//
// Contract: New starts nothing; Serve accepts until Shutdown, which answers
// requests waiting for a dyno at once and lets the others finish. It learns
// of dynos only through its Pool and reports through Config.Log only.
//
// Load spreading is least-busy (fewest requests in flight, ties at random):
// Heroku's routers share no state and pick at random; dynobox has one,
// and local app servers are often single-threaded or paused in a debugger.
package router

import (
	"cmp"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Router. Zero durations take Heroku's values.
type Config struct {
	Pool Pool
	// Log receives one Heroku router line per request (no timestamp or
	// "heroku[router]:") on the request's goroutine; must not block; nil discards.
	Log func(line string)
	// Observe receives each request's status, H-code ("" if none) and
	// time from arrival to the end of the answer (the router metrics);
	// on the request's goroutine, must not block; nil: none.
	Observe         func(status int, code string, elapsed time.Duration)
	PublicPort      int           // for X-Forwarded-Port; 0: the listener's port
	ConnectTimeout  time.Duration // default 5s (H19)
	ResponseTimeout time.Duration // default 30s: no response start → H12
	IdleTimeout     time.Duration // default 55s between bytes once the response started (H15)
	BootWait        time.Duration // default 75s: no web dyno up while a request waits → H20
}

// Router is an http.Handler with a server of its own; see New.
type Router struct {
	cfg  Config
	port string // X-Forwarded-Port, if configured
	view poolView
	srv  *http.Server

	closing     context.Context // done at Shutdown: waiting requests give up, WebSockets end
	stopClosing context.CancelFunc
	waiting     atomic.Int64 // requests waiting for a dyno now

	bigHeads  chan struct{} // slots for request heads past smallHead (conn.go)
	headWaits atomic.Int64  // connections waiting for such a slot now
}

// New makes a router; it starts nothing.
func New(cfg Config) *Router {
	cfg.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, 5*time.Second)
	cfg.ResponseTimeout = cmp.Or(cfg.ResponseTimeout, 30*time.Second)
	cfg.IdleTimeout = cmp.Or(cfg.IdleTimeout, 55*time.Second)
	cfg.BootWait = cmp.Or(cfg.BootWait, 75*time.Second)
	r := &Router{cfg: cfg, bigHeads: make(chan struct{}, bigHeadSlots)}
	r.view = poolView{pool: cfg.Pool, newTransport: r.newTransport}
	r.closing, r.stopClosing = context.WithCancel(context.Background())
	if cfg.PublicPort > 0 {
		r.port = strconv.Itoa(cfg.PublicPort)
	}
	r.srv = &http.Server{
		Handler:           r,
		MaxHeaderBytes:    maxHeadBytes,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       90 * time.Second,
		ConnContext:       withConn,
		ConnState:         connState,
	}
	return r
}

// Serve accepts connections on l until Shutdown; then it returns nil.
func (r *Router) Serve(l net.Listener) error {
	if err := r.srv.Serve(&listener{Listener: l, r: r}); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting, answers requests still waiting for a dyno at
// once, closes WebSockets and lets other requests finish until ctx ends,
// then closes what is left.
func (r *Router) Shutdown(ctx context.Context) error {
	r.stopClosing()
	err := r.srv.Shutdown(ctx)
	if err != nil {
		r.srv.Close()
	}
	if s := r.view.cur.Load(); s != nil {
		for _, u := range s.ups {
			u.tr.CloseIdleConnections()
		}
	}
	return err
}

// ServeHTTP routes one request to a web dyno.
func (r *Router) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	c, _ := req.Context().Value(connKey{}).(*clientConn)
	c.setInHead(false)
	x := &exchange{start: time.Now(), requestID: requestID(req.Header), fwd: forwardedFor(req), req: req}
	defer r.finish(x, req)
	x.w = responseWriter{ResponseWriter: w, x: x}
	rw := &x.w
	// A chunked body may have come with a Content-Length that net/http
	// dropped (RFC 9112 6.3: the connection must then close); chunked
	// requests are rare enough to close after each.
	x.closeConn = len(req.TransferEncoding) > 0
	if code, why := refuse(req); code != none {
		x.refuse(code, why)
		writeErrorPage(rw, code, why, x.requestID)
		return
	}
	ctx := req.Context()
	if x.upgrade = upgradeType(req.Header); x.upgrade != "" {
		// net/http's Shutdown leaves hijacked connections: ctx ends the tunnel.
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer context.AfterFunc(r.closing, cancel)()
		defer cancel()
	}
	if req.Body != nil && req.Body != http.NoBody {
		// The dyno may answer while the body streams in (else net/http
		// swallows the unread body before the response).
		_ = http.NewResponseController(w).EnableFullDuplex()
	}
	x.trace = httptrace.ClientTrace{GotConn: x.gotConn, GotFirstResponseByte: x.gotFirstByte, Got1xxResponse: x.got1xx}
	res := r.dispatch(r.outgoing(req, httptrace.WithClientTrace(ctx, &x.trace), x), x)
	x.mu.Lock()
	x.answered = true // no 1xx response goes to the client after this
	x.mu.Unlock()
	if res == nil {
		writeErrorPage(rw, x.code, x.detail, x.requestID)
		return
	}
	r.relay(rw, res, x)
}

// finish writes the router line, also when relay aborts the response (the
// panic goes on: net/http drops the connection); the dyno gets its slot back.
func (r *Router) finish(x *exchange, req *http.Request) {
	p := recover()
	if p != nil && x.code == none {
		x.fail(x.midResponse())
	}
	if p != nil && x.status != 0 {
		// What came of a response cut short goes out before the connection drops.
		_ = http.NewResponseController(x.w.ResponseWriter).Flush()
	}
	if x.counted {
		x.up.inflight.Add(-1)
		if !r.view.cur.Load().has(x.up) {
			x.up.tr.CloseIdleConnections() // a dyno gone from the pool
		}
	}
	if x.upload != nil && !x.upload.ended() {
		// The rest of the body is not wanted: net/http closes instead of reading on.
		_ = http.NewResponseController(x.w.ResponseWriter).SetReadDeadline(aLongTimeAgo)
	}
	if r.cfg.Log != nil || r.cfg.Observe != nil {
		status, code, end := x.status, "", time.Now()
		if x.code != none {
			status, code = codes[x.code].status, codes[x.code].name
		}
		if r.cfg.Log != nil {
			r.cfg.Log(logLine(x, req, status, end))
		}
		if r.cfg.Observe != nil {
			r.cfg.Observe(status, code, end.Sub(x.start))
		}
	}
	if p != nil {
		panic(p)
	}
}

var aLongTimeAgo = time.Unix(1, 0)

// exchange is what the router learns about one request as it goes; the
// router line is written from it at the end.
type exchange struct {
	req       *http.Request
	start     time.Time
	requestID string
	fwd       string // X-Forwarded-For as sent to the dyno
	upgrade   string // the protocol the client asks to switch to, if any

	up        *upstream // the dyno tried last, nil if none was
	counted   bool      // up counts this request in flight
	connected time.Time // when a connection to up was obtained; zero if never
	failed    time.Time // when the last attempt on a dyno failed
	code      hcode     // router error, if any
	detail    string    // more words for the log line and error page
	status    int       // the dyno's response status, 0 if none
	closeConn bool      // close the client's connection after the response

	upload *requestBody // the request body on its way to the dyno

	mu       sync.Mutex // orders 1xx responses (transport's goroutine) before the answer
	answered bool       // the dyno's final response or an error page is on its way

	// Parts of the exchange, in it so as to allocate them once.
	w     responseWriter        // the client's side
	try   attempt               // the current try on a dyno
	body  dynoBody              // the response body on its way to the client; counts its bytes
	trace httptrace.ClientTrace // the transport's hooks
}

// fail records the first error code: later ones are consequences.
func (x *exchange) fail(c hcode) {
	if x.code == none {
		x.code = c
	}
}

// refuse records an answer of the router's own, after which the client's
// connection closes.
func (x *exchange) refuse(c hcode, why string) {
	x.fail(c)
	x.detail, x.closeConn = why, true
}

// midResponse names what cut a response short once it had started.
func (x *exchange) midResponse() hcode {
	switch {
	case x.req.Context().Err() != nil: // the client left, or writing to it failed (net/http cancels then)
		return h27
	case x.body.idle():
		return h15
	case x.status != 0:
		return h18
	}
	return h13 // a bug in the router: still log the request
}

// buffers recycles the copy buffers of response bodies.
var buffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}
