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

// dynoBody is the dyno's response body on its way to the client: it counts
// the bytes, and tells its connection when a read waits on the dyno (H15,
// see dynoConn.check).
type dynoBody struct {
	io.ReadCloser
	conn *dynoConn
	n    int64
}

func (b *dynoBody) Read(p []byte) (int, error) {
	b.conn.waiting.Store(time.Now().UnixNano()) // set: the transport dials only dynoConns
	n, err := b.ReadCloser.Read(p)
	b.conn.waiting.Store(0)
	b.n += int64(n)
	return n, err
}

// idle says whether the dyno's connection was closed for H15.
func (b *dynoBody) idle() bool { return b.conn != nil && b.conn.idle.Load() }

// check closes c when the dyno has sent nothing for IdleTimeout while a
// response's read waits on it, not while the client is slow to take what
// came (H15). One timer per connection, moved only when it fires, rather
// than one per response: three timer operations and an allocation less.
func (c *dynoConn) check() {
	if c.closed.Load() {
		return
	}
	left := c.idleTimeout
	if since := c.waiting.Load(); since > 0 {
		left -= time.Since(time.Unix(0, since))
	}
	if left > 0 {
		c.timer.Reset(left)
		return
	}
	c.idle.Store(true)
	c.Close()
}
