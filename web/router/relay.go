package router

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// The response side: what the router adds to the proxy's relaying of the
// dyno's answer, to tell H15, H18 and H27 apart and count the bytes.

var errUnaskedSwitch = errors.New("router: the dyno switched protocols unasked")

// modifyResponse adds the router's Via to the dyno's response, and refuses
// a protocol switch the client did not ask for: the connection would
// become a tunnel between the client and a dyno that no longer speaks HTTP.
func (r *Router) modifyResponse(res *http.Response) error {
	x := exchangeOf(res.Request)
	x.status = res.StatusCode
	res.Header["Via"] = []string{appendVia(res.Header["Via"])}
	if res.StatusCode == http.StatusSwitchingProtocols && upgradeType(x.req.Header) == "" {
		x.status = 0
		x.fail(h25bad)
		x.detail = "protocol switch not asked for"
		x.closeConn = true
		return errUnaskedSwitch
	}
	return nil
}

// proxyError answers a request the proxy could not pass on.
func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	x := exchangeOf(req)
	if x.code == none {
		// A protocol switch to another protocol than the client asked for.
		x.fail(h25bad)
		x.detail = "protocol switch not as asked"
		x.closeConn = true
	}
	writeErrorPage(w, x.code, x.detail, x.requestID)
}

// responseWriter is the client's side of one exchange.
type responseWriter struct {
	http.ResponseWriter
	x *exchange
}

func (w *responseWriter) WriteHeader(code int) {
	h := w.Header()
	if code >= 200 {
		if _, ok := h["Content-Type"]; !ok {
			h["Content-Type"] = nil // net/http would sniff one: pass the dyno's response as it is
		}
		if w.x.closeConn {
			h.Set("Connection", "close")
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if err != nil {
		w.x.clientWrite = true
	}
	return n, err
}

// Unwrap gives http.ResponseController the rest (Flush, deadlines).
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack hands the client's connection to a WebSocket tunnel, counting
// what the dyno sends through it.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.x.tunnel = &tunnelConn{Conn: c}
	return w.x.tunnel, brw, nil
}

// tunnelConn is the client's connection in a WebSocket tunnel.
type tunnelConn struct {
	net.Conn
	n atomic.Int64 // bytes written to the client
}

func (c *tunnelConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *tunnelConn) CloseWrite() error { return closeWrite(c.Conn) }

// errIdle ends a response whose dyno sent nothing for IdleTimeout (H15).
var errIdle = errors.New("router: the dyno sent nothing for too long")

// dynoBody is the dyno's response body on its way to the client. It counts
// the bytes, and ends the exchange when the dyno sends nothing for
// IdleTimeout while the router waits on it (not while the client is slow
// to take what came).
type dynoBody struct {
	io.ReadCloser
	cancel      context.CancelCauseFunc // the request to the dyno
	idleTimeout time.Duration
	timer       *time.Timer
	idle        atomic.Bool
	n           int64
}

func (b *dynoBody) Read(p []byte) (int, error) {
	if b.timer == nil {
		b.timer = time.AfterFunc(b.idleTimeout, b.expire)
	} else {
		b.timer.Reset(b.idleTimeout)
	}
	n, err := b.ReadCloser.Read(p)
	b.timer.Stop()
	b.n += int64(n)
	return n, err
}

func (b *dynoBody) expire() {
	b.idle.Store(true)
	b.cancel(errIdle)
}

func (b *dynoBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	return b.ReadCloser.Close()
}
