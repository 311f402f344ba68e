package router

import (
	"bytes"
	"net/http"
	"net/url"
)

func indexLF(b []byte) int { return bytes.IndexByte(b, '\n') }

// field locates one header field in fastConn.scratch.
type field struct{ k0, k1, v0, v1 int }

// parse reads a request head (every line ending in CRLF, see headEnd) into
// fc.req. It returns false for anything but a plain request, which
// net/http then reads from the same bytes: not HTTP/1.1, a target not in
// origin form, a body or Expect, an upgrade, obsolete line folding,
// characters net/http refuses, a missing or repeated Host, many fields.
// What net/http would refuse with 400 it still refuses that way, and
// requests breaking the router's limits still get the router's 400 page.
//
// The head is copied once into a string that the request's strings slice;
// field names are canonicalised in the copy first.
func (fc *fastConn) parse(head []byte) bool {
	b := append(fc.scratch[:0], head...)
	fc.scratch = b

	// Request line: METHOD SP /target SP HTTP/1.1 CRLF
	eol := bytes.IndexByte(b, '\n') - 1
	sp1 := bytes.IndexByte(b[:eol], ' ')
	if sp1 <= 0 {
		return false
	}
	for _, c := range b[:sp1] {
		if !isTokenChar(c) {
			return false
		}
	}
	sp2 := sp1 + 1 + bytes.IndexByte(b[sp1+1:eol], ' ')
	if sp2 <= sp1+1 || b[sp1+1] != '/' || string(b[sp2+1:eol]) != "HTTP/1.1" {
		return false
	}
	query := -1
	for i := sp1 + 1; i < sp2; i++ {
		c := b[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		if c == '?' && query < 0 {
			query = i
		}
	}

	// Fields: Name: OWS value OWS CRLF
	fields := fc.fields[:0]
	host := -1
	for pos := eol + 2; ; {
		end := pos + bytes.IndexByte(b[pos:], '\n') - 1 // the CR
		if end == pos {
			break // the empty line
		}
		if len(fields) == maxFastFields {
			return false
		}
		colon := bytes.IndexByte(b[pos:end], ':')
		if colon <= 0 {
			return false // no name, no colon, or a folded line
		}
		k0, k1 := pos, pos+colon
		upper := true
		for i := k0; i < k1; i++ {
			c := b[i]
			if !isTokenChar(c) {
				return false
			}
			switch {
			case upper && 'a' <= c && c <= 'z':
				b[i] = c - ('a' - 'A')
			case !upper && 'A' <= c && c <= 'Z':
				b[i] = c + ('a' - 'A')
			}
			upper = c == '-'
		}
		v0, v1 := k1+1, end
		for v0 < v1 && (b[v0] == ' ' || b[v0] == '\t') {
			v0++
		}
		for v1 > v0 && (b[v1-1] == ' ' || b[v1-1] == '\t') {
			v1--
		}
		for _, c := range b[v0:v1] {
			if c < ' ' && c != '\t' || c == 0x7f {
				return false
			}
		}
		switch string(b[k0:k1]) {
		case "Host":
			if host >= 0 || !validHost(b[v0:v1]) {
				return false
			}
			host = len(fields)
		case "Content-Length":
			if string(b[v0:v1]) != "0" {
				return false
			}
		case "Transfer-Encoding", "Expect", "Upgrade":
			return false
		}
		fields = append(fields, field{k0, k1, v0, v1})
		pos = end + 2
	}
	fc.fields = fields
	if host < 0 {
		return false
	}

	s := string(b)
	req, h := &fc.req, fc.header
	clear(h)
	vals := fc.vals[:0]
	for i, f := range fields {
		k, v := s[f.k0:f.k1], s[f.v0:f.v1]
		if i == host {
			req.Host = v
			continue
		}
		if prior, ok := h[k]; ok {
			h[k] = append(prior, v)
			if k == "Content-Length" {
				return false // repeated
			}
			continue
		}
		vals = append(vals, v)
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	fc.vals = vals
	if c := h["Connection"]; c != nil {
		if hasToken(c, "upgrade") {
			return false
		}
		fc.close = hasToken(c, "close")
	} else {
		fc.close = false
	}

	req.Method = s[:sp1]
	req.RequestURI = s[sp1+1 : sp2]
	fc.url = url.URL{}
	if query < 0 {
		fc.url.Path = req.RequestURI
	} else {
		fc.url.Path, fc.url.RawQuery = s[sp1+1:query], s[query+1:sp2]
	}
	req.URL = &fc.url // not unescaped: the router sends RequestURI on as it is
	req.Header = h
	req.Body = http.NoBody
	req.ContentLength = 0
	req.Close = fc.close
	return true
}

// isTokenChar reports whether c may appear in a method or field name
// (RFC 9110 5.6.2).
func isTokenChar(c byte) bool { return c < 0x80 && tokenChars[c] }

var tokenChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validHost accepts what net/http accepts in Host, less the empty value
// and bytes beyond ASCII, which go to net/http.
func validHost(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	for _, c := range h {
		if c >= 0x80 || !hostChars[c] {
			return false
		}
	}
	return true
}

var hostChars = func() (t [128]bool) {
	for c := range 128 {
		t[c] = isTokenChar(byte(c))
	}
	for _, c := range "()*+,:;=@[]" {
		t[c] = true
	}
	return t
}()
