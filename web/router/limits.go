package router

import "net/http"

// Heroku's request limits.
const (
	maxLineBytes = 8192 // request line, and each header line
	maxHeaders   = 1000
)

// maxHeadBytes is the most a head can hold within the limits, so net/http
// refuses (431) no head Heroku would accept.
const maxHeadBytes = (maxHeaders + 2) * (maxLineBytes + 2)

// refuse says why the router answers a request itself instead of routing
// it: none if it routes it.
func refuse(r *http.Request) (hcode, string) {
	if r.Method == http.MethodConnect {
		return h25method, "CONNECT is not supported"
	}
	if r.ProtoMajor != 1 {
		return h25proto, r.Proto + " is not supported" // net/http lets "PRI * HTTP/2.0" through
	}
	if why := checkLimits(r); why != "" {
		return h25, why
	}
	return none, ""
}

// checkLimits reports which limit the request breaks, "" if none. Lines are
// measured from what net/http parsed: exact but for the optional whitespace
// around a value, which it trims. Raw bytes would need a second parser (to
// know where a head starts on a kept-alive connection) that could disagree
// with net/http.
func checkLimits(r *http.Request) string {
	if len(r.Method)+1+len(r.RequestURI)+1+len(r.Proto) > maxLineBytes {
		return "request line too long"
	}
	n := 0
	if r.Host != "" {
		n++ // net/http moves Host out of the header map
		if len("Host: ")+len(r.Host) > maxLineBytes {
			return "header line too long"
		}
	}
	if len(r.TransferEncoding) > 0 {
		n++ // and Transfer-Encoding too
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			if len(k)+2+len(v) > maxLineBytes {
				return "header line too long"
			}
		}
		n += len(vs)
	}
	if n > maxHeaders {
		return "too many headers"
	}
	return ""
}
