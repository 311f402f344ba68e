package router

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// Bodies of known length pass both ways intact, and the connection to the
// dyno is used again afterwards.
func TestPostBody(t *testing.T) {
	t.Parallel()
	conns := make(chan struct{}, 100)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := serveBackend(t, "web.1", l, &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			sum := sha256.New()
			n, _ := io.Copy(sum, r.Body)
			w.Header().Set("X-Length", fmt.Sprint(r.ContentLength))
			fmt.Fprintf(w, "%d %x", n, sum.Sum(nil))
		}),
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns <- struct{}{}
			}
		},
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c := client(t)
	for i, size := range []int{1, 1000, 3 << 20, 0} {
		body := bytes.Repeat([]byte{byte('a' + i)}, size)
		res, err := c.Post(rt.url+"/upload", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if want := fmt.Sprintf("%d %x", size, sha256.Sum256(body)); string(got) != want || res.Header.Get("X-Length") != fmt.Sprint(size) {
			t.Errorf("%d bytes: dyno saw %q (length %s), want %q", size, got, res.Header.Get("X-Length"), want)
		}
	}
	if n := len(conns); n != 1 {
		t.Errorf("%d connections to the dyno, want 1", n)
	}
}

func TestHeadAndNoContent(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "13")
			io.WriteString(w, "Hello, world!")
		}
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c := client(t)
	res, err := c.Head(rt.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.ContentLength != 13 {
		t.Errorf("HEAD: %d, length %d", res.StatusCode, res.ContentLength)
	}
	for _, code := range []int{204, 304} {
		res, body := get(t, c, fmt.Sprintf("%s/%d", rt.url, code))
		if res.StatusCode != code || body != "" {
			t.Errorf("%d: got %d %q", code, res.StatusCode, body)
		}
	}
	// The connection still works after responses without body.
	if res, body := get(t, c, rt.url+"/"); body != "Hello, world!" {
		t.Errorf("after: %d %q", res.StatusCode, body)
	}
}

// The dyno's headers pass as they are: no sniffed Content-Type, trailers
// kept, hop-by-hop fields dropped.
func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Checksum")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Secret", "hop")
		w.Header().Set("Connection", "X-Secret")
		w.Header()["Content-Type"] = nil
		io.WriteString(w, "<html>not sniffed</html>")
		w.Header().Set("X-Checksum", "abc")
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	res, err := client(t).Get(rt.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "<html>not sniffed</html>" {
		t.Errorf("body %q", body)
	}
	if ct, ok := res.Header["Content-Type"]; ok {
		t.Errorf("Content-Type %q added", ct)
	}
	if res.Header.Get("Keep-Alive") != "" || res.Header.Get("X-Secret") != "" {
		t.Errorf("hop-by-hop fields passed: %v", res.Header)
	}
	if got := res.Trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("trailer X-Checksum = %q", got)
	}
}

// A trailer the dyno did not announce, after an empty chunked body, still
// reaches the client: the router must not give the response a length, which
// would leave no room for it.
func TestUnannouncedTrailer(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush() // chunked from here
		w.Header().Set(http.TrailerPrefix+"X-Late", "v")
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	res, body := get(t, client(t), rt.url+"/")
	if body != "" || res.Trailer.Get("X-Late") != "v" {
		t.Errorf("body %q, trailers %v; want the dyno's X-Late", body, res.Trailer)
	}
}

// An informational response (103 Early Hints) reaches the client before
// the final one, with its own fields only.
func TestEarlyHints(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "final")
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	var hints []string
	trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		hints = append(hints, fmt.Sprintf("%d %s", code, h.Get("Link")))
		return nil
	}}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", rt.url+"/", nil)
	res, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if len(hints) != 1 || hints[0] != "103 </app.css>; rel=preload" {
		t.Errorf("informational responses %q, want one 103 with its Link", hints)
	}
	if res.StatusCode != 200 || string(body) != "final" || res.Header.Get("Link") != "" {
		t.Errorf("final response %d %q Link=%q", res.StatusCode, body, res.Header.Get("Link"))
	}
}

// A dyno speaking HTTP/1.0 (length by closing the connection).
func TestHTTP10Dyno(t *testing.T) {
	t.Parallel()
	b := rawBackend(t, "web.1", func(c net.Conn) {
		readHead(c)
		io.WriteString(c, "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nold school")
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c := client(t)
	for range 3 {
		if res, body := get(t, c, rt.url+"/"); res.StatusCode != 200 || body != "old school" {
			t.Errorf("got %d %q", res.StatusCode, body)
		}
	}
}

// A big response streams through without being held.
func TestLargeResponse(t *testing.T) {
	t.Parallel()
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range 256 { // 16 MiB
			w.Write(chunk)
		}
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	res, err := client(t).Get(rt.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil || n != 256*int64(len(chunk)) {
		t.Errorf("got %d bytes, %v", n, err)
	}
	rt.logs.waitFor(t, fmt.Sprintf(" bytes=%d ", n), "at=info ")
}

// The client hangs up in the middle of a streamed response.
func TestH27MidResponse(t *testing.T) {
	t.Parallel()
	gone := make(chan struct{})
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the router closed the dyno's connection
		close(gone)
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", rt.url+"/", nil)
	res, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	io.ReadFull(res.Body, buf)
	cancel()
	res.Body.Close()
	line := rt.logs.waitFor(t, "code=H27 ")
	if !strings.Contains(line, " status=499 bytes=6 ") {
		t.Errorf("router line %s", line)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Error("the dyno's request was not ended")
	}
}

// A dyno that pauses in the middle of its response head or of a chunk: the
// rest still arrives, with no timeout.
func TestDynoPausesMidAnswer(t *testing.T) {
	t.Parallel()
	pause := 100 * time.Millisecond
	cases := map[string][2]string{
		"head":  {"HTTP/1.1 200 OK\r\nContent-", "Length: 5\r\n\r\nhello"},
		"chunk": {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "lo\r\n0\r\n\r\n"},
	}
	for name, parts := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := rawBackend(t, "web.1", func(c net.Conn) {
				br := bufio.NewReader(c)
				for {
					if _, err := readHeadFrom(br); err != nil {
						return
					}
					io.WriteString(c, parts[0])
					time.Sleep(pause)
					io.WriteString(c, parts[1])
				}
			})
			rt := startRouter(t, Config{Pool: newPool(Ready, b)})
			c := client(t)
			for range 2 { // a new connection to the dyno, then a kept-alive one
				if res, body := get(t, c, rt.url+"/"); res.StatusCode != 200 || body != "hello" {
					t.Fatalf("got %d %q", res.StatusCode, body)
				}
			}
			rt.logs.waitFor(t, "status=200 bytes=5 ")
		})
	}
}
