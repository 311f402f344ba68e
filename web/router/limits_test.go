package router

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// rawRequest sends head (request line and header lines, no CRLFs) on a
// new connection and returns the status.
func rawRequest(t *testing.T, addr string, head []string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		w := bufio.NewWriter(c)
		for _, l := range head {
			w.WriteString(l + "\r\n")
		}
		w.WriteString("\r\n")
		w.Flush()
	}()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func TestLimits(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", hello("web.1"))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})

	// requestLine is a request line of exactly n bytes.
	requestLine := func(n int) string {
		const pre, post = "GET /", " HTTP/1.1"
		return pre + strings.Repeat("a", n-len(pre)-len(post)) + post
	}
	// headerLine is a header line of exactly n bytes.
	headerLine := func(n int) string { return "X-Big: " + strings.Repeat("b", n-len("X-Big: ")) }
	// headers is a head with n header lines, Host included.
	headers := func(n int) []string {
		h := []string{"GET / HTTP/1.1", "Host: example.test"}
		for i := 1; i < n; i++ {
			h = append(h, fmt.Sprintf("X-H%d: v", i))
		}
		return h
	}
	tests := []struct {
		name   string
		head   []string
		status int
		why    string
	}{
		{"request line 8192", []string{requestLine(8192), "Host: a"}, 200, ""},
		{"request line 8193", []string{requestLine(8193), "Host: a"}, 400, "request line too long"},
		{"header line 8192", []string{"GET / HTTP/1.1", "Host: a", headerLine(8192)}, 200, ""},
		{"header line 8193", []string{"GET / HTTP/1.1", "Host: a", headerLine(8193)}, 400, "header line too long"},
		{"host line 8193", []string{"GET / HTTP/1.1", "Host: " + strings.Repeat("h", 8193-6)}, 400, "header line too long"},
		{"1000 headers", headers(1000), 200, ""},
		{"1001 headers", headers(1001), 400, "too many headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := rawRequest(t, rt.addr, tt.head); got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
			if tt.why != "" {
				rt.logs.waitFor(t, `at=error code=H25 desc="HTTP restriction: `+tt.why+`" `, " status=400 ")
			}
		})
	}
}

func TestLimitsPage(t *testing.T) {
	t.Parallel()
	rt := startRouter(t, Config{Pool: newPool(NoWeb)})
	req, _ := http.NewRequest("GET", rt.url, nil)
	req.Header.Set("X-Big", strings.Repeat("b", 9000))
	res, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 || !strings.Contains(string(body), "H25") || !strings.Contains(string(body), "Bad request") {
		t.Errorf("got %d\n%s", res.StatusCode, body)
	}
}

// Requests net/http answers itself, before any handler runs, get a router
// line too (H25 with net/http's status), and an answered request one line
// only.
func TestRefusedByServerLogged(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", hello("web.1"))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	tests := []struct {
		head   []string
		status int
		text   string
	}{
		{[]string{"GET / HTTP/1.1", "Host: a.test", "Content-Length: 1", "Content-Length: 2"}, 400, "Bad Request"},
		{[]string{"POST / HTTP/1.1", "Host: a.test", "Transfer-Encoding: gzip"}, 501, "Not Implemented"},
		{[]string{"NOT-HTTP"}, 400, "Bad Request"},
	}
	for _, tc := range tests {
		if got := rawRequest(t, rt.addr, tc.head); got != tc.status {
			t.Fatalf("%q: status %d, want %d", tc.head, got, tc.status)
		}
		rt.logs.waitFor(t, `code=H25 desc="HTTP restriction: `+tc.text+`" method= path="" host= `, fmt.Sprintf(" status=%d ", tc.status))
	}
	if got := rawRequest(t, rt.addr, []string{"GET /ok HTTP/1.1", "Host: a.test"}); got != 200 {
		t.Fatalf("status %d", got)
	}
	rt.logs.waitFor(t, `path="/ok"`, "status=200")
	if n := len(rt.logs.all()); n != len(tests)+1 {
		t.Fatalf("%d router lines for %d requests:\n%s", n, len(tests)+1, strings.Join(rt.logs.all(), "\n"))
	}
}
