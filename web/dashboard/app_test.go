package dashboard

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/web/api/apitest"
)

var _ App = (*apitest.App)(nil)

const fakeSecret = "s3cr3t-value-of-the-app"

// newFakeApp is an app named shop with a secret config var that its log
// history mentions.
func newFakeApp() *apitest.App {
	hub := logbus.NewHub(100)
	hub.Preload([]logbus.Line{{Time: time.Now(), Source: "app", Process: "web.1", Text: "connecting with " + fakeSecret}})
	return &apitest.App{
		AppName:   "shop",
		InfoReply: runner.Info{Name: "shop"},
		Vars:      []runner.ConfigVar{{Key: "API_SECRET", Value: fakeSecret}, {Key: "LANG", Value: "en_US.UTF-8"}},
		Hub:       hub,
	}
}

// The dashboard shows the app it is given: its name on the page, its
// config vars masked, a secret only through reveal, its log history with
// secrets masked.
func TestDashboardServesItsApp(t *testing.T) {
	t.Parallel()
	app := newFakeApp()
	d := New(app)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	do := func(method, path, body string) (int, string) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(TokenHeader, d.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, page := do("GET", "/", ""); code != 200 || !strings.Contains(page, "<title>shop · dynobox</title>") {
		t.Errorf("GET / = %d, want the page titled with the app's name:\n%.300s", code, page)
	}
	code, cfg := do("GET", "/api/v1/config", "")
	if code != 200 || strings.Contains(cfg, fakeSecret) || !strings.Contains(cfg, "en_US.UTF-8") {
		t.Errorf("GET /api/v1/config = %d %s: want the secret masked, LANG shown", code, cfg)
	}
	code, rev := do("POST", "/api/dash/reveal", `{"key":"API_SECRET"}`)
	if code != 200 || !strings.Contains(rev, fakeSecret) {
		t.Errorf("reveal API_SECRET = %d %s", code, rev)
	}
	if code, rev := do("POST", "/api/dash/reveal", `{"key":"NOPE"}`); code != 404 {
		t.Errorf("reveal of an unknown var = %d %s, want 404", code, rev)
	}

	// The log stream's first event is the app's history, masked.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/dash/logs", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var history string
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			history = data
			break
		}
	}
	if !strings.Contains(history, "connecting with ") || strings.Contains(history, fakeSecret) {
		t.Errorf("log history %q: want the line, its secret masked", history)
	}
}

// The charts show the app's samples (runner takes them) as they are.
func TestDashboardChartsTheAppsStats(t *testing.T) {
	t.Parallel()
	app := newFakeApp()
	app.Samples = runner.Stats{IntervalSeconds: 2, Times: []int64{1000, 3000},
		Dynos: map[string]runner.DynoSeries{"worker.1": {CPU: []float64{-1, 12.5}, Memory: []float64{1 << 20, 2 << 20}}}}
	srv := httptest.NewServer(New(app).Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/dash/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got runner.Stats
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, app.Samples) {
		t.Fatalf("GET /api/dash/stats = %+v, want the app's %+v", got, app.Samples)
	}
}
