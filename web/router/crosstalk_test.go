package router

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// oddDyno answers every request with its path, except:
//
//	/extra  a complete response immediately followed by a second one
//	/head   (HEAD) a Content-Length and the body a HEAD must not have
//	/204    204 No Content, then a body and a second response
//	/304    304 Not Modified, then a body
//
// It records the connections on which it sent more than the response.
type oddDyno struct {
	Backend
	mu      sync.Mutex
	tainted map[net.Conn]chan struct{} // closed when the router closes the connection
}

func startOddDyno(t *testing.T) *oddDyno {
	d := &oddDyno{tainted: map[net.Conn]chan struct{}{}}
	d.Backend = rawBackend(t, "web.1", func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				d.closed(c)
				return
			}
			if _, err := readHeadFrom(br); err != nil {
				d.closed(c)
				return
			}
			method, rest, _ := strings.Cut(line, " ")
			path, _, _ := strings.Cut(rest, " ")
			var out string
			switch {
			case path == "/extra":
				out = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" +
					"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot yours"
			case path == "/head" && method == "HEAD":
				out = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot yours"
			case path == "/204":
				out = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot yours"
			case path == "/304":
				out = "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\nnot yours"
			default:
				out = fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(path), path)
			}
			if strings.Contains(out, "not yours") {
				d.mu.Lock()
				if d.tainted[c] == nil {
					d.tainted[c] = make(chan struct{})
				}
				d.mu.Unlock()
			}
			if _, err := io.WriteString(c, out); err != nil {
				d.closed(c)
				return
			}
		}
	})
	return d
}

func (d *oddDyno) closed(c net.Conn) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ch := d.tainted[c]; ch != nil {
		close(ch)
		d.tainted[c] = nil
	}
}

// allClosed waits until the router has closed every connection on which
// the dyno sent more than its response.
func (d *oddDyno) allClosed(t *testing.T) {
	t.Helper()
	d.mu.Lock()
	var open []chan struct{}
	for _, ch := range d.tainted {
		if ch != nil {
			open = append(open, ch)
		}
	}
	d.mu.Unlock()
	for _, ch := range open {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("the router kept a dyno connection that carried bytes after a response")
		}
	}
}

// exchange sends one request on c and reads its answer.
func ask(t *testing.T, c net.Conn, br *bufio.Reader, method, path, proto string) (int, string) {
	t.Helper()
	fmt.Fprintf(c, "%s %s %s\r\nHost: app.test\r\n\r\n", method, path, proto)
	res, body := readRawResponse(t, br, method)
	return res.StatusCode, body
}

// A dyno that sends bytes after a complete response never makes a client
// receive another client's response: each of /extra, /alice and /bob gets
// its own, over HTTP/1.0 (a connection each) and over one kept-alive
// connection, and the dyno connection that carried the extra bytes is
// closed, not used again.
func TestNoCrossTalk(t *testing.T) {
	t.Parallel()
	d := startOddDyno(t)
	rt := startRouter(t, Config{Pool: newPool(Ready, d.Backend)})
	want := func(path string) string {
		switch path {
		case "/extra":
			return "ok"
		case "/head", "/204", "/304":
			return ""
		}
		return path
	}
	sequences := [][][2]string{
		{{"GET", "/extra"}, {"GET", "/alice"}, {"GET", "/bob"}},
		{{"HEAD", "/head"}, {"GET", "/alice"}, {"GET", "/bob"}},
		{{"GET", "/204"}, {"GET", "/alice"}, {"GET", "/bob"}},
		{{"GET", "/304"}, {"GET", "/alice"}, {"GET", "/bob"}},
		{{"GET", "/extra"}, {"GET", "/extra"}, {"HEAD", "/head"}, {"GET", "/carol"}},
	}
	for _, seq := range sequences {
		// HTTP/1.0: a connection per request.
		for _, m := range seq {
			c, br := dial(t, rt)
			if status, body := ask(t, c, br, m[0], m[1], "HTTP/1.0"); status/100 != 2 && status != 304 || body != want(m[1]) {
				t.Errorf("HTTP/1.0 %s %s: got %d %q, want %q", m[0], m[1], status, body, want(m[1]))
			}
			c.Close()
		}
		// Keep-alive: one connection for the sequence.
		c, br := dial(t, rt)
		for _, m := range seq {
			if status, body := ask(t, c, br, m[0], m[1], "HTTP/1.1"); status/100 != 2 && status != 304 || body != want(m[1]) {
				t.Errorf("keep-alive %s %s: got %d %q, want %q", m[0], m[1], status, body, want(m[1]))
			}
		}
	}
	d.allClosed(t)
	rt.logs.waitFor(t, `path="/extra"`, "at=info ", "status=200 bytes=2 ")
}

// The same with many clients at once, so that a dyno connection with
// extra bytes is wanted by another request as soon as it is free.
func TestNoCrossTalkConcurrent(t *testing.T) {
	t.Parallel()
	d := startOddDyno(t)
	rt := startRouter(t, Config{Pool: newPool(Ready, d.Backend)})
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", rt.addr)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			br := bufio.NewReader(c)
			for i := range 40 {
				path := fmt.Sprintf("/w%d/%d", w, i)
				if i%3 == 0 {
					path = "/extra"
				}
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: app.test\r\n\r\n", path)
				res, err := readResponseFrom(br)
				switch {
				case err != nil:
					errs <- fmt.Sprintf("%s: %v", path, err)
					return
				case path == "/extra" && res != "ok", path != "/extra" && res != path:
					errs <- fmt.Sprintf("%s got %q", path, res)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	d.allClosed(t)
}

// readResponseFrom reads one response to a GET and returns its body.
func readResponseFrom(br *bufio.Reader) (string, error) {
	res, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		return "", err
	}
	b, err := io.ReadAll(res.Body)
	return string(b), err
}
