package router

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// outcome of sending a request to one dyno.
type outcome int

const (
	answered   outcome = iota // a response head arrived
	failed                    // answer with the error code
	retryStale                // a kept-alive connection the dyno had closed: nothing reached the app
	retryOther                // nothing useful reached the app: try another dyno
)

// maxCloseRetries bounds how often a request that dynos close without
// answering is tried again (it might be what crashes them).
const maxCloseRetries = 2

// dispatch picks a dyno, sends it the request and returns its response
// head and connection, or the error code to answer with. A request that
// could not reach a dyno's app goes to another dyno, or waits for the pool
// to change: for BootWait while web is starting, for ConnectTimeout when
// every up dyno failed (it may be going away before the supervisor says so).
// The chosen dyno is x.up; on success it has the request in flight.
// prior, if not nil, is an attempt that failed already (on an event
// loop), at x.failed.
func (r *Router) dispatch(w http.ResponseWriter, req *http.Request, x *exchange, up *upload, prior *attempt) (*http.Response, *dynoConn, hcode) {
	ctx := req.Context()
	var (
		tried    []*upstream // dynos that failed this request, in triedIn
		triedIn  *snapshot
		last     hcode     // the answer if no dyno does better
		giveUpAt time.Time // when failures turn into that answer
		closes   int       // dynos that closed on this request
	)
	if prior != nil {
		triedIn, tried, last = r.view.get(), []*upstream{prior.u}, prior.code
		giveUpAt = x.failed.Add(r.cfg.ConnectTimeout)
		if prior.code == h13 {
			closes = 1
		}
	}
	for {
		snap := r.view.get()
		if snap != triedIn {
			// The pool changed: a restarted dyno may be back on its port.
			tried, triedIn = tried[:0], snap
		}
		if u := snap.pick(tried); u != nil {
			res, c, out, code := r.try(w, req, x, up, u)
			switch {
			case out == answered:
				return res, c, none
			case out == failed:
				return nil, nil, code
			case out == retryStale:
				continue
			case code == h13:
				if closes++; closes > maxCloseRetries {
					return nil, nil, h13
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
			return nil, nil, h14
		case snap.state == Crashed:
			return nil, nil, h10
		case snap.state == Ready && last != none:
			code, deadline = last, giveUpAt
		}
		if x.fc != nil {
			x.fc.watch() // net/http's server watches the client all along
		}
		if !r.wait(ctx, snap.changed, deadline) {
			if ctx.Err() != nil {
				return nil, nil, h27
			}
			return nil, nil, code
		}
	}
}

// attempt is a dyno that failed a request, and how.
type attempt struct {
	u    *upstream
	code hcode
}

// try sends the request to dyno u. Answered, u has one more request in
// flight.
func (r *Router) try(w http.ResponseWriter, req *http.Request, x *exchange, up *upload, u *upstream) (*http.Response, *dynoConn, outcome, hcode) {
	x.up, x.connected = u, time.Time{}
	u.inflight.Add(1)
	now := time.Now()
	c, err := r.connect(req.Context(), u, now)
	if err != nil {
		u.inflight.Add(-1)
		if req.Context().Err() != nil {
			return nil, nil, failed, h27
		}
		return nil, nil, retryOther, connectFailed(err)
	}
	x.connected = now
	if !c.reused {
		x.connected = time.Now() // after dialing
	}
	res, out, code := r.send(w, req, x, up, c)
	if out != answered {
		u.inflight.Add(-1)
	}
	return res, c, out, code
}

func connectFailed(err error) hcode {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return h19
	}
	return h21
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
	case <-r.closing:
	}
	return false
}

// send writes the request to the dyno on c and reads the response head,
// passing 1xx informational responses on.
func (r *Router) send(w http.ResponseWriter, req *http.Request, x *exchange, up *upload, c *dynoConn) (*http.Response, outcome, hcode) {
	replayable := up == nil && idempotent(req.Method)
	if c.reused && !replayable && !c.alive() {
		c.Close()
		return nil, retryStale, none
	}
	writeRequestHead(c.bw, req, x, r.forwardedPort(req), up)
	deadline := x.connected.Add(r.cfg.ResponseTimeout) // a few µs early at most
	var err error
	if x.fc != nil {
		c.unwatch = x.fc.watchDyno(c)
		r.waitBriefly(x, c, x.connected, deadline)
		err = c.sendAndWait()
	} else {
		err = c.bw.Flush()
	}
	if err != nil {
		// The app cannot have seen a whole request head: send it again.
		if x.fc != nil {
			c.unwatch()
		}
		c.Close()
		if c.reused {
			return nil, retryStale, none
		}
		return nil, retryOther, h13
	}
	if x.fc == nil {
		c.readBy(deadline)
		if up != nil {
			// Heroku's 30 s count from the end of the request.
			up.start(c, func() { c.moveDeadline(deadline, time.Now().Add(r.cfg.ResponseTimeout)) })
		}
		c.unwatch = context.AfterFunc(req.Context(), c.abort)
	}
	return r.receive(w, req, x, up, c, deadline, replayable)
}

// receive reads the response head to the request in flight on c, passing
// 1xx informational responses on.
func (r *Router) receive(w http.ResponseWriter, req *http.Request, x *exchange, up *upload, c *dynoConn, deadline time.Time, replayable bool) (*http.Response, outcome, hcode) {
	for {
		// Peek first: whether the dyno sent anything at all matters.
		err := r.awaitDyno(x, c, x.connected, deadline)
		closed := err != nil
		var res *http.Response
		if err == nil {
			res, err = readResponse(c, req)
		}
		if err != nil {
			c.unwatch()
			out, code := r.readFailed(req, up, c, err, closed && replayable)
			return nil, out, code
		}
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			return res, answered, none
		}
		if res.StatusCode != http.StatusContinue { // the router answered Expect itself
			h := w.Header()
			copyResponseHeader(h, res.Header)
			w.WriteHeader(res.StatusCode)
			clear(h)
		}
	}
}

// awaitDyno waits until c has bytes to read, an error, or deadline (set
// here on the router's own connections, by the caller on net/http's). A
// client connection of the router's own is not watched for a hang-up
// until the dyno has kept the request waiting for watchAfter since now:
// most answers come sooner, and watching costs a goroutine and deadline
// changes.
func (r *Router) awaitDyno(x *exchange, c *dynoConn, now, deadline time.Time) error {
	fc := x.fc
	if fc == nil {
		_, err := c.br.Peek(1)
		return err
	}
	if c.br.Buffered() > 0 {
		return nil
	}
	if !fc.watching {
		if r.waitBriefly(x, c, now, deadline) {
			_, err := c.br.Peek(1)
			if err == nil || !isTimeout(err) || c.aborted.Load() {
				return err
			}
		}
		fc.watch()
	}
	c.readBy(deadline)
	_, err := c.br.Peek(1)
	return err
}

// waitBriefly sets the read deadline for the first, unwatched wait of
// awaitDyno; false: deadline comes first, so the client is watched from the
// start.
func (r *Router) waitBriefly(x *exchange, c *dynoConn, now, deadline time.Time) bool {
	if soon := now.Add(watchAfter); soon.Before(deadline) {
		c.readBriefly(now, soon, deadline)
		return true
	}
	x.fc.watch()
	c.readBy(deadline)
	return false
}

// readFailed names a failure to read the response head. retry says that
// the dyno closed the connection before sending anything, on a request
// that may be sent again.
func (r *Router) readFailed(req *http.Request, up *upload, c *dynoConn, err error, retry bool) (outcome, hcode) {
	clientGone := req.Context().Err() != nil || up.clientFailed() // before stopping the upload cancels it
	c.Close()
	up.stop()
	switch {
	case clientGone:
		return failed, h27
	case isTimeout(err):
		return failed, h12
	case retry && c.reused:
		return retryStale, none // the dyno closed it while idle
	case retry:
		// The dyno hung up without a word. nginx tries such requests on
		// the next server too; it saves those queued on a dyno that closes
		// its listener (the kernel closes or resets them).
		return retryOther, h13
	case !up.sent():
		return failed, h18 // the dyno hung up while the body was on its way
	}
	return failed, h13
}

func idempotent(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
