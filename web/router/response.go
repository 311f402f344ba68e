package router

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strconv"
)

// dynoResponse is a dynoConn's reusable response: the head of a usual
// response is parsed into it instead of through http.ReadResponse, which
// allocates a reader, a header map and a slice per field on every response.
type dynoResponse struct {
	res    http.Response
	header http.Header
	vals   []string
	fields []field
	body   lengthBody
}

// readResponse reads the response head the dyno has sent on c. A usual
// head, entirely in the buffer, is parsed here; any other goes to
// http.ReadResponse: 1xx and 101, a body framed otherwise than by one
// Content-Length (chunked, up to the close), HTTP/1.0, anything odd.
func readResponse(c *dynoConn, req *http.Request) (*http.Response, error) {
	if res := c.resp.parse(c.br, req); res != nil {
		return res, nil
	}
	return http.ReadResponse(c.br, req)
}

// parse returns the response, nil if http.ReadResponse should read it. The
// head is consumed only on success.
func (d *dynoResponse) parse(br *bufio.Reader, req *http.Request) *http.Response {
	buf, _ := br.Peek(br.Buffered())
	end, odd := headEnd(buf)
	if end == 0 || odd {
		return nil
	}
	b := buf[:end]

	// Status line: HTTP/1.1 SP 3DIGIT SP reason CRLF
	eol := bytes.IndexByte(b, '\n') - 1
	if eol < 12 || string(b[:9]) != "HTTP/1.1 " || b[12] != ' ' {
		return nil
	}
	code := 0
	for _, c := range b[9:12] {
		if c < '0' || c > '9' {
			return nil
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 {
		return nil
	}
	for _, c := range b[13:eol] {
		if badValueChars[c] {
			return nil
		}
	}
	fields, ok := scanFields(b, eol+2, d.fields[:0], maxFastFields)
	d.fields = fields
	if !ok {
		return nil
	}

	if d.header == nil {
		d.header = make(http.Header, 8)
	} else {
		clear(d.header)
	}
	h := d.header
	vals := d.vals[:0]
	s := string(b)
	for _, f := range fields {
		k, v := f.name(s), s[f.v0:f.v1]
		vals = addValue(h, vals, k, v)
	}
	d.vals = vals

	if h["Transfer-Encoding"] != nil || h["Trailer"] != nil {
		return nil
	}
	length := int64(-1)
	if cl := h["Content-Length"]; len(cl) == 1 {
		v, err := strconv.ParseUint(cl[0], 10, 63)
		if err != nil {
			return nil
		}
		length = int64(v)
	} else if len(cl) > 1 {
		return nil
	}
	noBody := req.Method == "HEAD" || code == http.StatusNoContent || code == http.StatusNotModified
	if length < 0 && !noBody {
		return nil // read up to the close
	}

	br.Discard(end)
	res := &d.res
	*res = http.Response{
		Status:     s[9:eol],
		StatusCode: code,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Request:    req,
		Close:      hasToken(h["Connection"], "close"),
	}
	switch {
	case noBody:
		res.Body = http.NoBody
		if req.Method == "HEAD" {
			res.ContentLength = length
		}
	case length == 0:
		res.Body = http.NoBody
	default:
		res.ContentLength = length
		d.body = lengthBody{br: br, n: length}
		res.Body = &d.body
	}
	return res
}

// lengthBody reads a body of known length.
type lengthBody struct {
	br *bufio.Reader
	n  int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.br.Read(p)
	b.n -= int64(n)
	switch {
	case err == io.EOF:
		return n, io.ErrUnexpectedEOF // the dyno closed before the end
	case b.n == 0 && err == nil:
		return n, io.EOF
	}
	return n, err
}

func (b *lengthBody) Close() error { return nil }
