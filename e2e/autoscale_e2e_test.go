package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// metricsJSON is what `dynobox metrics --json` prints, as far as the tests read it.
type metricsJSON struct {
	Minute struct {
		Requests int            `json:"requests"`
		Classes  map[string]int `json:"classes"`
		P95      float64        `json:"p95_ms"`
	} `json:"last_minute"`
	Series    []json.RawMessage `json:"series"`
	Autoscale *struct {
		Min, Max int
		P95      int64  `json:"p95_ms"`
		Last     string `json:"last_decision"`
	} `json:"autoscale"`
}

func readMetrics(t *testing.T, verb func(...string) (string, string, int)) metricsJSON {
	t.Helper()
	out, stderr, code := verb("metrics", "--json")
	var m metricsJSON
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil {
		t.Fatalf("metrics --json: exit %d %s\n%s", code, stderr, out)
	}
	return m
}

// load runs n clients, each sending one request after the other to url,
// until stop is called.
func load(t *testing.T, url string, n int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
				if res, err := c.Do(req); err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
			}
		})
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// TestAutoscaleWebOnP95 is issue 22's "done when": a web dyno serving one
// request at a time in 100 ms, under 8 clients, scales from 1 to 2 within
// 60 s with a log line, never past --max, and back to 1 within 4 minutes
// after the load stops, never under --min; autoscaling is remembered
// across a restart, and ps:scale outside its range is refused.
func TestAutoscaleWebOnP95(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	dir := writeApp(t, map[string]string{"Procfile": "web: " + helperCommand(t) + "\n"})
	env := []string{"DYNOBOX_AUTOSCALE_INTERVAL=2s", "DYNOBOX_AUTOSCALE_WINDOW=15s"}
	p := startDynoboxEnv(t, dir, env, "start", "-p", strconv.Itoa(port))
	verb := func(args ...string) (string, string, int) { return runDynobox(t, dir, args...) }
	p.waitAPI(dir)
	waitFor(t, "web.1 up", func() bool { return upCount(ps(t, verb), "web") == 1 })

	out, stderr, code := verb("ps:autoscale:enable", "web", "--min", "1", "--max", "2", "--p95", "300")
	if code != 0 || !strings.Contains(out, "autoscaling 1..2 dynos on a p95 of 300ms") {
		t.Fatalf("ps:autoscale:enable: exit %d %q %s", code, out, stderr)
	}
	if _, stderr, code := verb("ps:scale", "web=3"); code != 2 || !strings.Contains(stderr, "outside the autoscaling range 1..2") {
		t.Fatalf("ps:scale web=3 under autoscaling: exit %d %s", code, stderr)
	}
	if _, stderr, code := verb("ps:autoscale:enable", "worker", "--min", "1", "--max", "2", "--p95", "300"); code != 2 || !strings.Contains(stderr, "only web") {
		t.Fatalf("autoscaling a worker: exit %d %s", code, stderr)
	}

	stop := load(t, fmt.Sprintf("http://127.0.0.1:%d/slow", port), 8)
	loaded := time.Now()
	p.waitOutputWithin("heroku[api] | Scaled to web@2 by autoscaling: p95 ", 60*time.Second)
	t.Logf("scaled up %s after the load started", time.Since(loaded).Round(time.Second))
	waitFor(t, "web.2 up", func() bool { return upCount(ps(t, verb), "web") == 2 })
	// Still over the target with 2 (8 clients, 2 × 10 req/s): held at --max.
	waitFor(t, "a decision held at the maximum", func() bool {
		m := readMetrics(t, verb)
		return m.Autoscale != nil && strings.Contains(m.Autoscale.Last, "already at the maximum of 2")
	})
	m := readMetrics(t, verb)
	if m.Minute.Requests == 0 || m.Minute.Classes["2xx"] == 0 || m.Minute.P95 < 100 || len(m.Series) == 0 {
		t.Fatalf("metrics under load: %+v", m)
	}
	if out, _, _ := verb("metrics"); !strings.Contains(out, "p95") || !strings.Contains(out, "2xx") {
		t.Fatalf("metrics:\n%s", out)
	}
	stop()

	stopped := time.Now()
	p.waitOutputWithin("heroku[api] | Scaled to web@1 by autoscaling: ", 4*time.Minute)
	t.Logf("scaled down %s after the load stopped", time.Since(stopped).Round(time.Second))
	waitFor(t, "a decision at the minimum", func() bool {
		m := readMetrics(t, verb)
		return m.Autoscale != nil && m.Autoscale.Last == "holding" && ps(t, verb).Formation["web"] == 1
	})
	if p.hasOutput("web@3") || p.hasOutput("web@0") {
		t.Fatalf("autoscaling left 1..2:\n%s", p.out)
	}
	if out, _, _ := verb("ps"); !strings.Contains(out, "autoscaling 1..2 dynos on a p95 of 300ms") {
		t.Fatalf("ps does not show autoscaling:\n%s", out)
	}
	stopApp(t, p)
	if out, _, _ := verb("info", "--json"); !strings.Contains(out, `"autoscale"`) {
		t.Fatalf("info --json of the stopped app lacks autoscaling:\n%s", out)
	}

	// Remembered across a restart; disabled, it is gone.
	p2 := startDynoboxEnv(t, dir, env, "start", "-p", strconv.Itoa(freePort(t)))
	p2.waitAPI(dir)
	out, _, _ = verb("info", "--json")
	var info struct {
		Autoscale *struct{ Min, Max int } `json:"autoscale"`
	}
	if json.Unmarshal([]byte(out), &info) != nil || info.Autoscale == nil || info.Autoscale.Max != 2 {
		t.Fatalf("info --json after a restart:\n%s", out)
	}
	if out, stderr, code := verb("ps:autoscale:disable", "web"); code != 0 || !strings.Contains(out, "done") {
		t.Fatalf("ps:autoscale:disable: exit %d %s %s", code, out, stderr)
	}
	if out, _, _ := verb("info", "--json"); strings.Contains(out, `"autoscale"`) {
		t.Fatalf("info --json after disable:\n%s", out)
	}
	stopApp(t, p2)
}
