package router

import (
	"bufio"
	"encoding/binary"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
)

const via = "1.1 vegur" // what Heroku's router (vegur) calls itself

// writeRequestHead writes the request head for the dyno: the client's
// request line and header, less hop-by-hop fields, plus Heroku's headers
// and the body's framing.
func writeRequestHead(bw *bufio.Writer, req *http.Request, x *exchange, port string, up *upload) {
	target := req.RequestURI
	if !strings.HasPrefix(target, "/") && target != "*" {
		target = req.URL.RequestURI() // absolute form from a client that thinks we are a proxy
	}
	bw.WriteString(req.Method)
	bw.WriteByte(' ')
	bw.WriteString(target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(req.Host)
	bw.WriteString("\r\n")
	for k, vs := range req.Header {
		if routerSets(k) || hopByHop(k, req.Header) {
			continue
		}
		writeField(bw, k, vs)
	}

	bw.WriteString("X-Forwarded-For: ")
	bw.WriteString(x.fwd)
	bw.WriteString("\r\nX-Forwarded-Proto: ")
	bw.WriteString(forwardedProto(req))
	bw.WriteString("\r\nX-Forwarded-Port: ")
	bw.WriteString(port)
	bw.WriteString("\r\nX-Request-Start: ")
	writeInt(bw, x.start.UnixMilli(), 10)
	bw.WriteString("\r\nX-Request-Id: ")
	bw.WriteString(x.requestID)
	bw.WriteString("\r\nVia: ")
	bw.WriteString(appendVia(req.Header["Via"]))
	bw.WriteString("\r\n")

	if up := upgradeType(req.Header); up != "" {
		bw.WriteString("Connection: Upgrade\r\nUpgrade: ")
		bw.WriteString(up)
		bw.WriteString("\r\n")
	}
	if hasToken(req.Header["Te"], "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	switch {
	case up != nil && up.chunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(req.Trailer) > 0 {
			keys := make([]string, 0, len(req.Trailer))
			for k := range req.Trailer {
				keys = append(keys, k)
			}
			bw.WriteString("Trailer: " + strings.Join(keys, ", ") + "\r\n")
		}
	case up != nil:
		bw.WriteString("Content-Length: ")
		writeInt(bw, req.ContentLength, 10)
		bw.WriteString("\r\n")
	case req.Header["Content-Length"] != nil || req.Method == "POST" || req.Method == "PUT" || req.Method == "PATCH":
		bw.WriteString("Content-Length: 0\r\n")
	}
	bw.WriteString("\r\n")
}

// routerSets reports the request fields the router writes itself. Like
// Heroku, it overwrites the client's X-Forwarded-Proto, -Port,
// X-Request-Start and an invalid X-Request-Id; X-Forwarded-For and Via are
// appended to. It answers "Expect: 100-continue" itself (net/http sends
// 100 when the body is first read).
func routerSets(k string) bool {
	switch k {
	case "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Request-Start", "X-Request-Id",
		"Via", "Expect", "Content-Length":
		return true
	}
	return false
}

// hopByHop reports fields that belong to one connection, not the message
// (RFC 9110 7.6.1): the usual ones and those named in Connection.
func hopByHop(k string, h http.Header) bool { return hopByHopIn(k, h["Connection"]) }

// hopByHopIn is hopByHop with the Connection field's values at hand.
func hopByHopIn(k string, conn []string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return conn != nil && hasToken(conn, k)
}

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

func forwardedProto(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// forwardedPort is the public port: configured, else the listener's.
func (r *Router) forwardedPort(req *http.Request) string {
	if r.port != "" {
		return r.port
	}
	if a, ok := req.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			return p
		}
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

// newUUID returns a random (version 4, RFC 9562) UUID. A request ID needs
// to be unique, not secret: math/rand/v2's generator (ChaCha8, seeded by
// the system) costs a few ns where crypto/rand costs about 100.
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
