package router

import "net/http"

// Heroku's request limits.
const (
	maxLineBytes = 8192 // request line, and each header line
	maxHeaders   = 1000
)

// maxHeadBytes is the most a request head can hold within the limits
// (request line plus maxHeaders lines of maxLineBytes, with their CRLFs), so
// net/http never refuses a head Heroku would accept; anything bigger breaks a
// limit anyway, and net/http answers it with 431.
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

// checkLimits reports which limit the request breaks, "" if none.
//
// The lines are measured from what net/http parsed rather than from the raw
// bytes: the request line is exact (net/http accepts single spaces only), a
// header line is "Name: value", exact for the usual one-space form; only
// optional whitespace around a value, which net/http trims, goes uncounted.
// A raw-byte scanner would need its own HTTP framing to know where the next
// request head starts on a keep-alive connection (bodies, chunking), a second
// parser that could disagree with net/http; this costs nothing per byte.
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
