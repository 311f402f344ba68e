package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
	"github.com/dynobox/dynobox/web/api/apitest"
)

var _ App = (*apitest.App)(nil)

// serve serves Handler(app) on a Unix socket in a state directory, as
// "dynobox start" does, and returns a client of it.
func serve(t *testing.T, app App) *Client {
	t.Helper()
	sd := t.TempDir()
	l, err := Listen(SocketPath(sd))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(app)}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return NewClient(filepath.Dir(sd), sd)
}

// The verbs' requests reach the app as they were sent, and its answers
// come back as the client decodes them.
func TestHandlerPassesRequestsToTheApp(t *testing.T) {
	t.Parallel()
	app := &apitest.App{Release: state.Release{Version: 7},
		InfoReply: runner.Info{Name: "app", Formation: map[string]int{"web": 2}, Commands: map[string]string{"web": "./server"}}}
	c := serve(t, app)

	var counts map[string]int
	if err := c.Post("/v1/ps/scale", map[string]any{"changes": []runner.ScaleChange{{Type: "web", Op: "=", N: 3}}}, &counts); err != nil || counts["web"] != 3 {
		t.Fatalf("scale: %v %v", counts, err)
	}
	var names []string
	if err := c.Post("/v1/ps/restart", runner.Select{Type: "web"}, &names); err != nil || names == nil || len(names) != 0 {
		t.Fatalf("restart: %#v %v, want an empty list (not null)", names, err)
	}
	if err := c.Post("/v1/ps/stop", runner.Select{Dyno: "web.1"}, &names); err != nil || !reflect.DeepEqual(names, []string{"web.1"}) {
		t.Fatalf("stop: %v %v", names, err)
	}
	var rel state.Release
	if err := c.Post("/v1/config", ConfigChange{Set: map[string]string{"A": "1"}}, &rel); err != nil || rel.Version != 7 {
		t.Fatalf("config:set: %+v %v", rel, err)
	}
	if err := c.Post("/v1/releases/rollback", map[string]int{"version": 3}, &rel); err != nil {
		t.Fatal(err)
	}
	var change AddonChange
	if err := c.Post("/v1/addons", addons.Spec{Plan: "heroku-redis", As: "CACHE"}, &change); err != nil || change.Addon.Name != "heroku-redis" || change.Release.Version != 7 {
		t.Fatalf("addons:create: %+v %v", change, err)
	}
	if err := c.Delete("/v1/addons/cache", &change); err != nil {
		t.Fatal(err)
	}
	if err := c.Post("/v1/events", Event{Dyno: "run.1234", Text: "Starting process"}, nil); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"scale [{Type:web Op:= N:3}]",
		"restart {Type:web Dyno:}",
		"stop {Type: Dyno:web.1}",
		"config set=map[A:1] unset=[]",
		"rollback 3",
		"create {Plan:heroku-redis As:CACHE Plaintext:false}",
		"destroy cache",
		`event run.1234 "Starting process"`,
	}
	if got := app.Calls(); !reflect.DeepEqual(got, want) {
		t.Fatalf("the app was asked:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	var ps PS
	if err := c.PS(&ps); err != nil || ps.Formation["web"] != 2 || ps.Commands["web"] != "./server" || ps.Stopped {
		t.Fatalf("ps: %+v %v", ps, err)
	}
}

// An input error is the request's fault: 400, which the client returns as
// a *runner.InputError (exit 2 in the CLI); anything else is the server's:
// 500.
// Either way the message reaches the user as the app wrote it.
func TestHandlerMapsErrorsOnce(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err     error
		request bool
	}{
		{&runner.InputError{Err: errors.New("no process type clock")}, true},
		{fmt.Errorf("scale: %w", &runner.InputError{Err: runner.ErrUnknownType}), true}, // as the supervisor returns it, wrapped
		{errors.New("the state database is locked"), false},
	} {
		client := serve(t, &apitest.App{Err: c.err})
		err := client.Post("/v1/ps/scale", map[string]any{"changes": []runner.ScaleChange{}}, nil)
		var re *runner.InputError
		if err == nil || err.Error() != c.err.Error() || errors.As(err, &re) != c.request {
			t.Errorf("%v: client got %v (a request error: %v), want a request error: %v", c.err, err, errors.As(err, &re), c.request)
		}
		// info and ps pass on a failure to read the app's state, never
		// a zero release or an empty formation in its place.
		for _, path := range []string{"/v1/info", "/v1/ps"} {
			var out map[string]any
			if err := client.Call("GET", path, nil, &out); err == nil || err.Error() != c.err.Error() || out != nil {
				t.Errorf("GET %s with %v: client got %v and %v", path, c.err, err, out)
			}
		}
	}
	// A body that is not JSON, and a failed ps:restart (an unknown dyno),
	// are the request's fault too.
	client := serve(t, &apitest.App{Err: errors.New("no dyno web.9")})
	var re *runner.InputError
	if err := client.Call("POST", "/v1/ps/scale", "not an object", nil); !errors.As(err, &re) || !strings.HasPrefix(err.Error(), "bad request body: ") {
		t.Errorf("a bad body: %v, want a request error", err)
	}
	if err := client.Post("/v1/ps/restart", runner.Select{Dyno: "web.9"}, nil); !errors.As(err, &re) || err.Error() != "no dyno web.9" {
		t.Errorf("restart of an unknown dyno: %v, want a request error", err)
	}
	if err := client.Call("GET", "/v1/builds/b9", nil, nil); !errors.As(err, &re) {
		t.Errorf("an unknown build: %v, want a request error", err)
	}
}

// GET /v1/builds lists builds without their output, GET /v1/logs the
// app's recent lines, newest last.
func TestHandlerBuildsAndLogs(t *testing.T) {
	t.Parallel()
	hub := logbus.NewHub(100)
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	hub.Preload([]logbus.Line{
		{Time: at, Source: "app", Process: "web.1", Text: "one"},
		{Time: at.Add(time.Second), Source: "heroku", Process: "web.1", Text: "two"},
		{Time: at.Add(2 * time.Second), Source: "app", Process: "worker.1", Text: "three"},
	})
	c := serve(t, &apitest.App{Hub: hub, BuildList: []state.Build{{ID: "b1", Status: "succeeded", Output: "compiled"}}})
	var builds []state.Build
	if err := c.Call("GET", "/v1/builds", nil, &builds); err != nil || len(builds) != 1 || builds[0].ID != "b1" || builds[0].Output != "" {
		t.Fatalf("builds: %+v %v", builds, err)
	}
	var got []string
	err := c.Logs(context.Background(), url.Values{"n": {"2"}}, func(l LogLine) error {
		got = append(got, l.Source+"["+l.Process+"]: "+l.Text)
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, []string{"heroku[web.1]: two", "app[worker.1]: three"}) {
		t.Fatalf("logs -n 2: %q %v", got, err)
	}
	got = nil
	if err := c.Logs(context.Background(), url.Values{"source": {"app"}, "type": {"web"}}, func(l LogLine) error {
		got = append(got, l.Text)
		return nil
	}); err != nil || !reflect.DeepEqual(got, []string{"one"}) {
		t.Fatalf("logs -s app -p web: %q %v", got, err)
	}
	var re *runner.InputError
	if err := c.Logs(context.Background(), url.Values{"n": {"many"}}, func(LogLine) error { return nil }); !errors.As(err, &re) {
		t.Fatalf("logs -n many: %v, want a request error", err)
	}
}
