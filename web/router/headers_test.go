package router

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echoHeaders is a dyno that answers with the request it got, as JSON.
func echoHeaders() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		json.NewEncoder(w).Encode(h)
	})
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestHeaders(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", echoHeaders())
	rt := startRouter(t, Config{Pool: newPool(Ready, b), PublicPort: 5006})

	req, _ := http.NewRequest("GET", rt.url+"/path?q=1", nil)
	req.Host = "myapp.localhost:5006"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("Via", "1.0 fred")
	req.Header.Set("X-Forwarded-Proto", "https") // the client can't choose
	req.Header.Set("X-Custom", "kept")
	before := time.Now().UnixMilli()
	res, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got http.Header
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixMilli()

	want := map[string]string{
		"Host":              "myapp.localhost:5006",
		"X-Forwarded-For":   "203.0.113.7, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Port":  "5006",
		"Via":               "1.0 fred, 1.1 vegur",
		"X-Custom":          "kept",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	start, err := strconv.ParseInt(got.Get("X-Request-Start"), 10, 64)
	if err != nil || start < before || start > after {
		t.Errorf("X-Request-Start = %q, want Unix ms in [%d, %d]", got.Get("X-Request-Start"), before, after)
	}
	if id := got.Get("X-Request-Id"); !uuidRE.MatchString(id) {
		t.Errorf("X-Request-Id = %q, want a v4 UUID", id)
	}
	if v := res.Header.Get("Via"); v != "1.1 vegur" {
		t.Errorf("response Via = %q, want 1.1 vegur", v)
	}
}

func TestForwardedPortDefaultsToListener(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", echoHeaders())
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	res, err := client(t).Get(rt.url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got http.Header
	json.NewDecoder(res.Body).Decode(&got)
	port := rt.addr[strings.LastIndexByte(rt.addr, ':')+1:]
	if got.Get("X-Forwarded-Port") != port {
		t.Errorf("X-Forwarded-Port = %q, want %q", got.Get("X-Forwarded-Port"), port)
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", echoHeaders())
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	c := client(t)
	tests := []struct {
		name, id string
		kept     bool
	}{
		{"20 chars", strings.Repeat("a", 20), true},
		{"200 chars", strings.Repeat("Z", 200), true},
		{"all allowed characters", "abcXYZ019-+=/abcXYZ019-+=/", true},
		{"uuid", "6ba7b810-9dad-41d1-80b4-00c04fd430c8", true},
		{"19 chars", strings.Repeat("a", 19), false},
		{"201 chars", strings.Repeat("a", 201), false},
		{"underscore", strings.Repeat("a", 20) + "_", false},
		{"space", strings.Repeat("a", 20) + " b", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", rt.url, nil)
			if tt.id != "" {
				req.Header.Set("X-Request-Id", tt.id)
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var got http.Header
			json.NewDecoder(res.Body).Decode(&got)
			res.Body.Close()
			id := got.Get("X-Request-Id")
			if tt.kept && id != tt.id {
				t.Errorf("X-Request-Id = %q, want the client's %q", id, tt.id)
			}
			if !tt.kept && !uuidRE.MatchString(id) {
				t.Errorf("X-Request-Id = %q, want a new v4 UUID", id)
			}
			rt.logs.waitFor(t, " request_id="+id+" ")
		})
	}
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		u := newUUID()
		if !uuidRE.MatchString(u) {
			t.Fatalf("newUUID() = %q, not a v4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("newUUID() repeated %q", u)
		}
		seen[u] = true
	}
}

func TestLogLine(t *testing.T) {
	t.Parallel()
	b, _ := startBackend(t, "web.1", hello("web.1"))
	rt := startRouter(t, Config{Pool: newPool(Ready, b)})
	req, _ := http.NewRequest("GET", rt.url+"/hello?x=1&y=%22", nil)
	req.Host = "localhost:5006"
	req.Header.Set("X-Request-Id", "abcdefghij0123456789")
	res, err := client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	line := rt.logs.waitFor(t, "abcdefghij0123456789")
	re := regexp.MustCompile(`^at=info method=GET path="/hello\?x=1&y=%22" host=localhost:5006 ` +
		`request_id=abcdefghij0123456789 fwd="127\.0\.0\.1" dyno=web\.1 connect=\d+ms service=\d+ms ` +
		`status=200 bytes=13 protocol=http$`)
	if !re.MatchString(line) {
		t.Errorf("router line\n%s\ndoes not match\n%s", line, re)
	}
}

func TestLogLineQuoting(t *testing.T) {
	x := &exchange{start: time.Unix(0, 0), requestID: "id", fwd: `1.2.3.4, "x"`, code: h14}
	r, _ := http.NewRequest("GET", "/", nil)
	r.RequestURI = "/a\"b\\c\x01"
	r.Host = "a b"
	got := logLine(x, r, 503, time.Unix(1, 0))
	want := `at=error code=H14 desc="No web processes running" method=GET path="/a\"b\\c\x01" host=a\x20b ` +
		`request_id=id fwd="1.2.3.4, \"x\"" dyno= connect= service= status=503 bytes= protocol=http`
	if got != want {
		t.Errorf("logLine =\n%s\nwant\n%s", got, want)
	}
}
