package router

import (
	"io"
	"net/http"
	"sync/atomic"
	"time"
)

// upload sends the client's request body to a dyno on a goroutine of its
// own, so that the dyno can answer while the body still streams in (full
// duplex, as with a direct connection). What it records tells H18 (the dyno
// hung up mid-request) from H13 and H27.
type upload struct {
	req      *http.Request
	rc       *http.ResponseController // the client's side, to unblock a read
	chunked  bool
	state    atomic.Int32
	complete atomic.Bool   // all of the body was written to the dyno
	done     chan struct{} // closed when the goroutine ends; nil until started
}

const (
	uploadReading      = iota // reading the client's body
	uploadDrained             // read to the end
	uploadClientFailed        // the client's body broke off
	uploadStopped             // stopped by the router
)

// newUpload is nil for a request without body.
func newUpload(w http.ResponseWriter, req *http.Request) *upload {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
		return nil
	}
	rc := http.NewResponseController(w)
	// Let the dyno answer while the body still streams in: net/http would
	// otherwise swallow the unread body before the response.
	_ = rc.EnableFullDuplex()
	return &upload{req: req, rc: rc, chunked: req.ContentLength < 0}
}

func (u *upload) started() bool      { return u != nil && u.done != nil }
func (u *upload) sent() bool         { return u == nil || u.complete.Load() }
func (u *upload) clientFailed() bool { return u != nil && u.state.Load() == uploadClientFailed }

// start copies the body to c; sent is called when all of it is written.
func (u *upload) start(c *dynoConn, sent func()) {
	u.done = make(chan struct{})
	go func() {
		defer close(u.done)
		if u.copy(c) {
			sent()
		}
	}()
}

// copy reports whether all of the body was written to the dyno.
func (u *upload) copy(c *dynoConn) bool {
	buf := getBuffer()
	defer putBuffer(buf)
	for {
		n, rerr := u.req.Body.Read(buf[:])
		if rerr == io.EOF {
			// Before anything else: stop must not touch the client's
			// connection once its body has been read.
			u.state.CompareAndSwap(uploadReading, uploadDrained)
		}
		if n > 0 && u.write(c, buf[:n]) != nil {
			return false // stop unblocks the client's side if need be
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if u.state.CompareAndSwap(uploadReading, uploadClientFailed) {
				c.abort() // the exchange is over: wake the response reader
			}
			return false
		}
	}
	if u.chunked {
		c.bw.WriteString("0\r\n")
		for k, vs := range u.req.Trailer { // filled in at the end of the body
			writeField(c.bw, k, vs)
		}
		c.bw.WriteString("\r\n")
	}
	if c.bw.Flush() != nil {
		return false
	}
	u.complete.Store(true)
	return true
}

// write sends one piece of the body, as a chunk if need be, and flushes:
// an upload streams.
func (u *upload) write(c *dynoConn, p []byte) error {
	if u.chunked {
		writeInt(c.bw, int64(len(p)), 16)
		c.bw.WriteString("\r\n")
		c.bw.Write(p)
		c.bw.WriteString("\r\n")
	} else {
		c.bw.Write(p)
	}
	return c.bw.Flush()
}

// settle is called once the response is complete. It reports whether c can
// carry another request as far as the upload goes: the client's body was
// read to its end and all of it reached the dyno. A dyno that has stopped
// reading is not waited for.
func (u *upload) settle(c *dynoConn) bool {
	if !u.started() {
		return true
	}
	if u.state.Load() == uploadReading {
		return false // the client is still sending: the caller closes c and stops
	}
	_ = c.SetWriteDeadline(time.Now())
	<-u.done
	_ = c.SetWriteDeadline(time.Time{})
	return u.complete.Load()
}

// stop ends an upload and waits for its goroutine. A write to the dyno
// ends when the caller closes the dyno's connection (first); a read from
// the client ends here with the client's read deadline, which stays past:
// the rest of the body is not wanted, net/http then closes the client's
// connection after the response instead of reading on.
func (u *upload) stop() {
	if !u.started() {
		return
	}
	if u.state.CompareAndSwap(uploadReading, uploadStopped) {
		_ = u.rc.SetReadDeadline(aLongTimeAgo)
	}
	<-u.done
}
