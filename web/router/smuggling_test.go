package router

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// recordingDyno answers every request with its method, path and body, and
// records each request it read whole, with the raw bytes of its head.
type recordingDyno struct {
	Backend
	mu   sync.Mutex
	seen []seenRequest
}

type seenRequest struct {
	path, host, body string
	head             string // as the router sent it
}

func startRecordingDyno(t *testing.T) *recordingDyno {
	d := &recordingDyno{}
	d.Backend = rawBackend(t, "web.1", func(c net.Conn) {
		var raw bytes.Buffer
		br := bufio.NewReader(io.TeeReader(c, &raw))
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return // a body the router broke off: not a request the app got
			}
			head, _, _ := strings.Cut(raw.String(), "\r\n\r\n")
			raw.Reset()
			raw.Write(peekAll(br)) // what is buffered belongs to the next request
			d.mu.Lock()
			d.seen = append(d.seen, seenRequest{req.URL.Path, req.Host, string(body), head})
			d.mu.Unlock()
			echo := fmt.Sprintf("%s %s %q", req.Method, req.URL.Path, body)
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nX-Echo-Path: %s\r\nContent-Length: %d\r\n\r\n%s", req.URL.Path, len(echo), echo)
		}
	})
	return d
}

func peekAll(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}

// requests returns what the dyno got under prefix.
func (d *recordingDyno) requests(prefix string) []seenRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []seenRequest
	for _, s := range d.seen {
		if strings.HasPrefix(s.path, prefix+"/") {
			out = append(out, s)
		}
	}
	return out
}

// Request smuggling and framing: each input below, sent over raw TCP, is
// either refused (an error status, then the connection closes) or reaches
// the dyno as exactly one request, framed one way only; and the dyno never
// gets a request the client did not get an answer to (what a router and a
// server that disagree on where a request ends would do). P is the case's
// own path prefix; a case that the router forwards may carry a request it
// must not hide inside the first one (P/smuggled).
func TestSmugglingCorpus(t *testing.T) {
	t.Parallel()
	d := startRecordingDyno(t)
	rt := startRouter(t, Config{Pool: newPool(Ready, d.Backend)})
	const (
		refused   = "refused"
		forwarded = "forwarded"
		either    = "either" // as net/http reads it; the framing checks below still hold
	)
	bigLine := "X-Big: " + strings.Repeat("b", 8193-len("X-Big: "))
	var many strings.Builder
	for i := range 1001 {
		fmt.Fprintf(&many, "X-H%d: v\r\n", i)
	}
	cases := []struct {
		name, raw string
		want      string // refused, forwarded, or either
		body      string // the body the dyno gets, if forwarded
		closes    bool   // the router closes the connection after answering
	}{
		{"CL.TE", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET {P}/smuggled HTTP/1.1\r\nHost: app.test\r\n\r\n", forwarded, "", true},
		{"TE.CL", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", forwarded, "SMUGGLED", true},
		{"duplicate Content-Length, different", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde", refused, "", true},
		{"duplicate Content-Length, same", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabcGET {P}/next HTTP/1.1\r\nHost: app.test\r\n\r\n", forwarded, "abc", false},
		{"Content-Length list", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3, 3\r\n\r\nabc", refused, "", true},
		{"Content-Length sign", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nContent-Length: +3\r\n\r\nabc", refused, "", true},
		{"Content-Length negative", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nContent-Length: -1\r\n\r\n", refused, "", true},
		{"chunked, identity", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked, identity\r\n\r\n3\r\nabc\r\n0\r\n\r\n", refused, "", true},
		{"identity, chunked", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: identity, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", refused, "", true},
		{"two Transfer-Encodings", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", refused, "", true},
		{"xchunked", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: xchunked\r\nContent-Length: 3\r\n\r\nabc", refused, "", true},
		{"space before colon, Content-Length", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nContent-Length : 3\r\n\r\nabc", refused, "", true},
		{"space before colon, Transfer-Encoding", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", refused, "", true},
		{"obs-fold", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nX-A: one\r\n two\r\nContent-Length: 3\r\n\r\nabc", forwarded, "abc", false},
		{"obs-fold Transfer-Encoding", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding:\r\n chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", forwarded, "abc", true},
		{"bare LF", "POST {P}/a HTTP/1.1\nHost: app.test\nContent-Length: 3\n\nabc", forwarded, "abc", false},
		{"bare LF in chunk sizes", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n", refused, "", true},
		{"NUL in value", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\nX-A: a\x00b\r\n\r\n", refused, "", true},
		{"CR in value", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\nX-A: a\rb\r\n\r\n", refused, "", true},
		{"CR in name", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\nX\rA: b\r\n\r\n", refused, "", true},
		{"absolute form", "GET http://app.test{P}/abs HTTP/1.1\r\nHost: other.test\r\n\r\n", forwarded, "", false},
		{"HTTP/1.0 with Transfer-Encoding", "POST {P}/a HTTP/1.0\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc", forwarded, "abc", true},
		{"malformed chunk size", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", refused, "", true},
		{"chunk size overflow", "POST {P}/a HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n0\r\n\r\n", refused, "", true},
		{"two spaces in request line", "GET  {P}/a HTTP/1.1\r\nHost: app.test\r\n\r\n", refused, "", true},
		{"request line 8193", "GET {P}/" + strings.Repeat("a", 8193-len("GET {P}/ HTTP/1.1")) + " HTTP/1.1\r\nHost: app.test\r\n\r\n", refused, "", true},
		{"header line 8193", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\n" + bigLine + "\r\n\r\n", refused, "", true},
		{"1001 headers", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\n" + many.String() + "\r\n", refused, "", true},
		{"CONNECT", "CONNECT app.test:443 HTTP/1.1\r\nHost: app.test:443\r\n\r\n", refused, "", true},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", refused, "", true},
		{"Host with IPv6", "GET {P}/a HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", forwarded, "", false},
		{"Host with space", "GET {P}/a HTTP/1.1\r\nHost: a b\r\n\r\n", refused, "", true},
		{"Host with bar", "GET {P}/a HTTP/1.1\r\nHost: a|b\r\n\r\n", either, "", false},
		{"control byte in value", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\nX-Bad: a\x01b\r\n\r\n", refused, "", true},
		{"tab in value", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\nX-Tab: a\tb\r\n\r\n", forwarded, "", false},
		{"UTF-8 in value", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\nX-Obs: caf\xc3\xa9\r\n\r\n", forwarded, "", false},
		{"two Content-Length: 0 on GET", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n", forwarded, "", false},
		{"bad byte in method", "G(T {P}/a HTTP/1.1\r\nHost: app.test\r\n\r\n", refused, "", true},
		{"DEL in target", "GET {P}/a\x7f HTTP/1.1\r\nHost: app.test\r\n\r\n", either, "", false},
		{"empty field name", "GET {P}/a HTTP/1.1\r\n: empty\r\nHost: app.test\r\n\r\n", refused, "", true},
		{"HTTP/2 upgrade", "GET {P}/a HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n", forwarded, "", false},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := fmt.Sprintf("/c%d", i)
			raw := strings.ReplaceAll(tc.raw, "{P}/", p+"/")
			c, br := dial(t, rt)
			go io.WriteString(c, raw)
			res, body := readRawResponse(t, br, "POST")
			var got []string // the paths the client got answers for
			switch tc.want {
			case refused:
				if res.StatusCode < 400 {
					t.Fatalf("got %d %q, want it refused", res.StatusCode, body)
				}
			case either:
				if res.StatusCode == 200 {
					got = append(got, res.Header.Get("X-Echo-Path"))
				}
			case forwarded:
				if res.StatusCode != 200 || !strings.HasSuffix(body, fmt.Sprintf(" %q", tc.body)) {
					t.Fatalf("got %d %q, want it forwarded with body %q", res.StatusCode, body, tc.body)
				}
				got = append(got, res.Header.Get("X-Echo-Path"))
			}
			if tc.closes || res.Close {
				if n, err := br.Read(make([]byte, 1)); err == nil {
					t.Errorf("the connection carried %d more bytes, want it closed", n)
				}
			} else {
				// Whatever followed the request is the next request: one
				// more, that closes, ends the exchange.
				fmt.Fprintf(c, "GET %s/last HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n", p)
				for {
					res, err := http.ReadResponse(br, &http.Request{Method: "GET"})
					if err != nil {
						break
					}
					io.Copy(io.Discard, res.Body)
					got = append(got, res.Header.Get("X-Echo-Path"))
				}
			}
			// The dyno got exactly what the client got answers for.
			var seen []string
			for _, s := range d.requests(p) {
				seen = append(seen, s.path)
				lower := strings.ToLower(s.head)
				if strings.Contains(lower, "\r\ncontent-length:") && strings.Contains(lower, "\r\ntransfer-encoding:") {
					t.Errorf("the dyno got a request framed two ways:\n%s", s.head)
				}
			}
			if fmt.Sprint(seen) != fmt.Sprint(got) {
				t.Errorf("the dyno got %q, the client answers for %q", seen, got)
			}
			if tc.want == forwarded && strings.Contains(tc.name, "absolute") && (len(seen) == 0 || d.requests(p)[0].host != "app.test") {
				t.Errorf("absolute form: the dyno got %+v, want Host app.test", d.requests(p))
			}
		})
	}
	rt.logs.waitFor(t, `path="/c22/a"`, "code=H25 ", "status=400 ")
}

// Refused requests are answered within the time a client waits, not
// forwarded, and a malformed chunk size is the client's error (400), not
// a client that went away (499).
func TestMalformedChunkSize(t *testing.T) {
	t.Parallel()
	d := startRecordingDyno(t)
	rt := startRouter(t, Config{Pool: newPool(Ready, d.Backend)})
	c, br := dial(t, rt)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "POST /chunks HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n")
	res, body := readRawResponse(t, br, "POST")
	if res.StatusCode != 400 || !strings.Contains(body, "H25") {
		t.Errorf("got %d %q, want 400 with H25", res.StatusCode, body)
	}
	line := rt.logs.waitFor(t, `path="/chunks"`)
	if !strings.Contains(line, "code=H25 ") || !strings.Contains(line, "status=400 ") {
		t.Errorf("router line %s", line)
	}
}
