package router

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// relay passes the dyno's response on to the client, then returns the
// connection to the pool if it can carry another request. A failure after
// the status went out can only cut the response short: it panics with
// http.ErrAbortHandler, which makes net/http drop the client's connection.
func (r *Router) relay(w http.ResponseWriter, req *http.Request, x *exchange, res *http.Response, c *dynoConn, up *upload) {
	h := w.Header()
	x.status = res.StatusCode
	if fw, ok := w.(*fastWriter); ok && len(res.Trailer) == 0 {
		fw.startDyno(res) // the same head, without filling h
	} else {
		copyResponseHeader(h, res.Header)
		if len(res.Trailer) > 0 {
			keys := make([]string, 0, len(res.Trailer))
			for k := range res.Trailer {
				keys = append(keys, k)
			}
			h["Trailer"] = []string{strings.Join(keys, ", ")}
		}
		w.WriteHeader(res.StatusCode)
	}

	code := r.copyBody(w, req, x, res, c)
	if fw, ok := w.(*fastWriter); ok && code == none && len(res.Trailer) == 0 {
		fw.finish() // the response is complete: send it now
	}
	if code == none && len(res.Trailer) > 0 {
		// Flush first: a short body would get a Content-Length, no trailers.
		_ = http.NewResponseController(w).Flush()
		for k, vs := range res.Trailer {
			h[k] = vs
		}
	}
	watched := c.unwatch() // false: the client went away, c is aborted
	if code != none || !watched || res.Close || !up.settle(c) {
		c.Close()
		up.stop()
		if code != none {
			x.fail(code)
			panic(http.ErrAbortHandler)
		}
		return
	}
	x.end = time.Now() // the exchange is over: finish logs this end
	x.up.idle.put(c, x.end)
}

// copyBody streams the response body. Bytes are passed on as soon as the
// next read would wait on the dyno: a stream (SSE, chunks, a slow
// download) arrives as it is produced, a small response leaves in one
// write with its head.
func (r *Router) copyBody(w http.ResponseWriter, req *http.Request, x *exchange, res *http.Response, c *dynoConn) hcode {
	if res.Body == http.NoBody {
		return none
	}
	if b, ok := res.Body.(*lengthBody); ok && int64(c.br.Buffered()) >= b.n {
		// All of it came with the head (a small response): pass it on
		// from the read buffer.
		p, _ := c.br.Peek(int(b.n))
		if _, err := w.Write(p); err != nil {
			return h27
		}
		c.br.Discard(len(p))
		x.bytes += b.n
		b.n = 0
		return none
	}
	flusher, _ := w.(http.Flusher)
	buf := getBuffer()
	defer putBuffer(buf)
	for {
		if c.br.Buffered() == 0 {
			switch {
			case x.fc == nil:
				c.readBy(time.Now().Add(r.cfg.IdleTimeout)) // H15
			case res.ContentLength < 0 || x.bytes < res.ContentLength:
				// Wait here, watching the client if it takes long; Read
				// below then returns what the wait ended with.
				now := time.Now()
				_ = r.awaitDyno(x, c, now, now.Add(r.cfg.IdleTimeout))
			}
		}
		n, err := res.Body.Read(buf[:])
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return h27
			}
			x.bytes += int64(n)
		}
		switch {
		case err == io.EOF:
			return none
		case err != nil && req.Context().Err() != nil:
			return h27
		case err != nil && isTimeout(err):
			return h15
		case err != nil:
			return h18 // the dyno hung up mid-response
		}
		if flusher != nil && c.br.Buffered() == 0 && x.bytes != res.ContentLength {
			flusher.Flush()
		}
	}
}

// copyResponseHeader copies a dyno's response header for the client,
// without hop-by-hop fields, and with the router's Via.
func copyResponseHeader(dst, src http.Header) {
	for k, vs := range src {
		if !hopByHop(k, src) {
			dst[k] = vs
		}
	}
	if prior := src["Via"]; prior != nil {
		dst["Via"] = []string{appendVia(prior)}
	} else {
		dst["Via"] = viaOnly
	}
	if _, ok := src["Content-Type"]; !ok {
		dst["Content-Type"] = nil // net/http would sniff one: pass the dyno's response as it is
	}
}

// viaOnly is the Via field of a response that had none; shared, never
// modified.
var viaOnly = []string{via}

// Copy buffers, recycled.
var buffers = sync.Pool{New: func() any { return new([32 << 10]byte) }}

func getBuffer() *[32 << 10]byte  { return buffers.Get().(*[32 << 10]byte) }
func putBuffer(b *[32 << 10]byte) { buffers.Put(b) }
