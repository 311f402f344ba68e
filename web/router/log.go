package router

import (
	"bytes"
	"net"
	"net/http"
	"strconv"
	"time"
)

// logLine formats Heroku's router line for one request:
//
//	at=info method=GET path="/" host=… request_id=… fwd="…" dyno=web.1 connect=0ms service=3ms status=200 bytes=13 protocol=http
//	at=error code=H12 desc="Request timeout" method=… dyno=web.1 connect=0ms service=30000ms status=503 bytes=0 protocol=http
//
// As on Heroku, dyno, connect, service and bytes are empty when no dyno was
// reached (H10, H14, H20), service and bytes when none could be connected to
// (H19, H21). connect runs from the request's arrival to a connection
// (waiting for a boot and retries included), service from there to the end.
func logLine(x *exchange, r *http.Request, status int, end time.Time) string {
	b := make([]byte, 0, 256)
	if x.code != none {
		c := codes[x.code]
		if c.sock != "" {
			b = append(b, "sock="...)
			b = append(b, c.sock...)
			b = append(b, ' ')
		}
		b = append(b, "at="...)
		b = append(b, c.level...)
		b = append(b, " code="...)
		b = append(b, c.name...)
		b = append(b, ` desc="`...)
		b = append(b, c.desc...)
		if x.detail != "" {
			b = append(b, ": "...)
			b = append(b, x.detail...)
		}
		b = append(b, `" `...)
	} else {
		b = append(b, "at=info "...)
	}
	b = append(b, "method="...)
	b = append(b, r.Method...)
	b = append(b, " path="...)
	b = appendEscaped(b, r.RequestURI, true)
	b = append(b, " host="...)
	b = appendEscaped(b, r.Host, false)
	b = append(b, " request_id="...)
	b = append(b, x.requestID...)
	b = append(b, " fwd="...)
	b = appendEscaped(b, x.fwd, true)
	b = append(b, " dyno="...)
	if x.up != nil {
		b = append(b, x.up.Dyno...)
	}
	b = append(b, " connect="...)
	switch {
	case !x.connected.IsZero():
		b = appendMillis(b, x.connected.Sub(x.start))
	case !x.failed.IsZero():
		b = appendMillis(b, x.failed.Sub(x.start))
	}
	b = append(b, " service="...)
	if !x.connected.IsZero() {
		b = appendMillis(b, end.Sub(x.connected))
	}
	b = append(b, " status="...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, " bytes="...)
	if !x.connected.IsZero() {
		b = strconv.AppendInt(b, x.body.n, 10)
	}
	b = append(b, " protocol=http"...) // see rewrite
	return string(b)
}

// refusedLine is the router line for a request net/http answered itself,
// before routing it; answer is what it wrote, its status line first.
func refusedLine(client net.Addr, answer []byte) string {
	line, _, _ := bytes.Cut(answer, []byte("\r\n"))
	_, line, _ = bytes.Cut(line, []byte(" ")) // after "HTTP/1.1"
	code, text, _ := bytes.Cut(line, []byte(" "))
	status, _ := strconv.Atoi(string(code))
	ip, _, _ := net.SplitHostPort(client.String())
	x := &exchange{code: h25, detail: string(text), requestID: newUUID(), fwd: ip}
	return logLine(x, &http.Request{}, status, time.Now())
}

func appendMillis(b []byte, d time.Duration) []byte {
	b = strconv.AppendInt(b, d.Milliseconds(), 10)
	return append(b, "ms"...)
}

// appendEscaped writes s escaping what would break the line's key=value
// shape: quotes, backslashes, control bytes, spaces in a bare value (host).
func appendEscaped(b []byte, s string, quoted bool) []byte {
	if quoted {
		b = append(b, '"')
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && (c == '"' || c == '\\'):
			b = append(b, '\\', c)
		case c < 0x20 || c == 0x7f || !quoted && (c == ' ' || c == '"' || c == '\\'):
			b = append(b, `\x`...)
			b = append(b, hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	if quoted {
		b = append(b, '"')
	}
	return b
}

const hexDigits = "0123456789abcdef"
