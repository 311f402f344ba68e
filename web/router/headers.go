package router

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

const via = "1.1 vegur" // what Heroku's router (vegur) calls itself

// outgoing makes the request for the dyno: a copy of the client's with ctx,
// its header changed in place (the client's is read again only for the log
// line). Hop-by-hop fields, Forwarded and X-Forwarded-Host go no further;
// like Heroku, the router sets X-Forwarded-Proto (http: it serves plain
// HTTP), -Port, X-Request-Start and X-Request-Id (the client's, if valid),
// and appends to X-Forwarded-For and Via. Host and query pass as sent.
func (r *Router) outgoing(in *http.Request, ctx context.Context, x *exchange) *http.Request {
	out := in.WithContext(ctx)
	u := *in.URL
	out.URL, out.RequestURI, out.Close = &u, "", false
	if in.ContentLength == 0 {
		out.Body = nil // the transport may then send it again on a new connection
	}
	h := in.Header
	v := []string{x.fwd, "http", r.forwardedPort(in), strconv.FormatInt(x.start.UnixMilli(), 10),
		x.requestID, appendVia(h["Via"]), x.upgrade} // one allocation for these
	te := hasToken(h["Te"], "trailers")
	dropHopByHop(h, h)
	delete(h, "Forwarded")
	delete(h, "X-Forwarded-Host")
	delete(h, "Expect") // net/http answers "100-continue" when the body is first read
	if te {
		h["Te"] = trailersOnly
	}
	if x.upgrade != "" {
		h["Connection"], h["Upgrade"] = upgradeOnly, v[6:7:7]
	}
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = nil // not Go's
	}
	h["X-Forwarded-For"], h["X-Forwarded-Proto"], h["X-Forwarded-Port"] = v[0:1:1], v[1:2:2], v[2:3:3]
	h["X-Request-Start"], h["X-Request-Id"], h["Via"] = v[3:4:4], v[4:5:5], v[5:6:6]
	return out
}

// dropHopByHop deletes from h the hop-by-hop fields of head: those it
// names in Connection, and the usual ones.
func dropHopByHop(h, head http.Header) {
	for _, f := range head["Connection"] {
		for name := range strings.SplitSeq(f, ",") {
			delete(h, textproto.CanonicalMIMEHeaderKey(textproto.TrimString(name)))
		}
	}
	for _, name := range hopByHop {
		delete(h, name)
	}
}

var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// Shared values (the transport only reads them).
var trailersOnly, upgradeOnly = []string{"trailers"}, []string{"Upgrade"}

// upgradeType is the protocol a request asks to switch to, if any.
func upgradeType(h http.Header) string {
	if !hasToken(h["Connection"], "upgrade") {
		return ""
	}
	return h.Get("Upgrade")
}

func hasToken(values []string, token string) bool {
	for _, v := range values {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), token) {
				return true
			}
		}
	}
	return false
}

// forwardedFor is the client's X-Forwarded-For with its address appended.
func forwardedFor(r *http.Request) string {
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
		return strings.Join(prior, ", ") + ", " + ip
	}
	return ip
}

// forwardedPort is the public port: configured, else the listener's.
func (r *Router) forwardedPort(req *http.Request) string {
	if r.port != "" {
		return r.port
	}
	if a, ok := req.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return strconv.Itoa(a.Port)
	}
	return "80"
}

func appendVia(prior []string) string {
	if len(prior) == 0 {
		return via
	}
	return strings.Join(prior, ", ") + ", " + via
}

// requestID keeps the client's X-Request-Id when Heroku would (20 to 200
// characters of [A-Za-z0-9+=/-]) and makes a new UUID otherwise.
func requestID(h http.Header) string {
	if v := h["X-Request-Id"]; len(v) > 0 && validRequestID(v[0]) {
		return v[0]
	}
	return newUUID()
}

func validRequestID(s string) bool {
	if len(s) < 20 || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '+', c == '=', c == '/':
		default:
			return false
		}
	}
	return true
}

// newUUID returns a random (version 4, RFC 9562) UUID: unique, not secret,
// so from math/rand/v2 (ChaCha8, a few ns) rather than crypto/rand (~100).
func newUUID() string {
	var u [16]byte
	binary.LittleEndian.PutUint64(u[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(u[8:], rand.Uint64())
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10
	var b [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b[j] = '-'
			j++
		}
		b[j], b[j+1] = hexDigits[c>>4], hexDigits[c&0xf]
		j += 2
	}
	return string(b[:])
}
