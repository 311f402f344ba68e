// Package api is dynobox's local JSON API: the handlers that the CLI verbs
// (over a Unix socket) and the dashboard (over HTTP) share, and the client
// the CLI verbs use.
//
// Its contract: the handlers serve an App (the running app's questions,
// which runner.Controller answers) or, for a stopped app, OfflineHandler's
// runner.Offline; they never reach past them. Errors are mapped once, in
// reply: a *runner.InputError is 400, which the Client returns as a
// *runner.InputError again; anything else is 500. The Client
// reports "no dynobox runs" as a *NotRunningError.
package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/autoscale"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// MaxLogLines is how far back `logs -n` can reach.
const MaxLogLines = runner.HistoryLines

// App is what the API serves: the running app, as runner.Controller
// implements it. The handlers reach nothing behind it, so they are tested
// against a fake (apitest.App).
//
// Sixteen methods, one per thing a verb does, each with its own arguments
// and reply (merging Restart and StopDynos, or Builds and BuildByID, would
// move a switch into the handler, the controller and the fake):
//
//	method        route                        verb
//	Info          GET /v1/info, GET /v1/ps     info, ps
//	Scale         POST /v1/ps/scale            ps:scale
//	Restart       POST /v1/ps/restart          ps:restart
//	StopDynos     POST /v1/ps/stop             ps:stop
//	Config        GET /v1/config               config, run (its env)
//	SetConfig     POST /v1/config              config:set, config:unset
//	Releases      GET /v1/releases             releases
//	Rollback      POST /v1/releases/rollback   releases:rollback
//	Deploy        POST /v1/deploy              deploy
//	Builds        GET /v1/builds               builds
//	BuildByID     GET /v1/builds/{id}          builds ID
//	Event         POST /v1/events              run (a one-off's lifecycle lines)
//	Logs          GET /v1/logs                 logs, logs --tail
//	AddonStatus   GET /v1/addons               addons
//	CreateAddon   POST /v1/addons              addons:create
//	DestroyAddon  DELETE /v1/addons/{name}     addons:destroy
type App interface {
	Info() (runner.Info, error)
	Scale(changes []runner.ScaleChange) (map[string]int, error)
	Restart(sel runner.Select) ([]string, error)
	StopDynos(sel runner.Select) ([]string, error)
	Config() ([]runner.ConfigVar, error)
	SetConfig(set map[string]string, unset []string) (state.Release, error)
	Releases() ([]state.Release, error)
	Rollback(version int) (state.Release, error)
	Deploy() (runner.DeployResult, error)
	Builds(limit int) ([]state.Build, error)
	BuildByID(id string) (state.Build, error)
	Event(process, text string)
	Logs() *logbus.Hub
	AddonStatus() []addons.Status
	CreateAddon(spec addons.Spec) (addons.Status, state.Release, error)
	DestroyAddon(name string) (state.Release, error)
}

var _ App = (*runner.Controller)(nil)

// slugReleaser releases a pushed build's slug (git push dynobox main): the
// receive hook asks the running app to swap its dynos to it.
type slugReleaser interface {
	ReleaseSlug(buildID string) (state.Release, error)
}

var _ slugReleaser = (*runner.Controller)(nil)

// autoscaler is the app's autoscaling and router metrics
// (ps:autoscale:enable, ps:autoscale:disable, metrics); outside App so
// that its fake need not have them.
type autoscaler interface {
	EnableAutoscale(typ string, s autoscale.Settings) (runner.AutoscaleInfo, error)
	DisableAutoscale(typ string) error
	RouterMetrics() (runner.RouterMetrics, error)
}

var _ autoscaler = (*runner.Controller)(nil)

// AutoscaleChange is the body of POST /v1/ps/autoscale.
type AutoscaleChange struct {
	Type          string `json:"type"`
	Min           int    `json:"min"`
	Max           int    `json:"max"`
	P95           int64  `json:"p95_ms"`
	Notifications bool   `json:"notifications"`
}

// SlugRelease is the body of POST /v1/releases/slug.
type SlugRelease struct {
	BuildID string `json:"build_id"`
}

// Handler serves the API for a running app.
func Handler(c App) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		info, err := c.Info()
		reply(w, info, err)
	})
	mux.HandleFunc("GET /v1/ps", func(w http.ResponseWriter, r *http.Request) {
		info, err := c.Info()
		reply(w, PS{Formation: info.Formation, Commands: info.Commands, Dynos: info.Dynos, Build: info.Build, Autoscale: info.Autoscale}, err)
	})
	mux.HandleFunc("POST /v1/ps/scale", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Changes []runner.ScaleChange }
		if !decode(w, r, &req) {
			return
		}
		counts, err := c.Scale(req.Changes)
		reply(w, counts, err)
	})
	mux.HandleFunc("POST /v1/ps/restart", func(w http.ResponseWriter, r *http.Request) { control(w, r, c.Restart) })
	mux.HandleFunc("POST /v1/ps/stop", func(w http.ResponseWriter, r *http.Request) { control(w, r, c.StopDynos) })
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, r *http.Request) {
		vars, err := c.Config()
		reply(w, vars, err)
	})
	mux.HandleFunc("POST /v1/config", func(w http.ResponseWriter, r *http.Request) {
		var req ConfigChange
		if !decode(w, r, &req) {
			return
		}
		rel, err := c.SetConfig(req.Set, req.Unset)
		reply(w, rel, err)
	})
	mux.HandleFunc("GET /v1/releases", func(w http.ResponseWriter, r *http.Request) {
		rels, err := c.Releases()
		if rels == nil {
			rels = []state.Release{}
		}
		reply(w, rels, err)
	})
	mux.HandleFunc("POST /v1/releases/rollback", func(w http.ResponseWriter, r *http.Request) {
		var req struct{ Version int }
		if !decode(w, r, &req) {
			return
		}
		rel, err := c.Rollback(req.Version)
		reply(w, rel, err)
	})
	if s, ok := c.(slugReleaser); ok {
		mux.HandleFunc("POST /v1/releases/slug", func(w http.ResponseWriter, r *http.Request) {
			var req SlugRelease
			if !decode(w, r, &req) {
				return
			}
			rel, err := s.ReleaseSlug(req.BuildID)
			reply(w, rel, err)
		})
	}
	if a, ok := c.(autoscaler); ok {
		mux.HandleFunc("POST /v1/ps/autoscale", func(w http.ResponseWriter, r *http.Request) {
			var req AutoscaleChange
			if !decode(w, r, &req) {
				return
			}
			info, err := a.EnableAutoscale(req.Type, autoscale.Settings{Min: req.Min, Max: req.Max,
				P95: time.Duration(req.P95) * time.Millisecond, Notifications: req.Notifications})
			reply(w, info, err)
		})
		mux.HandleFunc("DELETE /v1/ps/autoscale/{type}", func(w http.ResponseWriter, r *http.Request) {
			reply(w, struct{}{}, a.DisableAutoscale(r.PathValue("type")))
		})
		mux.HandleFunc("GET /v1/metrics", func(w http.ResponseWriter, r *http.Request) {
			m, err := a.RouterMetrics()
			reply(w, m, err)
		})
	}
	mux.HandleFunc("POST /v1/deploy", func(w http.ResponseWriter, r *http.Request) {
		res, err := c.Deploy()
		reply(w, res, err)
	})
	mux.HandleFunc("GET /v1/builds", func(w http.ResponseWriter, r *http.Request) {
		builds, err := c.Builds(50)
		replyBuilds(w, builds, err)
	})
	mux.HandleFunc("GET /v1/builds/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, err := c.BuildByID(r.PathValue("id"))
		replyBuild(w, b, err)
	})
	mux.HandleFunc("POST /v1/events", func(w http.ResponseWriter, r *http.Request) {
		var ev Event
		if !decode(w, r, &ev) {
			return
		}
		if !oneOffName.MatchString(ev.Dyno) || strings.ContainsAny(ev.Text, "\r\n") {
			reply(w, nil, &runner.InputError{Err: fmt.Errorf("events are one line from a one-off dyno run.NNNN, not %q", ev.Dyno)})
			return
		}
		c.Event(ev.Dyno, ev.Text)
		reply(w, struct{}{}, nil)
	})
	mux.HandleFunc("GET /v1/logs", func(w http.ResponseWriter, r *http.Request) { streamLogs(w, r, c.Logs()) })
	mux.HandleFunc("GET /v1/addons", func(w http.ResponseWriter, r *http.Request) { reply(w, c.AddonStatus(), nil) })
	mux.HandleFunc("POST /v1/addons", func(w http.ResponseWriter, r *http.Request) {
		var spec addons.Spec
		if !decode(w, r, &spec) {
			return
		}
		st, rel, err := c.CreateAddon(spec)
		reply(w, AddonChange{Addon: st, Release: rel}, err)
	})
	mux.HandleFunc("DELETE /v1/addons/{name}", func(w http.ResponseWriter, r *http.Request) {
		rel, err := c.DestroyAddon(r.PathValue("name"))
		reply(w, AddonChange{Release: rel}, err)
	})
	return mux
}

// PS is the reply of GET /v1/ps.
type PS struct {
	Formation map[string]int    `json:"formation"`
	Commands  map[string]string `json:"commands"`
	Dynos     []runner.DynoInfo `json:"dynos"`
	// Build is the build in progress or the newest one, so that ps shows
	// a failed build next to the dynos that still run the release before it.
	Build *runner.BuildState `json:"build,omitempty"`
	// Autoscale is the web dynos' autoscaling, if on.
	Autoscale *runner.AutoscaleInfo `json:"autoscale,omitempty"`
	// Stopped: no dynobox runs; this is the saved state.
	Stopped bool `json:"stopped,omitempty"`
}

// AddonChange is the reply of POST /v1/addons and DELETE /v1/addons/NAME.
type AddonChange struct {
	Addon   addons.Status `json:"addon"`
	Release state.Release `json:"release"`
}

// Event is the body of POST /v1/events: a lifecycle line of a one-off
// dyno that "dynobox run" started next to the running app.
type Event struct {
	Dyno string `json:"dyno"`
	Text string `json:"text"`
}

var oneOffName = regexp.MustCompile(`^run\.\d{4}$`)

// ConfigChange is the body of POST /v1/config.
type ConfigChange struct {
	Set   map[string]string `json:"set,omitempty"`
	Unset []string          `json:"unset,omitempty"`
}

// errorBody is every error reply.
type errorBody struct {
	Error string `json:"error"`
}

func reply(w http.ResponseWriter, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		var ie *runner.InputError
		if errors.As(err, &ie) {
			code = http.StatusBadRequest
		}
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(errorBody{err.Error()})
		return
	}
	json.NewEncoder(w).Encode(v)
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		reply(w, nil, &runner.InputError{Err: fmt.Errorf("bad request body: %v", err)})
		return false
	}
	return true
}

func control(w http.ResponseWriter, r *http.Request, fn func(runner.Select) ([]string, error)) {
	var sel runner.Select
	if !decode(w, r, &sel) {
		return
	}
	names, err := fn(sel)
	if err != nil {
		err = &runner.InputError{Err: err}
	}
	if names == nil {
		names = []string{}
	}
	reply(w, names, err)
}

// LogLine is one line of GET /v1/logs (newline-delimited JSON).
type LogLine struct {
	Time    time.Time `json:"time"`
	Source  string    `json:"source"`
	Process string    `json:"process"`
	Text    string    `json:"text"`
}

// streamLogs writes the last n lines, then with tail=1 every new line until
// the client goes away. A tail that falls behind gets an L10 line saying
// how many lines it missed; it never slows the bus.
func streamLogs(w http.ResponseWriter, r *http.Request, hub *logbus.Hub) {
	q := r.URL.Query()
	n := 100
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			reply(w, nil, &runner.InputError{Err: fmt.Errorf("-n %q: want a number of lines", s)})
			return
		}
		n = min(v, MaxLogLines)
	}
	f := logbus.Filter{Dyno: q.Get("dyno"), Type: q.Get("type"), Source: q.Get("source")}
	tail := q.Get("tail") == "1"
	var sub *logbus.Subscription
	if tail { // subscribe before reading history, so no line falls between
		sub = hub.Subscribe(f, 1024)
		defer sub.Close()
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	for _, l := range hub.Recent(n, f) {
		enc.Encode(LogLine{l.Time, l.Source, l.Process, l.Text})
	}
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	if !tail {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case b, ok := <-sub.C:
			if !ok {
				return
			}
			if missed := sub.TakeMissed(); missed > 0 {
				enc.Encode(LogLine{time.Now(), logbus.SourceHeroku, "logplex",
					fmt.Sprintf("Error L10 (output buffer overflow): %d messages dropped since this tail fell behind", missed)})
			}
			var err error
			b.Lines(func(text []byte) {
				if err == nil {
					err = enc.Encode(LogLine{b.Time, b.Source, b.Process, string(text)})
				}
			})
			if err != nil {
				return
			}
			if len(sub.C) == 0 && flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// Listen serves h on a Unix socket at path (mode 0600). A socket left by
// a killed dynobox is removed; one that answers belongs to a live dynobox.
func Listen(path string) (net.Listener, error) {
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("another dynobox answers on %s", path)
	}
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("api socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("api socket: %w", err)
	}
	return l, nil
}
