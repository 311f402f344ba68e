package router

import (
	"bufio"
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
	if prior := res.Header["Via"]; prior != nil {
		res.Header["Via"] = []string{appendVia(prior)}
	} else {
		res.Header["Via"] = viaOnly
	}
	if res.StatusCode == http.StatusSwitchingProtocols && upgradeType(x.req.Header) == "" {
		x.status = 0
		x.refuse(h25bad, "protocol switch not asked for")
		return errUnaskedSwitch
	}
	return nil
}

// viaOnly is the Via of a response that had none (shared: the proxy copies).
var viaOnly = []string{via}

// proxyError answers a request the proxy could not pass on.
func (r *Router) proxyError(w http.ResponseWriter, req *http.Request, err error) {
	x := exchangeOf(req)
	if x.code == none { // a switch to another protocol than the client asked for
		x.refuse(h25bad, "protocol switch not as asked")
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

// dynoBody is the dyno's response body on its way to the client. It counts
// the bytes, and ends the exchange (closing the dyno's connection) when the
// dyno sends nothing for IdleTimeout while the router waits on it, not
// while the client is slow to take what came (H15). One timer per
// response, moved only when it fires: reads are many.
type dynoBody struct {
	io.ReadCloser
	conn        *dynoConn
	idleTimeout time.Duration
	timer       *time.Timer
	waiting     atomic.Int64 // since when a read waits (Unix ns); 0: none, -1: closed
	idle        atomic.Bool
	n           int64
}

func (b *dynoBody) Read(p []byte) (int, error) {
	if b.timer == nil {
		b.timer = time.AfterFunc(time.Hour, b.check)
		b.timer.Reset(b.idleTimeout) // check sees b.timer set
	}
	b.waiting.Store(time.Now().UnixNano())
	n, err := b.ReadCloser.Read(p)
	b.waiting.Store(0)
	b.n += int64(n)
	return n, err
}

func (b *dynoBody) check() {
	since := b.waiting.Load()
	left := b.idleTimeout
	switch {
	case since < 0:
		return
	case since > 0:
		left -= time.Since(time.Unix(0, since))
	}
	if left > 0 {
		b.timer.Reset(left)
		return
	}
	b.idle.Store(true)
	if b.conn != nil {
		b.conn.Close()
	}
}

func (b *dynoBody) Close() error {
	b.waiting.Store(-1)
	if b.timer != nil {
		b.timer.Stop()
	}
	return b.ReadCloser.Close()
}
