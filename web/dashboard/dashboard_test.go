package dashboard

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
)

// The browser tests of the dashboard, against a running dynobox, are in
// the e2e package (e2e/dashboard_test.go); these test its parts.

func TestDashboardHostCheck(t *testing.T) {
	d := New(nil)
	d.AllowHost("192.168.1.7")
	for host, want := range map[string]bool{
		"127.0.0.1:8106":       true,
		"127.0.0.1":            true,
		"127.1.2.3:80":         true,
		"localhost:8106":       true,
		"LOCALHOST:8106":       true,
		"localhost.:8106":      true,
		"app.localhost:8106":   true,
		"[::1]:8106":           true,
		"192.168.1.7:8106":     true,
		"":                     false,
		"evil.example":         false,
		"evil.example:8106":    false,
		"localhost.evil.com":   false,
		"127.0.0.1.nip.io:80":  false,
		"[::ffff:10.0.0.1]:80": false,
		"10.0.0.1:8106":        false,
		"0.0.0.0:8106":         false,
	} {
		if got := d.hostAllowed(host); got != want {
			t.Errorf("hostAllowed(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestDashboardGuard(t *testing.T) {
	d := New(nil)
	reached := 0
	h := d.guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ }))
	for _, c := range []struct {
		method, path, host, origin, site, token string
		want                                    int
	}{
		{"GET", "/", "127.0.0.1:9000", "", "", "", 200},
		{"GET", "/api/v1/info", "localhost:9000", "", "", "", 200},
		{"GET", "/", "evil.example:9000", "", "", "", 421},
		{"POST", "/api/v1/ps/stop", "evil.example:9000", "http://evil.example:9000", "", d.token, 421},
		{"POST", "/api/v1/ps/stop", "127.0.0.1:9000", "http://127.0.0.1:9000", "same-origin", d.token, 200},
		{"POST", "/api/v1/ps/stop", "127.0.0.1:9000", "", "", d.token, 200}, // curl with the token
		{"DELETE", "/api/v1/addons/x", "127.0.0.1:9000", "http://127.0.0.1:9000", "", d.token, 200},
		{"POST", "/api/v1/ps/stop", "127.0.0.1:9000", "http://127.0.0.1:9000", "", "", 403},
		{"POST", "/api/v1/ps/stop", "127.0.0.1:9000", "http://127.0.0.1:9000", "", "wrong", 403},
		{"POST", "/api/v1/ps/stop", "127.0.0.1:9000", "http://evil.example", "", d.token, 403},
		{"POST", "/api/v1/ps/stop", "127.0.0.1:9000", "null", "", d.token, 403},
		{"POST", "/api/v1/ps/stop", "127.0.0.1:9000", "", "cross-site", d.token, 403},
		{"POST", "/api/v1/ps/stop", "127.0.0.1:9000", "", "same-site", d.token, 403},
		{"PUT", "/anything", "127.0.0.1:9000", "", "", "", 403},
		{"POST", "/api/dash/reveal", "127.0.0.1:9000", "", "", "", 403},
	} {
		reached = 0
		r := httptest.NewRequest(c.method, c.path, nil)
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		if c.token != "" {
			r.Header.Set(TokenHeader, c.token)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want || (reached == 1) != (c.want == 200) {
			t.Errorf("%s %s Host %s Origin %q Sec-Fetch-Site %q token %v: %d (handler reached %v), want %d",
				c.method, c.path, c.host, c.origin, c.site, c.token != "", w.Code, reached == 1, c.want)
		}
		if got := w.Header().Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s %s: X-Frame-Options %q", c.method, c.path, got)
		}
	}
}

func TestDashboardPageAndAssets(t *testing.T) {
	d := New(nil)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, page := get("/")
	if resp.StatusCode != 200 || !strings.Contains(page, `<meta name="dynobox-token" content="`+d.token+`">`) {
		t.Fatalf("GET / = %d, want the page with the token:\n%s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("CSP %q", csp)
	}
	if len(d.token) != 64 || New(nil).token == d.token {
		t.Errorf("token %q: want 32 random bytes, new each run", d.token)
	}
	for _, asset := range []string{"/static/app.js", "/static/style.css", "/static/favicon.svg"} {
		resp, body := get(asset)
		if resp.StatusCode != 200 || len(body) < 100 {
			t.Errorf("GET %s = %d, %d bytes", asset, resp.StatusCode, len(body))
		}
		// No network at run time: nothing is fetched from elsewhere.
		for _, remote := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(body, remote) && !strings.Contains(body, "http://www.w3.org/2000/svg") {
				t.Errorf("%s refers to %q", asset, remote)
			}
		}
	}
	if resp, _ := get("/api/v1/logs"); resp.StatusCode != http.StatusMethodNotAllowed && resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /api/v1/logs = %d: an API route not mounted for the dashboard answers", resp.StatusCode)
	}
}

func TestDashboardMask(t *testing.T) {
	for _, c := range []struct {
		key, value, want string
		masked           bool
	}{
		{"DATABASE_URL", "postgres://dynobox:pa55word@127.0.0.1:5432/db", "postgres://dynobox:" + Masked + "@127.0.0.1:5432/db", true},
		{"REDIS_URL", "redis://:hunter22@127.0.0.1:6379", "redis://:" + Masked + "@127.0.0.1:6379", true},
		{"PLAIN_URL", "http://example.com/x", "http://example.com/x", false},
		{"USER_URL", "http://bob@example.com/x", "http://bob@example.com/x", false},
		{"KAFKA_CLIENT_CERT_KEY", "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n", "-----BEGIN PRIVATE KEY----- " + Masked, true},
		{"KAFKA_TRUSTED_CERT", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "-----BEGIN CERTIFICATE----- " + Masked, true},
		{"SECRET_KEY_BASE", "abcdef", Masked, true},
		{"STRIPE_API_KEY", "sk_live_x", Masked, true},
		{"GITHUB_TOKEN", "ghp_x", Masked, true},
		{"DB_PASSWORD", "x", Masked, true},
		{"GREETING", "hello", "hello", false},
		{"PORT_OFFSET", "3", "3", false},
		{"API_SECRET", "", "", false},
	} {
		got, masked := Mask(c.key, c.value)
		if got != c.want || masked != c.masked {
			t.Errorf("Mask(%s, %q) = %q, %v; want %q, %v", c.key, c.value, got, masked, c.want, c.masked)
		}
	}
	parts := secretParts("DATABASE_URL", "postgres://u:p%40ssw0rd!@h/db")
	if len(parts) == 0 || parts[0] != "p@ssw0rd!" {
		t.Errorf("secretParts of a URL = %q, want its password", parts)
	}
	if p := secretParts("API_KEY", "abc"); len(p) != 0 {
		t.Errorf("secretParts of a short key = %q: masking 3 bytes in every log line hides more than secrets", p)
	}
}

func TestDashboardMaskReply(t *testing.T) {
	apiStub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/config":
			json.NewEncoder(w).Encode([]runner.ConfigVar{
				{Key: "DATABASE_URL", Value: "postgres://u:topsecretpw@h:1/db", Source: "addon"},
				{Key: "GREETING", Value: "hi", Source: "env"},
			})
		case "/v1/addons":
			json.NewEncoder(w).Encode([]addons.Status{{Name: "heroku-redis", Plan: "heroku-redis", State: "up",
				Config: map[string]string{"REDIS_URL": "redis://:topsecretpw@127.0.0.1:1"}}})
		case "/v1/info":
			json.NewEncoder(w).Encode(runner.Info{Name: "app", Release: 3, Addons: []addons.Status{{Name: "heroku-redis",
				Config: map[string]string{"REDIS_URL": "redis://:topsecretpw@127.0.0.1:1"}}}})
		default:
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"bad"}`)
		}
	})
	for path, mask := range map[string]func([]byte) (any, error){
		"/v1/config": maskConfig, "/v1/addons": maskAddons, "/v1/info": maskInfo, "/v1/other": maskInfo,
	} {
		w := httptest.NewRecorder()
		maskReply(apiStub, mask).ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		body := w.Body.String()
		if strings.Contains(body, "topsecretpw") {
			t.Errorf("%s: the secret passed the mask: %s", path, body)
		}
		if path == "/v1/other" {
			if w.Code != 400 || !strings.Contains(body, "bad") {
				t.Errorf("%s: an error reply should pass as it is: %d %s", path, w.Code, body)
			}
			continue
		}
		if w.Code != 200 || !strings.Contains(body, Masked) || !strings.Contains(body, `"masked"`) {
			t.Errorf("%s: %d %s", path, w.Code, body)
		}
	}
}

// testRunsApp is a fake app with recorded test runs.
type testRunsApp struct {
	App
	runs []runner.CIResult
}

func (a testRunsApp) CIRuns() ([]runner.CIResult, error) { return a.runs, nil }

func TestDashboardTestsNewestFirst(t *testing.T) {
	var runs []runner.CIResult
	for i := 1; i <= 12; i++ {
		runs = append(runs, runner.CIResult{Number: i, Status: runner.CISucceeded})
	}
	for _, c := range []struct {
		app  App
		want []int
	}{
		{testRunsApp{newFakeApp(), runs}, []int{12, 11, 10, 9, 8, 7, 6, 5, 4, 3}},
		{newFakeApp(), []int{}}, // an app without test runs
	} {
		srv := httptest.NewServer(New(c.app).Handler())
		res, err := http.Get(srv.URL + "/api/dash/tests")
		if err != nil {
			t.Fatal(err)
		}
		var got []runner.CIResult
		err = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		srv.Close()
		if err != nil || res.StatusCode != 200 || len(got) != len(c.want) {
			t.Fatalf("GET /api/dash/tests: %d %v %+v", res.StatusCode, err, got)
		}
		for i, n := range c.want {
			if got[i].Number != n {
				t.Errorf("runs[%d] is #%d, want #%d", i, got[i].Number, n)
			}
		}
	}
}
