package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// checkError asserts the client got the error page for code and returns the
// router line.
func checkError(t *testing.T, rt *testRouter, res *http.Response, body, code string, status int) string {
	t.Helper()
	if res.StatusCode != status {
		t.Errorf("status = %d, want %d", res.StatusCode, status)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if !strings.Contains(body, code) || !strings.Contains(body, "<title>") {
		t.Errorf("error page does not name %s:\n%s", code, body)
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("error page loads external assets:\n%s", body)
	}
	return rt.logs.waitFor(t, "code="+code+" ")
}

func matchLine(t *testing.T, line, pattern string) {
	t.Helper()
	re := regexp.MustCompile("^" + pattern + "$")
	if !re.MatchString(line) {
		t.Errorf("router line\n%s\ndoes not match\n%s", line, re)
	}
}

const lineHead = `method=GET path="/" host=127\.0\.0\.1:\d+ request_id=[0-9a-f-]{36} fwd="127\.0\.0\.1" `

func TestH14NoWeb(t *testing.T) {
	t.Parallel()
	rt := startRouter(t, Config{Pool: newPool(NoWeb)})
	res, body := get(t, client(t), rt.url+"/")
	line := checkError(t, rt, res, body, "H14", 503)
	matchLine(t, line, `at=error code=H14 desc="No web processes running" `+lineHead+
		`dyno= connect= service= status=503 bytes= protocol=http`)
}

func TestH14StaticEmpty(t *testing.T) {
	t.Parallel()
	rt := startRouter(t, Config{Pool: Static()})
	res, body := get(t, client(t), rt.url+"/")
	checkError(t, rt, res, body, "H14", 503)
}

func TestH10Crashed(t *testing.T) {
	t.Parallel()
	rt := startRouter(t, Config{Pool: newPool(Crashed)})
	res, body := get(t, client(t), rt.url+"/")
	line := checkError(t, rt, res, body, "H10", 503)
	matchLine(t, line, `at=error code=H10 desc="App crashed" `+lineHead+
		`dyno= connect= service= status=503 bytes= protocol=http`)
}

func TestH20BootTimeout(t *testing.T) {
	t.Parallel()
	rt := startRouter(t, Config{Pool: newPool(Starting), BootWait: 200 * time.Millisecond})
	start := time.Now()
	res, body := get(t, client(t), rt.url+"/")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("answered after %v, before BootWait", d)
	}
	line := checkError(t, rt, res, body, "H20", 503)
	matchLine(t, line, `at=error code=H20 desc="App boot timeout" `+lineHead+
		`dyno= connect= service= status=503 bytes= protocol=http`)
}

func TestH21Refused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	rt := startRouter(t, Config{
		Pool:           newPool(Ready, Backend{"web.1", addr}),
		ConnectTimeout: 200 * time.Millisecond,
	})
	res, body := get(t, client(t), rt.url+"/")
	line := checkError(t, rt, res, body, "H21", 503)
	matchLine(t, line, `at=error code=H21 desc="Backend connection refused" `+lineHead+
		`dyno=web\.1 connect=\d+ms service= status=503 bytes= protocol=http`)
}

func TestH19ConnectTimeout(t *testing.T) {
	t.Parallel()
	addr := fullBacklog(t)
	rt := startRouter(t, Config{
		Pool:           newPool(Ready, Backend{"web.1", addr}),
		ConnectTimeout: 300 * time.Millisecond,
	})
	res, body := get(t, client(t), rt.url+"/")
	line := checkError(t, rt, res, body, "H19", 503)
	matchLine(t, line, `at=error code=H19 desc="Backend connection timeout" `+lineHead+
		`dyno=web\.1 connect=[3-9]\d\dms service= status=503 bytes= protocol=http`)
}

func TestH12ResponseTimeout(t *testing.T) {
	t.Parallel()
	b := rawBackend(t, "web.1", func(c net.Conn) {
		readHead(c)
		io.Copy(io.Discard, c) // read on, never answer
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b), ResponseTimeout: 200 * time.Millisecond})
	res, body := get(t, client(t), rt.url+"/")
	line := checkError(t, rt, res, body, "H12", 503)
	matchLine(t, line, `at=error code=H12 desc="Request timeout" `+lineHead+
		`dyno=web\.1 connect=\d+ms service=[2-9]\d\dms status=503 bytes=0 protocol=http`)
}

func TestH13ClosedWithoutResponse(t *testing.T) {
	t.Parallel()
	var accepted atomic.Int32
	var dynos []Backend
	for i := 1; i <= 4; i++ {
		dynos = append(dynos, rawBackend(t, fmt.Sprintf("web.%d", i), func(c net.Conn) {
			accepted.Add(1)
			readRequest(c) // all of it, then hang up
		}))
	}
	rt := startRouter(t, Config{Pool: newPool(Ready, dynos...), ConnectTimeout: 200 * time.Millisecond})

	// A POST is not repeated.
	res, err := client(t).Post(rt.url+"/", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	line := checkError(t, rt, res, string(body), "H13", 503)
	matchLine(t, line, `at=error code=H13 desc="Connection closed without response" method=POST path="/" `+
		`host=127\.0\.0\.1:\d+ request_id=[0-9a-f-]{36} fwd="127\.0\.0\.1" `+
		`dyno=web\.\d connect=\d+ms service=\d+ms status=503 bytes=0 protocol=http`)
	if n := accepted.Load(); n != 1 {
		t.Errorf("the POST reached the dyno %d times, want once", n)
	}

	// A GET is tried on other dynos, a bounded number of times.
	accepted.Store(0)
	res, page := get(t, client(t), rt.url+"/get")
	checkError(t, rt, res, page, "H13", 503)
	line = rt.logs.waitFor(t, "code=H13 ", `path="/get"`)
	matchLine(t, line, `at=error code=H13 desc="Connection closed without response" method=GET path="/get" `+
		`host=127\.0\.0\.1:\d+ request_id=[0-9a-f-]{36} fwd="127\.0\.0\.1" `+
		`dyno=web\.\d connect=\d+ms service=\d+ms status=503 bytes=0 protocol=http`)
	if n := accepted.Load(); n != 1+maxCloseRetries {
		t.Errorf("the GET reached the dyno %d times, want %d", n, 1+maxCloseRetries)
	}
}

// The dyno hangs up while the request body is still on its way.
func TestH18DuringRequestBody(t *testing.T) {
	t.Parallel()
	got := make(chan struct{})
	b := rawBackend(t, "web.1", func(c net.Conn) {
		br, _ := readHead(c)
		br.ReadByte() // the body has started
		close(got)
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})

	// The client uploads on until the router has logged: the router must
	// blame the dyno, not the client. (net/http's transport reports the
	// dyno's hang-up once its writer is done with the body chunk it waits
	// for, so an uploading client is needed.)
	pr, pw := io.Pipe()
	logged := make(chan struct{})
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if _, err := pw.Write([]byte("part of the body\n")); err != nil {
				return
			}
			select {
			case <-tick.C:
			case <-logged:
				pw.Close()
				return
			}
		}
	}()
	req, _ := http.NewRequest("POST", rt.url+"/upload", pr)
	status := make(chan int, 1)
	go func() {
		res, err := client(t).Do(req)
		if err != nil {
			status <- 0
			return
		}
		res.Body.Close()
		status <- res.StatusCode
	}()
	<-got
	line := rt.logs.waitFor(t, "code=H18 ")
	close(logged)
	if s := <-status; s != 503 && s != 0 {
		t.Errorf("status = %d, want 503 (or a broken connection)", s)
	}
	matchLine(t, line, `sock=backend at=error code=H18 desc="Server Request Interrupted" method=POST path="/upload" `+
		`host=127\.0\.0\.1:\d+ request_id=[0-9a-f-]{36} fwd="127\.0\.0\.1" `+
		`dyno=web\.1 connect=\d+ms service=\d+ms status=503 bytes=0 protocol=http`)
}

// The dyno hangs up in the middle of its response.
func TestH18DuringResponse(t *testing.T) {
	t.Parallel()
	b := rawBackend(t, "web.1", func(c net.Conn) {
		readHead(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	res, err := client(t).Get(rt.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil {
		t.Errorf("truncated response read without error: %q", got)
	}
	if string(got) != "partial" {
		t.Errorf("body = %q, want the partial bytes", got)
	}
	line := rt.logs.waitFor(t, "code=H18 ")
	matchLine(t, line, `sock=backend at=error code=H18 desc="Server Request Interrupted" `+lineHead+
		`dyno=web\.1 connect=\d+ms service=\d+ms status=503 bytes=7 protocol=http`)
}

func TestH15Idle(t *testing.T) {
	t.Parallel()
	b := rawBackend(t, "web.1", func(c net.Conn) {
		readHead(c)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nfirst bytes")
		io.Copy(io.Discard, c) // then nothing more
	})
	rt := startRouter(t, Config{Pool: newPool(Ready, b), IdleTimeout: 200 * time.Millisecond})
	res, err := client(t).Get(rt.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil || string(got) != "first bytes" {
		t.Errorf("body = %q, %v; want the first bytes then an error", got, err)
	}
	line := rt.logs.waitFor(t, "code=H15 ")
	matchLine(t, line, `at=error code=H15 desc="Idle connection" `+lineHead+
		`dyno=web\.1 connect=\d+ms service=[2-9]\d\dms status=503 bytes=11 protocol=http`)
}

// The client hangs up while the dyno works on its request.
func TestH27ClientGone(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	b, _ := startBackend(t, "web.1", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // the router gives up on this dyno request too
	}))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", rt.url+"/", nil)
	_, err := client(t).Do(req)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want canceled", err)
	}
	line := rt.logs.waitFor(t, "code=H27 ")
	matchLine(t, line, `sock=client at=warning code=H27 desc="Client Request Interrupted" `+lineHead+
		`dyno=web\.1 connect=\d+ms service=\d+ms status=499 bytes=0 protocol=http`)
}

// The client hangs up while its request waits for a dyno to boot.
func TestH27WhileWaiting(t *testing.T) {
	t.Parallel()
	rt := startRouter(t, Config{Pool: newPool(Starting)})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", rt.url+"/", nil)
	if _, err := client(t).Do(req); err == nil {
		t.Fatal("request succeeded")
	}
	line := rt.logs.waitFor(t, "code=H27 ")
	matchLine(t, line, `sock=client at=warning code=H27 desc="Client Request Interrupted" `+lineHead+
		`dyno= connect= service= status=499 bytes= protocol=http`)
}

func TestErrorPage(t *testing.T) {
	for c := h10; c <= h27; c++ {
		w := &pageRecorder{h: http.Header{}}
		writeErrorPage(w, c, "", "req-id")
		if w.status != codes[c].status {
			t.Errorf("%s: status %d, want %d", codes[c].name, w.status, codes[c].status)
		}
		body := w.body.String()
		for _, s := range []string{codes[c].name, codes[c].desc, "req-id", "</html>"} {
			if !strings.Contains(body, s) {
				t.Errorf("%s: page lacks %q", codes[c].name, s)
			}
		}
	}
}

type pageRecorder struct {
	h      http.Header
	status int
	body   strings.Builder
}

func (w *pageRecorder) Header() http.Header         { return w.h }
func (w *pageRecorder) WriteHeader(code int)        { w.status = code }
func (w *pageRecorder) Write(p []byte) (int, error) { return w.body.Write(p) }
