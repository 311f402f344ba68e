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

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// fakeApp is the dashboard's App without a running app: what the page,
// the masks, the reveal, the log stream and the charts read comes from
// here, so a test can say what the dashboard should make of it.
type fakeApp struct {
	name  string
	vars  []runner.ConfigVar
	hub   *logbus.Hub
	dynos []runner.DynoInfo
	stats runner.Stats
}

func (f *fakeApp) Name() string               { return f.name }
func (f *fakeApp) Stats() runner.Stats        { return f.stats }
func (f *fakeApp) Logs() *logbus.Hub          { return f.hub }
func (f *fakeApp) Event(process, text string) {}
func (f *fakeApp) Config() ([]runner.ConfigVar, error) {
	return f.vars, nil
}
func (f *fakeApp) Info() (runner.Info, error) {
	return runner.Info{Name: f.name, Dynos: f.dynos}, nil
}
func (f *fakeApp) Scale([]runner.ScaleChange) (map[string]int, error) { return nil, nil }
func (f *fakeApp) Restart(runner.Select) ([]string, error)            { return nil, nil }
func (f *fakeApp) StopDynos(runner.Select) ([]string, error)          { return nil, nil }
func (f *fakeApp) SetConfig(map[string]string, []string) (state.Release, error) {
	return state.Release{}, nil
}
func (f *fakeApp) Releases() ([]state.Release, error)         { return nil, nil }
func (f *fakeApp) Rollback(int) (state.Release, error)        { return state.Release{}, nil }
func (f *fakeApp) Deploy() (runner.DeployResult, error)       { return runner.DeployResult{}, nil }
func (f *fakeApp) Builds(int) ([]state.Build, error)          { return nil, nil }
func (f *fakeApp) BuildByID(string) (state.Build, error)      { return state.Build{}, nil }
func (f *fakeApp) AddonStatus() []addons.Status               { return nil }
func (f *fakeApp) DestroyAddon(string) (state.Release, error) { return state.Release{}, nil }
func (f *fakeApp) CreateAddon(addons.Spec) (addons.Status, state.Release, error) {
	return addons.Status{}, state.Release{}, nil
}

const fakeSecret = "s3cr3t-value-of-the-app"

func newFakeApp() *fakeApp {
	hub := logbus.NewHub(100)
	hub.Preload([]logbus.Line{{Time: time.Now(), Source: "app", Process: "web.1", Text: "connecting with " + fakeSecret}})
	return &fakeApp{
		name: "shop",
		vars: []runner.ConfigVar{{Key: "API_SECRET", Value: fakeSecret}, {Key: "LANG", Value: "en_US.UTF-8"}},
		hub:  hub,
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
	app.stats = runner.Stats{IntervalSeconds: 2, Times: []int64{1000, 3000},
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
	if !reflect.DeepEqual(got, app.stats) {
		t.Fatalf("GET /api/dash/stats = %+v, want the app's %+v", got, app.stats)
	}
}
