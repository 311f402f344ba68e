package router

import (
	"bytes"
	"net/http"
	"net/url"
)

// addValue adds v to h[k]. A first value takes a one-element slice of
// vals, the connection's reused backing array (capped, so that a second
// value copies rather than overwrites its neighbour); it returns vals.
func addValue(h http.Header, vals []string, k, v string) []string {
	if prior, ok := h[k]; ok {
		h[k] = append(prior, v)
		return vals
	}
	vals = append(vals, v)
	h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	return vals
}

func indexLF(b []byte) int { return bytes.IndexByte(b, '\n') }

// field locates one header field in a head: name b[k0:k1], value
// b[v0:v1]; canon: the name is already in canonical form.
type field struct {
	k0, k1, v0, v1 int
	canon          bool
}

// scanFields appends the fields of a head, from pos to its empty line
// (every line ending in CRLF, see headEnd), to fields. It returns false on
// anything net/http's reader would refuse or treat specially: a line
// without name or colon, folding, characters outside a token in a name,
// control characters in a value, more than max fields.
func scanFields(b []byte, pos int, fields []field, max int) ([]field, bool) {
	for {
		end := pos + bytes.IndexByte(b[pos:], '\n') - 1 // the CR
		if end == pos {
			return fields, true // the empty line
		}
		if len(fields) == max {
			return fields, false
		}
		colon := bytes.IndexByte(b[pos:end], ':')
		if colon <= 0 {
			return fields, false
		}
		f := field{k0: pos, k1: pos + colon, canon: true}
		upper := true
		for _, c := range b[f.k0:f.k1] {
			if !isTokenChar(c) {
				return fields, false
			}
			if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
				f.canon = false
			}
			upper = c == '-'
		}
		f.v0, f.v1 = f.k1+1, end
		for f.v0 < f.v1 && (b[f.v0] == ' ' || b[f.v0] == '\t') {
			f.v0++
		}
		for f.v1 > f.v0 && (b[f.v1-1] == ' ' || b[f.v1-1] == '\t') {
			f.v1--
		}
		for _, c := range b[f.v0:f.v1] {
			if badValueChars[c] {
				return fields, false
			}
		}
		fields = append(fields, f)
		pos = end + 2
	}
}

// name is a field's name in canonical form.
func (f field) name(s string) string {
	if f.canon {
		return s[f.k0:f.k1]
	}
	return http.CanonicalHeaderKey(s[f.k0:f.k1])
}

// badValueChars are the control characters net/http refuses in a field
// value (all but HTAB).
var badValueChars = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = c != '\t'
	}
	t[0x7f] = true
	return t
}()

// parse reads a request head (every line ending in CRLF, see headEnd) into
// fc.req. It returns false for anything but a plain request, which
// net/http then reads from the same bytes: not HTTP/1.1, a target not in
// origin form, a body or Expect, an upgrade, obsolete line folding,
// characters net/http refuses, a missing or repeated Host, many fields.
// What net/http would refuse with 400 it still refuses that way, and
// requests breaking the router's limits still get the router's 400 page.
//
// The head is copied once, into a string that the request's strings
// slice.
func (fc *fastConn) parse(b []byte) bool {
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
	fields, ok := scanFields(b, eol+2, fc.fields[:0], maxFastFields)
	fc.fields = fields
	if !ok {
		return false
	}

	s := string(b)
	req, h := &fc.req, fc.header
	clear(h)
	vals := fc.vals[:0]
	req.Host = ""
	host := false
	for _, f := range fields {
		k, v := f.name(s), s[f.v0:f.v1]
		switch k {
		case "Host":
			if host || !validHost(v) {
				return false
			}
			req.Host, host = v, true
			continue
		case "Content-Length":
			if v != "0" || h[k] != nil {
				return false
			}
		case "Transfer-Encoding", "Expect", "Upgrade":
			return false
		}
		vals = addValue(h, vals, k, v)
	}
	fc.vals = vals
	if !host {
		return false
	}
	fc.close = false
	if c := h["Connection"]; c != nil {
		if hasToken(c, "upgrade") {
			return false
		}
		fc.close = hasToken(c, "close")
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

// validHost accepts what net/http accepts in Host (httpguts'
// ValidHostHeader), less the empty value, which goes to net/http.
func validHost(h string) bool {
	if len(h) == 0 {
		return false
	}
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 0x80 || !hostChars[c] {
			return false
		}
	}
	return true
}

var hostChars = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!$%&()*+,-.:;=[']_~" {
		t[c] = true
	}
	return t
}()
