package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// End-to-end tests of the router in front of real web dynos.

func TestRouterHeadersAndLogLine(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	dir := writeApp(t, map[string]string{"Procfile": "web: " + helperCommand(t) + "\n"})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "--dashboard", "off")
	p.waitOutput("heroku[web.1] | State changed from starting to up")
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/headers", port), nil)
	req.Host = "myapp.example"
	req.Header.Set("X-Request-Id", "abcdefghijklmnopqrstuvwxyz")
	req.Header.Set("X-Forwarded-For", "10.1.2.3")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Header
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	checks := map[string]string{
		"Host": "myapp.example", "X-Request-Id": "abcdefghijklmnopqrstuvwxyz", "X-Forwarded-For": "10.1.2.3, 127.0.0.1",
		"X-Forwarded-Proto": "http", "X-Forwarded-Port": strconv.Itoa(port), "Via": "1.1 vegur",
	}
	for k, want := range checks {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if ms, err := strconv.ParseInt(h.Get("X-Request-Start"), 10, 64); err != nil || time.Since(time.UnixMilli(ms)) > time.Minute {
		t.Errorf("X-Request-Start = %q", h.Get("X-Request-Start"))
	}
	p.waitOutput(`heroku[router] | at=info method=GET path="/headers" host=myapp.example request_id=abcdefghijklmnopqrstuvwxyz fwd="10.1.2.3, 127.0.0.1" dyno=web.1 connect=`)
	stopApp(t, p)
}

func TestRouterErrorCodes(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	dir := writeApp(t, map[string]string{"Procfile": "web: " + helperCommand(t) + "\nworker: exec sleep 1000\n"})
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "--dashboard", "off", "--request-timeout", "1")
	p.waitOutput("heroku[web.1] | State changed from starting to up")
	get := func(path string) int {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/sleep"); code != 503 {
		t.Errorf("a dyno that never answers: %d, want 503", code)
	}
	p.waitOutput(`at=error code=H12 desc="Request timeout" method=GET path="/sleep"`)
	runDynobox(t, dir, "ps:scale", "web=0")
	waitFor(t, "web scaled to 0", func() bool { return get("/") == 503 && p.hasOutput(`code=H14 desc="No web processes running"`) })
	stopApp(t, p)

	crash := writeApp(t, map[string]string{"Procfile": "web: exit 1\n"})
	p = startDynobox(t, crash, "start", "-p", strconv.Itoa(freePort(t)), "--dashboard", "off")
	p.waitOutput("Restarting in")
	code, body := 0, ""
	waitFor(t, "H10", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", mustPublicPort(t, p)))
		if err != nil {
			return false
		}
		b := new(strings.Builder)
		fmt.Fprint(b, resp.Header.Get("Content-Type"))
		resp.Body.Close()
		code, body = resp.StatusCode, b.String()
		return p.hasOutput(`code=H10 desc="App crashed"`)
	})
	if code != 503 || !strings.Contains(body, "text/html") {
		t.Errorf("H10: %d %q", code, body)
	}
	stopApp(t, p)
}

// mustPublicPort reads the port dynobox was started with from its arguments.
func mustPublicPort(t *testing.T, p *proc) int {
	for i, a := range p.cmd.Args {
		if a == "-p" {
			n, _ := strconv.Atoi(p.cmd.Args[i+1])
			return n
		}
	}
	t.Fatal("no -p")
	return 0
}

// loadLoop sends requests from a few clients until stop is closed and
// counts failures; it is bounded by count and time.
func loadLoop(url string, stop <-chan struct{}) (ok, failed *atomic.Int64, wait func()) {
	ok, failed = new(atomic.Int64), new(atomic.Int64)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 20 * time.Second}
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Get(url)
				if err != nil || resp.StatusCode != 200 {
					failed.Add(1)
				} else {
					ok.Add(1)
				}
				if resp != nil {
					resp.Body.Close()
				}
			}
		}()
	}
	return ok, failed, wg.Wait
}

func TestRouterRestartDropsNoRequest(t *testing.T) {
	t.Parallel()
	for _, webs := range []int{1, 2} {
		t.Run(fmt.Sprintf("web=%d", webs), func(t *testing.T) {
			t.Parallel()
			port := freePort(t)
			dir := writeApp(t, map[string]string{"Procfile": "web: " + helperCommand(t) + "\n"})
			p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "--dashboard", "off", fmt.Sprintf("web=%d", webs))
			p.waitOutput(fmt.Sprintf("heroku[web.%d] | State changed from starting to up", webs))
			stop := make(chan struct{})
			ok, failed, wait := loadLoop(fmt.Sprintf("http://127.0.0.1:%d/", port), stop)
			time.Sleep(300 * time.Millisecond)
			for i := 0; i < 2; i++ {
				if _, stderr, code := runDynobox(t, dir, "ps:restart", "web"); code != 0 {
					t.Fatalf("ps:restart: %s", stderr)
				}
				// Wait until every web dyno was replaced and the old ones stopped.
				waitFor(t, "the restart to finish", func() bool {
					return strings.Count(p.out.String(), "Process exited with status") >= webs*(i+1)
				})
			}
			time.Sleep(300 * time.Millisecond)
			close(stop)
			wait()
			if failed.Load() != 0 || ok.Load() == 0 {
				t.Fatalf("%d requests failed, %d succeeded during ps:restart\n%s", failed.Load(), ok.Load(), p.out)
			}
			t.Logf("%d requests, none failed", ok.Load())
			stopApp(t, p)
		})
	}
}
