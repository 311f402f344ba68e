package platform

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// fakeApp is an App in memory that records what the API asked of it.
type fakeApp struct {
	mu        sync.Mutex
	formation map[string]int
	config    map[string]string
	releases  []state.Release // newest first
	scaled    [][]runner.ScaleChange
	restarted []runner.Select
	stopped   []runner.Select
	hub       *logbus.Hub
	started   time.Time
}

func newFake() *fakeApp {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &fakeApp{
		formation: map[string]int{"web": 1, "worker": 1},
		config:    map[string]string{"FOO": "bar"},
		releases:  []state.Release{{Version: 1, Description: "Initial release", CreatedAt: start, Status: "succeeded", Config: map[string]string{}}},
		hub:       logbus.NewHub(100),
		started:   start,
	}
}

func (f *fakeApp) Info() (runner.Info, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var dynos []runner.DynoInfo
	for _, t := range []string{"web", "worker"} {
		for i := 1; i <= f.formation[t]; i++ {
			dynos = append(dynos, runner.DynoInfo{Name: t + "." + string(rune('0'+i)), Type: t, Command: "run-" + t, State: runner.Up, Since: f.started})
		}
	}
	formation := map[string]int{}
	for k, v := range f.formation {
		formation[k] = v
	}
	return runner.Info{Name: "dir", Started: f.started, Release: f.releases[0].Version, Router: "http://127.0.0.1:5006/",
		Formation: formation, Dynos: dynos, Commands: map[string]string{"web": "run-web", "worker": "run-worker"},
		Addons: []addons.Status{{Name: "postgresql-1", Plan: "heroku-postgresql:essential-0", State: "running",
			Config: map[string]string{"DATABASE_URL": "postgres://x", "HEROKU_POSTGRESQL_AMBER_URL": "postgres://x"}},
			{Name: "heroku-redis", Plan: "heroku-redis", State: "running",
				Config: map[string]string{"REDIS_URL": "redis://x", "REDIS_TLS_URL": "rediss://x"}}}}, nil
}

func (f *fakeApp) Scale(changes []runner.ScaleChange) (map[string]int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scaled = append(f.scaled, changes)
	out := map[string]int{}
	for _, c := range changes {
		switch c.Op {
		case "=":
			f.formation[c.Type] = c.N
		case "+":
			f.formation[c.Type] += c.N
		case "-":
			f.formation[c.Type] -= c.N
		}
		out[c.Type] = f.formation[c.Type]
	}
	return out, nil
}

func (f *fakeApp) Restart(sel runner.Select) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if sel.Dyno == "nope.1" {
		return nil, errors.New("no dyno nope.1")
	}
	f.restarted = append(f.restarted, sel)
	return []string{"web.1"}, nil
}

func (f *fakeApp) StopDynos(sel runner.Select) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.HasPrefix(sel.Dyno, "run.") { // as the controller, which knows no one-off dynos
		return nil, errors.New("no dyno " + sel.Dyno)
	}
	f.stopped = append(f.stopped, sel)
	return []string{"web.1"}, nil
}

func (f *fakeApp) Config() ([]runner.ConfigVar, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runner.ConfigVar
	for k, v := range f.config {
		out = append(out, runner.ConfigVar{Key: k, Value: v, Source: "config"})
	}
	return append(out, runner.ConfigVar{Key: "DATABASE_URL", Value: "postgres://x", Source: "addon"}), nil
}

func (f *fakeApp) SetConfig(set map[string]string, unset []string) (state.Release, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := set["DATABASE_URL"]; ok {
		return state.Release{}, &runner.InputError{Err: errors.New("DATABASE_URL is set by an add-on")}
	}
	for k, v := range set {
		f.config[k] = v
	}
	for _, k := range unset {
		delete(f.config, k)
	}
	return f.releaseLocked("Set config vars"), nil
}

func (f *fakeApp) releaseLocked(desc string) state.Release {
	cfg := map[string]string{}
	for k, v := range f.config {
		cfg[k] = v
	}
	r := state.Release{Version: f.releases[0].Version + 1, Description: desc, CreatedAt: f.started, Status: "succeeded", Config: cfg}
	f.releases = append([]state.Release{r}, f.releases...)
	return r
}

func (f *fakeApp) Releases() ([]state.Release, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]state.Release(nil), f.releases...), nil
}

func (f *fakeApp) Rollback(v int) (state.Release, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.releases {
		if r.Version == v {
			f.config = r.Config
			return f.releaseLocked("Rollback to v" + string(rune('0'+v))), nil
		}
	}
	return state.Release{}, &runner.InputError{Err: errors.New("no such release")}
}

func (f *fakeApp) Builds(limit int) ([]state.Build, error) {
	return []state.Build{{ID: "b2", Started: f.started, Status: "failed"}, {ID: "b1", Started: f.started, Status: "succeeded"}}, nil
}

func (f *fakeApp) Logs() *logbus.Hub { return f.hub }

func (f *fakeApp) AddonStatus() []addons.Status { info, _ := f.Info(); return info.Addons }

const testKey = "test-key-0123456789abcdef"

// newTestServer serves a fake app named "demo" on httptest.
func newTestServer(t *testing.T) (*fakeApp, *httptest.Server) {
	t.Helper()
	f := newFake()
	srv := httptest.NewServer(New(f, Config{Name: "demo", Key: testKey}).Handler())
	t.Cleanup(srv.Close)
	return f, srv
}

// call makes an authorized request as the CLI does and decodes the JSON
// reply into out (when not nil); it returns the status.
func call(t *testing.T, srv *httptest.Server, method, path, body string, out any, headers ...string) int {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.heroku+json; version=3.sdk")
	req.Header.Set("Authorization", "Bearer "+testKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q, want JSON; body %s", method, path, ct, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// herokuError is Heroku's error body.
type herokuError struct {
	ID       string `json:"id"`
	Message  string `json:"message"`
	Resource string `json:"resource"`
}
