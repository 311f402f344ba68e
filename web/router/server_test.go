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
	"strings"
	"testing"
	"time"
)

// echoPath is a dyno that answers with the request's method, target and
// a few of its fields.
func echoPath() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%s %s x-a=%q body=%d", r.Method, r.RequestURI, r.Header.Values("X-A"), n)
	})
}

// dial opens a raw connection to the router.
func dial(t *testing.T, rt *testRouter) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", rt.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c, bufio.NewReader(c)
}

// readResponse reads one response and its body off a raw connection.
func readRawResponse(t *testing.T, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	res, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// Requests pipelined on one connection are answered in order, each with
// its router line, also when the first keeps the dyno busy for a while.
func TestPipelined(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(60 * time.Millisecond) // a slow app, with the next request already buffered
		}
		io.WriteString(w, r.URL.Path)
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	paths := []string{"/slow", "/one", "/two", "/three"}
	var reqs strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&reqs, "GET %s HTTP/1.1\r\nHost: app.test\r\n\r\n", p)
	}
	if _, err := io.WriteString(c, reqs.String()); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if res, body := readRawResponse(t, br, "GET"); res.StatusCode != 200 || body != p {
			t.Errorf("got %d %q, want 200 %q", res.StatusCode, body, p)
		}
	}
	for _, p := range paths {
		rt.logs.waitFor(t, `path="`+p+`"`, "status=200")
	}
}

// A request head arriving in pieces is read whole.
func TestHeadInPieces(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", echoPath())
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	for _, piece := range []string{"GE", "T /pie", "ces HTTP/1.1\r\nHo", "st: app.test\r\nx-a: 1\r", "\n", "\r\n"} {
		if _, err := io.WriteString(c, piece); err != nil {
			t.Fatal(err)
		}
	}
	if res, body := readRawResponse(t, br, "GET"); res.StatusCode != 200 || body != `GET /pieces x-a=["1"] body=0` {
		t.Errorf("got %d %q", res.StatusCode, body)
	}
}

// Requests of every kind on one connection (a large body between plain
// ones), and less usual ones: HTTP/1.0, a bare-LF head, malformed heads.
func TestUnusualRequests(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum := sha256.New()
		n, _ := io.Copy(sum, r.Body)
		fmt.Fprintf(w, "%s %s %s x-a=%q %d %x", r.Proto, r.Method, r.RequestURI, r.Header.Values("X-A"), n, sum.Sum(nil)[:4])
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})

	// Plain, then a 3 MiB upload (handed over), then plain again.
	c, br := dial(t, rt)
	big := bytes.Repeat([]byte("x"), 3<<20)
	sum := sha256.Sum256(big)
	io.WriteString(c, "GET /first HTTP/1.1\r\nHost: app.test\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
	if _, body := readRawResponse(t, br, "GET"); body != `HTTP/1.1 GET /first x-a=["1" "2"] 0 e3b0c442` {
		t.Errorf("first: %q", body)
	}
	fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: %d\r\n\r\n", len(big))
	go c.Write(big)
	if _, body := readRawResponse(t, br, "POST"); body != fmt.Sprintf("HTTP/1.1 POST /upload x-a=[] %d %x", len(big), sum[:4]) {
		t.Errorf("upload: %q", body)
	}
	io.WriteString(c, "GET /after HTTP/1.1\r\nHost: app.test\r\n\r\n")
	if _, body := readRawResponse(t, br, "GET"); body != `HTTP/1.1 GET /after x-a=[] 0 e3b0c442` {
		t.Errorf("after: %q", body)
	}

	for _, tc := range []struct{ name, req, status, body string }{
		{"HTTP/1.0", "GET /old HTTP/1.0\r\nHost: app.test\r\n\r\n", "200", "HTTP/1.1 GET /old"},
		{"bare LF", "GET /lf HTTP/1.1\nHost: app.test\n\n", "200", "HTTP/1.1 GET /lf"},
		{"absolute form", "GET http://app.test/abs?q=1 HTTP/1.1\r\nHost: app.test\r\n\r\n", "200", "HTTP/1.1 GET /abs?q=1"},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", "400", ""},
		{"bad field name", "GET / HTTP/1.1\r\nHost: app.test\r\nBad Name: 1\r\n\r\n", "400", ""},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n", "400", ""},
		{"chunked POST", "POST /c HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "200", "HTTP/1.1 POST /c x-a=[] 3"},
	} {
		c, br := dial(t, rt)
		io.WriteString(c, tc.req)
		res, body := readRawResponse(t, br, "GET")
		if fmt.Sprint(res.StatusCode) != tc.status || !strings.HasPrefix(body, tc.body) {
			t.Errorf("%s: got %d %q, want %s %q…", tc.name, res.StatusCode, body, tc.status, tc.body)
		}
	}
}

// Connection: close gets its answer, marked so, and the connection ends.
func TestConnectionClose(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", echoPath())
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	io.WriteString(c, "GET /bye HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: app.test\r\n\r\n")
	res, body := readRawResponse(t, br, "GET")
	if !res.Close || body != `GET /bye x-a=[] body=0` {
		t.Errorf("got close=%v %q", res.Close, body)
	}
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("after the response: %d bytes, %v; want EOF", n, err)
	}
}

// A dyno's fields come out in canonical form, framing as the dyno framed.
func TestDynoFieldCase(t *testing.T) {
	t.Parallel()
	b := rawBackend(t, "web.1", func(c net.Conn) {
		br, err := readHead(c)
		for err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-thing:  a b \r\nDate: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\nok")
			_, err = readHeadFrom(br)
		}
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	for range 2 {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
		res, body := readRawResponse(t, br, "GET")
		if body != "ok" || res.Header.Get("X-Thing") != "a b" || res.ContentLength != 2 ||
			res.Header.Get("Date") != "Mon, 02 Jan 2006 15:04:05 GMT" || res.Header.Get("Via") != via {
			t.Errorf("got %q %v", body, res.Header)
		}
	}
}

// A client reading slowly gets the whole response, and the router line
// counts every byte.
func TestSlowClient(t *testing.T) {
	t.Parallel()
	const size = 8 << 20
	chunk := bytes.Repeat([]byte("z"), 64<<10)
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for range size / len(chunk) {
			w.Write(chunk)
		}
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: app.test\r\n\r\n")
	res, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	buf := make([]byte, 16<<10)
	for {
		k, err := res.Body.Read(buf)
		n += int64(k)
		if err != nil {
			break
		}
		if n%(512<<10) < int64(k) {
			time.Sleep(2 * time.Millisecond) // a slow reader: the router waits on the client
		}
	}
	if n != size {
		t.Errorf("got %d bytes, want %d", n, size)
	}
	rt.logs.waitFor(t, `path="/big"`, fmt.Sprintf("status=200 bytes=%d ", size))
}

// Shutdown closes idle keep-alive connections at once instead of waiting.
func TestShutdownIdleKeepAlive(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", echoPath())
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
	readRawResponse(t, br, "GET")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := rt.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v with an idle connection", d)
	}
	if _, err := br.ReadByte(); err == nil {
		t.Error("idle connection still open after Shutdown")
	}
}

// A dyno that answers a request that asked for no upgrade with 101 is not
// given the client's connection: the client gets 502 and the router line
// an H25, and the dyno's connection is closed.
func TestUnaskedSwitch(t *testing.T) {
	t.Parallel()
	dynoClosed := make(chan struct{})
	b := rawBackend(t, "web.1", func(c net.Conn) {
		defer close(dynoClosed)
		if _, err := readHead(c); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		io.Copy(c, c)
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	io.WriteString(c, "GET /switch HTTP/1.1\r\nHost: app.test\r\n\r\n")
	res, body := readRawResponse(t, br, "GET")
	if res.StatusCode != 502 || !strings.Contains(body, "H25") || !res.Close {
		t.Errorf("got %d close=%v %q, want 502 with H25 and the connection closed", res.StatusCode, res.Close, body)
	}
	line := rt.logs.waitFor(t, `path="/switch"`)
	if !strings.Contains(line, "code=H25 ") || !strings.Contains(line, " status=502 ") {
		t.Errorf("router line %s", line)
	}
	io.WriteString(c, "ping")
	if n, err := br.Read(make([]byte, 4)); err == nil {
		t.Errorf("the client's connection carried %d bytes after the 502", n)
	}
	select {
	case <-dynoClosed:
	case <-time.After(5 * time.Second):
		t.Error("the dyno's connection is still open")
	}
}

// A dyno that closes a kept-alive connection right after answering: the
// next request on it, sent at once, goes again on a new connection.
func TestDynoClosesAfterAnswer(t *testing.T) {
	t.Parallel()
	b := rawBackend(t, "web.1", func(c net.Conn) {
		if _, err := readHead(c); err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	for i := range 20 {
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
		if res, body := readRawResponse(t, br, "GET"); res.StatusCode != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q; router lines:\n%s", i, res.StatusCode, body, strings.Join(rt.logs.all(), "\n"))
		}
	}
}

// A pipelined request that arrives while the one before it waits on its
// dyno is served as soon as that one is answered: the router never waits
// for bytes that came in meanwhile (see step).
func TestPipelinedWhileWaiting(t *testing.T) {
	t.Parallel()
	atDyno := make(chan struct{})
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			atDyno <- struct{}{}
			time.Sleep(100 * time.Millisecond) // the dyno is slow to answer
		}
		io.WriteString(w, r.URL.Path)
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	for i := range 5 {
		io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: app.test\r\n\r\n")
		<-atDyno // the first is with the dyno when the second arrives
		io.WriteString(c, "GET /next HTTP/1.1\r\nHost: app.test\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		for _, want := range []string{"/slow", "/next"} {
			if res, body := readRawResponse(t, br, "GET"); res.StatusCode != 200 || body != want {
				t.Fatalf("round %d: got %d %q, want %q", i, res.StatusCode, body, want)
			}
		}
	}
}

// Shutdown whose time is up ends the requests still running (a stream
// that never ends) and returns.
func TestShutdownEndsActiveRequests(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for {
			io.WriteString(w, "tick\n")
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c, br := dial(t, rt)
	io.WriteString(c, "GET /stream HTTP/1.1\r\nHost: app.test\r\n\r\n")
	res, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("got %v, %v", res, err)
	}
	if line, err := bufio.NewReader(res.Body).ReadString('\n'); err != nil || line != "tick\n" {
		t.Fatalf("stream: %q, %v", line, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := rt.Shutdown(ctx); err == nil {
		t.Error("Shutdown reported no error with a stream still running")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.Copy(io.Discard, res.Body); err != nil && isTimeout(err) {
		t.Error("the stream's connection is still open after Shutdown")
	}
}
