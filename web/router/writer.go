package router

import (
	"bufio"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// fastWriter is the http.ResponseWriter of a request the router read
// itself (see server.go). It writes HTTP/1.1 the way net/http does for the
// router's responses: the handler's fields (nil ones left out), Date if
// there is none, the body framed by the handler's Content-Length or else
// chunked, interim (1xx) responses at once, trailers declared in Trailer.
type fastWriter struct {
	fc      *fastConn
	h       http.Header
	status  int
	started bool  // the head is in the buffer
	noBody  bool  // HEAD, or a status without body
	chunked bool  // the body goes out chunked
	length  int64 // the handler's Content-Length, -1 if none
	written int64 // body bytes written
	err     error // the first error writing to the client
	done    bool  // finish ran
	reuse   bool  // what finish reported
}

func (w *fastWriter) reset() {
	if w.h == nil {
		w.h = make(http.Header, 16)
	} else {
		clear(w.h)
	}
	w.status, w.started, w.noBody, w.chunked, w.length, w.written, w.err = 0, false, false, false, -1, 0, nil
	w.done, w.reuse = false, false
}

func (w *fastWriter) Header() http.Header { return w.h }

func (w *fastWriter) WriteHeader(code int) {
	if w.started || w.status != 0 || w.fc.hijacked {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		bw := w.fc.bw
		writeStatusLine(bw, code)
		w.writeFields(bw, w.h, false)
		w.length = -1
		bw.WriteString("\r\n")
		w.flush()
		return
	}
	w.status = code
	// The head goes into the buffer now, so that the header map's values,
	// shared with the dyno connection's response (response.go), are not
	// needed once the connection is back in the pool.
	w.start(false)
}

// start writes the head from the header map. done: the handler has
// returned without a body.
func (w *fastWriter) start(done bool) {
	w.begin()
	date := w.writeFields(w.fc.bw, w.h, false)
	w.frame(date, done)
}

// startDyno writes the head of a dyno's response straight from the
// response's fields, as copyResponseHeader would pass them on, without
// filling the header map.
func (w *fastWriter) startDyno(res *http.Response) {
	w.status = res.StatusCode
	w.begin()
	bw := w.fc.bw
	date := w.writeFields(bw, res.Header, true)
	bw.WriteString("Via: ")
	if prior := res.Header["Via"]; prior != nil {
		bw.WriteString(appendVia(prior))
	} else {
		bw.WriteString(via)
	}
	bw.WriteString("\r\n")
	w.frame(date, false)
}

func (w *fastWriter) begin() {
	w.started = true
	if w.status == 0 {
		w.status = http.StatusOK
	}
	writeStatusLine(w.fc.bw, w.status)
}

// frame ends the head with Date if the fields had none, the body's
// framing and Connection.
func (w *fastWriter) frame(date, done bool) {
	bw := w.fc.bw
	if !date {
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	switch {
	case w.fc.req.Method == "HEAD" || w.status == http.StatusNoContent || w.status == http.StatusNotModified:
		w.noBody = true
	case w.length >= 0:
	case done:
		w.length = 0
		bw.WriteString("Content-Length: 0\r\n")
	default:
		w.chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if w.fc.close {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
}

// writeFields writes the fields of h, takes the body's length from
// Content-Length, and reports whether Date was among them. The router
// writes the framing fields itself; a dyno's hop-by-hop fields and Via
// are left out (dyno).
func (w *fastWriter) writeFields(bw *bufio.Writer, h http.Header, dyno bool) (date bool) {
	var conn []string
	if dyno {
		conn = h["Connection"]
	}
	for k, vs := range h {
		switch k {
		case "Transfer-Encoding", "Connection":
			continue
		case "Date":
			date = len(vs) > 0
		case "Content-Length":
			if len(vs) > 0 {
				if n, err := strconv.ParseInt(vs[0], 10, 64); err == nil && n >= 0 {
					w.length = n
				}
			}
		case "Via":
			if dyno {
				continue
			}
		}
		if dyno && hopByHopIn(k, conn) {
			continue
		}
		writeField(bw, k, vs)
	}
	return date
}

func writeStatusLine(bw *bufio.Writer, code int) {
	bw.WriteString("HTTP/1.1 ")
	writeInt(bw, int64(code), 10)
	bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		bw.WriteString(text)
	} else {
		bw.WriteString("status code ")
		writeInt(bw, int64(code), 10)
	}
	bw.WriteString("\r\n")
}

func (w *fastWriter) Write(p []byte) (int, error) {
	if w.fc.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.started {
		w.start(false)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.noBody {
		return len(p), nil
	}
	if w.length >= 0 && w.written+int64(len(p)) > w.length {
		return 0, http.ErrContentLength
	}
	if len(p) == 0 {
		return 0, nil
	}
	bw := w.fc.bw
	if w.chunked {
		writeInt(bw, int64(len(p)), 16)
		bw.WriteString("\r\n")
	}
	n, err := bw.Write(p)
	if w.chunked && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	w.written += int64(n)
	if err != nil {
		w.err = err
	}
	return n, err
}

// Flush sends what is buffered, the head included.
func (w *fastWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *fastWriter) FlushError() error {
	if w.fc.hijacked {
		return http.ErrHijacked
	}
	if !w.started {
		w.start(false)
	}
	return w.flush()
}

func (w *fastWriter) flush() error {
	if w.err == nil {
		w.err = w.fc.bw.Flush()
	}
	return w.err
}

// Hijack hands the client's connection to the handler (a dyno switching
// protocols).
func (w *fastWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	fc := w.fc
	if fc.hijacked {
		return nil, nil, http.ErrHijacked
	}
	fc.stopWatching()
	fc.hijacked = true
	_ = fc.c.SetDeadline(time.Time{})
	return fc.c, bufio.NewReadWriter(fc.br, fc.bw), nil
}

// finish completes the response and reports whether the connection can
// carry another request. relay calls it as soon as a dyno's response is
// complete, so that the client has it before the router's bookkeeping;
// the connection's loop calls it again (then it only reports) once the
// handler has returned.
func (w *fastWriter) finish() bool {
	if w.done {
		return w.reuse
	}
	w.done = true
	if !w.started {
		w.start(true)
	}
	bw := w.fc.bw
	if w.chunked {
		bw.WriteString("0\r\n")
		for _, decl := range w.h["Trailer"] {
			for k := range strings.SplitSeq(decl, ",") {
				k = http.CanonicalHeaderKey(strings.TrimSpace(k))
				writeField(bw, k, w.h[k])
			}
		}
		bw.WriteString("\r\n")
	}
	if w.flush() != nil {
		return false
	}
	// A body shorter than announced leaves the client waiting for the rest.
	w.reuse = w.noBody || w.length < 0 || w.written == w.length
	return w.reuse
}

// writeField writes one header field line per value.
func writeField(bw *bufio.Writer, k string, vs []string) {
	for _, v := range vs {
		bw.WriteString(k)
		bw.WriteString(": ")
		bw.WriteString(v)
		bw.WriteString("\r\n")
	}
}

// writeInt writes n in base into bw's free space, without the heap
// allocation that a number formatted into a local array costs when it is
// passed to bufio.Writer.Write (whose argument escapes).
func writeInt(bw *bufio.Writer, n int64, base int) {
	if bw.Available() < 24 {
		bw.Flush() // an error stays in bw and shows at the next Flush
	}
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, base))
}

// httpDate is the Date field value now, formatted once a second.
func httpDate() string {
	now := time.Now().Unix()
	if d := lastDate.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &dateText{now, time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.text
}

type dateText struct {
	unix int64
	text string
}

var lastDate atomic.Pointer[dateText]
