package router

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync/atomic"
	"time"
)

// idleConnTimeout stays below the keep-alive timeouts of app servers
// (Node's 5 s, gunicorn's 2 s): a request seldom meets a closing connection.
const idleConnTimeout = time.Second

// maxCloseRetries bounds how often a request that dynos close without
// answering is tried again (it might be what crashes them).
const maxCloseRetries = 2

// newTransport makes the transport to one dyno. It retries an idempotent
// request itself when a kept-alive connection turns out closed, and closes
// an idle one on which bytes arrive (attempt: before it was idle).
func (r *Router) newTransport() *http.Transport {
	d := &net.Dialer{Timeout: r.cfg.ConnectTimeout}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			dc := &dynoConn{Conn: c, idleTimeout: r.cfg.IdleTimeout}
			dc.timer = time.AfterFunc(time.Hour, dc.check)
			dc.timer.Reset(dc.idleTimeout) // check sees dc.timer set
			return dc, nil
		},
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       idleConnTimeout,
		ResponseHeaderTimeout: r.cfg.ResponseTimeout, // H12: counted once the request is sent, as on Heroku
		DisableCompression:    true,
	}
}

// dispatch picks a dyno (x.up), sends it req and returns its response, or
// nil: the router answers with x.code. A request that reached no dyno's app
// goes to another, or waits for the pool to change: BootWait while web
// starts, ConnectTimeout when every up dyno failed (it may be going away
// before the supervisor says so).
func (r *Router) dispatch(req *http.Request, x *exchange) *http.Response {
	if req.Body != nil {
		x.upload = &requestBody{ReadCloser: req.Body}
		req.Body = x.upload
	}
	var (
		tried    []*upstream // dynos that failed this request, in triedIn
		triedIn  *snapshot
		last     hcode     // the answer if no dyno does better
		giveUpAt time.Time // when failures turn into that answer
		closes   int       // dynos that closed on this request
	)
	for {
		snap := r.view.get()
		if snap != triedIn {
			// The pool changed: a restarted dyno may be back on its port.
			tried, triedIn = tried[:0], snap
		}
		if u := snap.pick(tried); u != nil {
			res, code, out := r.try(req, x, u)
			switch {
			case out == answered:
				return res
			case out == failed:
				x.fail(code)
				return nil
			case code == h13:
				if closes++; closes > maxCloseRetries {
					x.fail(code)
					return nil
				}
				if out == retrySame {
					continue
				}
			}
			x.failed = time.Now()
			tried, last = append(tried, u), code
			if giveUpAt.IsZero() {
				giveUpAt = x.failed.Add(r.cfg.ConnectTimeout)
			}
			continue
		}
		code, deadline := h20, x.start.Add(r.cfg.BootWait)
		switch {
		case snap.state == NoWeb:
			code, deadline = h14, time.Time{}
		case snap.state == Crashed:
			code, deadline = h10, time.Time{}
		case snap.state == Ready && last != none:
			code, deadline = last, giveUpAt
		}
		if !r.wait(req.Context(), snap.changed, deadline) {
			if req.Context().Err() != nil {
				code = h27
			}
			x.fail(code)
			return nil
		}
	}
}

// outcome of sending a request to one dyno.
type outcome int

const (
	answered   outcome = iota // a response head arrived
	failed                    // answer with the error code
	retrySame                 // a kept-alive connection had a stale answer on it: try again
	retryOther                // nothing useful reached the app: try another dyno
)

// try sends the request to dyno u: the response, or the code to answer
// with and what to do next.
func (r *Router) try(req *http.Request, x *exchange, u *upstream) (*http.Response, hcode, outcome) {
	x.up, x.connected = u, time.Time{}
	u.inflight.Add(1)
	x.try = attempt{}
	a := &x.try
	req.URL.Scheme, req.URL.Host = "http", u.Addr // req is outgoing's copy, ours to change
	res, err := u.tr.RoundTrip(req)
	if a.stale.Load() { // what came was sent before the request (a response or not)
		if err == nil {
			res.Body.Close()
		}
		err = errStale
	}
	if err == nil {
		x.counted = true
		if res.StatusCode != http.StatusSwitchingProtocols {
			x.body = dynoBody{ReadCloser: res.Body, conn: a.conn}
			res.Body = &x.body
		}
		return res, none, answered
	}
	u.inflight.Add(-1)
	var op *net.OpError
	replayable := x.upload == nil && idempotent(req.Method)
	switch {
	case x.upload.malformed():
		x.refuse(h25, "malformed request body")
		return nil, h25, failed
	case req.Context().Err() != nil || x.upload.clientFailed():
		return nil, h27, failed
	case errors.As(err, &op) && op.Op == "dial" || x.connected.IsZero():
		// Also after the transport found a kept-alive connection closed
		// and dialled again.
		x.connected = time.Time{}
		if isTimeout(err) {
			return nil, h19, retryOther
		}
		return nil, h21, retryOther
	case isTimeout(err):
		return nil, h12, failed
	case x.upload != nil && !x.upload.ended():
		return nil, h18, failed // the dyno hung up while the body was on its way
	case err == errStale && replayable:
		return nil, h13, retrySame
	case replayable && !a.firstByte.Load():
		// The dyno hung up without a word. nginx tries such requests on
		// the next server too; it saves those queued on a dyno that
		// closes its listener (the kernel closes or resets them).
		return nil, h13, retryOther
	}
	return nil, h13, failed // or it sent what is no response
}

var errStale = errors.New("router: the dyno answered before the request")

// attempt is what the transport reports about one try on a dyno.
type attempt struct {
	conn        *dynoConn // the connection used
	reused      bool      // it came from the idle pool
	readsAtConn int64     // its reads when it was taken from there
	firstByte   atomic.Bool
	stale       atomic.Bool
}

func (x *exchange) gotConn(info httptrace.GotConnInfo) {
	a := &x.try
	x.connected = time.Now()
	a.conn, _ = info.Conn.(*dynoConn)
	a.reused = info.Reused && a.conn != nil
	if a.reused {
		a.readsAtConn = a.conn.reads.Load()
	}
}

// gotFirstByte: on a kept-alive connection not read from since this request
// took it, the first byte was sent before the request, left over from the
// previous exchange (a body on a HEAD, 204 or 304, one response too many).
// The connection is closed and the answer dropped: the next client must
// never get the previous one's response.
func (x *exchange) gotFirstByte() {
	a := &x.try
	a.firstByte.Store(true)
	if a.reused && a.conn.reads.Load() == a.readsAtConn {
		a.stale.Store(true)
		a.conn.Close()
	}
}

// dynoConn is a connection to a dyno. It counts its reads (for stale
// responses, see attempt) and watches the reads of responses (H15, check).
type dynoConn struct {
	net.Conn
	reads        atomic.Int64
	idleTimeout  time.Duration
	timer        *time.Timer
	waiting      atomic.Int64 // since when a response's read waits (Unix ns); 0: none
	idle, closed atomic.Bool  // closed for H15; closed
}

func (c *dynoConn) Close() error {
	c.closed.Store(true)
	c.timer.Stop()
	return c.Conn.Close()
}

func (c *dynoConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.reads.Add(1)
	}
	return n, err
}

// wait blocks until the pool changes (true), or deadline passes, the
// client goes away or the router shuts down (false).
func (r *Router) wait(ctx context.Context, changed <-chan struct{}, deadline time.Time) bool {
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	r.waiting.Add(1)
	defer r.waiting.Add(-1)
	select {
	case <-changed:
		return true
	case <-tm.C:
	case <-ctx.Done():
	case <-r.closing.Done():
	}
	return false
}

// requestBody is the client's body on its way to the dyno: was all of it
// sent (else H18), did the client break it off (H27)? net/http closes it.
type requestBody struct {
	io.ReadCloser
	state atomic.Int32
}

const (
	bodyReading = iota
	bodyEnded
	bodyClientFailed // the client hung up or stopped sending
	bodyMalformed    // the client sent what is no HTTP body (a bad chunk size)
)

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var ne net.Error
	switch {
	case err == io.EOF:
		b.state.Store(bodyEnded)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne) || errors.Is(err, net.ErrClosed):
		b.state.Store(bodyClientFailed)
	case err != nil:
		b.state.Store(bodyMalformed) // net/http's chunked reader says what is wrong
	}
	return n, err
}

func (b *requestBody) Close() error { return nil }

func (b *requestBody) ended() bool        { return b.state.Load() == bodyEnded }
func (b *requestBody) malformed() bool    { return b != nil && b.state.Load() == bodyMalformed }
func (b *requestBody) clientFailed() bool { return b != nil && b.state.Load() == bodyClientFailed }

func idempotent(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
