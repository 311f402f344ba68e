package router

import (
	"context"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"slices"
	"strings"
	"time"
)

// relay passes the dyno's response on: its head without hop-by-hop fields
// and with the router's Via, its body (flushed at every write for streams:
// no length, or SSE; else as net/http's buffer fills, as nginx does), its
// trailers. A body cut short aborts the response (finish logs why).
func (r *Router) relay(w *responseWriter, res *http.Response, x *exchange) {
	defer res.Body.Close()
	x.status = res.StatusCode
	if res.StatusCode == http.StatusSwitchingProtocols {
		r.tunnel(w, res, x)
		return
	}
	h := w.Header()
	maps.Copy(h, res.Header) // values shared: neither side changes them
	dropHopByHop(h, res.Header)
	setVia(h, res.Header["Via"])
	if len(res.Trailer) > 0 {
		h["Trailer"] = []string{strings.Join(slices.Collect(maps.Keys(res.Trailer)), ", ")}
	}
	w.WriteHeader(res.StatusCode)
	ct, _, _ := strings.Cut(res.Header.Get("Content-Type"), ";")
	stream := res.ContentLength == -1 || strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
	flusher, _ := w.ResponseWriter.(http.Flusher)
	buf := buffers.Get().(*[32 << 10]byte)
	defer buffers.Put(buf)
	for {
		n, err := res.Body.Read(buf[:])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				panic(http.ErrAbortHandler)
			}
			if stream && flusher != nil {
				flusher.Flush()
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(http.ErrAbortHandler) // net/http drops the connection
		}
	}
	res.Body.Close() // which sets res.Trailer
	for k, v := range res.Trailer {
		h[http.TrailerPrefix+k] = v
		_ = http.NewResponseController(w).Flush() // chunked, not a length: the trailers need it
	}
}

func setVia(h http.Header, prior []string) {
	if prior != nil {
		h["Via"] = []string{appendVia(prior)}
	} else {
		h["Via"] = viaOnly
	}
}

// viaOnly is the Via of a response that had none (shared: read only).
var viaOnly = []string{via}

// tunnel relays a protocol switch the client asked for (a WebSocket): the
// 101, then bytes both ways, each direction half-closed at its end, until
// both ended, one failed or the router shuts down. Another switch is
// refused: the client's connection would be tied to a dyno not speaking HTTP.
func (r *Router) tunnel(w *responseWriter, res *http.Response, x *exchange) {
	dyno, ok := res.Body.(io.ReadWriteCloser)
	if !ok || x.upgrade == "" || !strings.EqualFold(upgradeType(res.Header), x.upgrade) {
		why := "protocol switch not as asked"
		if x.upgrade == "" {
			why = "protocol switch not asked for"
		}
		x.refuse(h25bad, why)
		writeErrorPage(w, x.code, x.detail, x.requestID)
		return
	}
	defer dyno.Close()
	defer context.AfterFunc(res.Request.Context(), func() { dyno.Close() })()
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		x.fail(h27)
		return
	}
	defer c.Close()
	setVia(res.Header, res.Header["Via"])
	res.Body = nil // the head only
	if res.Write(brw) != nil || brw.Flush() != nil {
		x.fail(h27)
		return
	}
	done := make(chan error, 2)
	pipe := func(to io.Writer, from io.Reader, n *int64) {
		m, err := io.Copy(to, from)
		if cw, ok := to.(interface{ CloseWrite() error }); !ok && err == nil {
			err = io.EOF // the transport's side cannot half-close: the tunnel ends
		} else if err == nil {
			err = cw.CloseWrite()
		}
		*n = m
		done <- err
	}
	go pipe(dyno, c, new(int64))
	go pipe(c, dyno, &x.body.n) // what the dyno sent, for the router line
	if <-done != nil {
		c.Close()
		dyno.Close()
	}
	<-done
}

// got1xx passes an informational response (103 Early Hints) on, unless
// the final answer is already on its way.
func (x *exchange) got1xx(code int, header textproto.MIMEHeader) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.answered {
		h := x.w.Header()
		maps.Copy(h, http.Header(header))
		x.w.ResponseWriter.WriteHeader(code)
		clear(h) // net/http keeps them for the final response otherwise
	}
	return nil
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

// dynoBody is the dyno's response body on its way to the client: it counts
// the bytes and tells its connection when a read waits (H15, see check).
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

// check closes c when a response's read has waited on the dyno for
// IdleTimeout, not while the client is slow to take what came (H15). One
// timer per connection, moved only when it fires, not one per response.
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
