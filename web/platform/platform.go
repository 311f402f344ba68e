// Package platform serves Heroku's Platform API (v3) for the running app,
// so that the real `heroku` CLI — and scripts written against the API —
// drive dynobox unchanged:
//
//	HEROKU_HOST=http://127.0.0.1:PORT HEROKU_API_KEY=KEY heroku ps -a APP
//
// Its contract: the handlers serve an App (runner.Controller answers it)
// and reach nothing behind it, so they are tested against a fake. Every
// request must name a loopback host (or one allowed with AllowHost; else
// 421) and carry the key as a Bearer token or a Basic password (else 401).
// The one app is known by its name or id; any other is Heroku's 404. Every
// error reply is Heroku's error JSON ({"id": …, "message": …}), never
// HTML, mapped once in writeError; an endpoint of Heroku's API that
// dynobox lacks answers 404 not_found naming it.
//
// The CLI sends every call to HEROKU_HOST's host and port but drops its
// path (checked with heroku 11.10.0), so the API has a listener of its own
// rather than a prefix on the dashboard's.
//
// Lists are answered whole, 200, never Heroku's pages (206 with
// Next-Range, 200 items each). That is enough for the CLI (11.10.0): its
// release reads (releases -n N, config:set, releases:info, rollback) send
// `max=N` with partial set, so it takes one reply whatever its status;
// every other list it follows Next-Range only when sent, so one whole
// reply is what it would have put together; domains pages by status and
// stops at a 200. A script that pages gets everything at once. The cuts:
// a Range max=N gives the first N (at most 1000, as Heroku), still 200, so
// a script paging with an explicit max sees the first page only; builds
// lists the newest 200. An app's lists stay short on one machine (a
// release per config change or deploy), so whole replies stay small.
package platform

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/internal/hostcheck"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// App is what the Platform API serves: the running app, as
// runner.Controller implements it.
type App interface {
	Info() (runner.Info, error)
	Scale(changes []runner.ScaleChange) (map[string]int, error)
	Restart(sel runner.Select) ([]string, error)
	StopDynos(sel runner.Select) ([]string, error)
	Config() ([]runner.ConfigVar, error)
	SetConfig(set map[string]string, unset []string) (state.Release, error)
	Releases() ([]state.Release, error)
	Rollback(version int) (state.Release, error)
	Builds(limit int) ([]state.Build, error)
	Logs() *logbus.Hub
	AddonStatus() []addons.Status
}

var _ App = (*runner.Controller)(nil)

// Config says how the API presents the app.
type Config struct {
	// Name is the app's name in the API (-a NAME): app.json's name, else
	// the directory's.
	Name string
	// Key is the API key every request must carry.
	Key string
	// Run starts a detached one-off dyno running command with env added
	// to the app's, its output going to the log, and returns its name
	// (run.NNNN) and stop, which asks it to stop (ps:stop run.NNNN); it
	// calls exited once the dyno is gone. Nil: heroku run:detached is not
	// supported.
	Run func(command string, env map[string]string, exited func()) (dyno string, stop func(), err error)
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Server is the Platform API of one app.
type Server struct {
	ctl   App
	cfg   Config
	hosts map[string]bool
	mux   *http.ServeMux

	mu       sync.Mutex
	sessions map[string]logSession // log-session token → what it streams
	oneOffs  map[string]oneOff     // detached one-off dynos running, by name
}

// oneOff is a detached one-off dyno while it runs.
type oneOff struct {
	dyno dynoResource
	stop func()
}

// New returns the API of app; it starts nothing.
func New(app App, cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{ctl: app, cfg: cfg, hosts: map[string]bool{}, sessions: map[string]logSession{},
		oneOffs: map[string]oneOff{}}
	s.routes()
	return s
}

// AllowHost accepts host (besides loopback names and addresses) in Host
// headers.
func (s *Server) AllowHost(host string) { s.hosts[strings.ToLower(host)] = true }

// Handler is the API: the Host check, then the key (except on log streams,
// whose URL carries a token of its own, as Logplex's do), then the routes.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "no-store")
		if !s.hostAllowed(r.Host) {
			writeError(w, &apiError{http.StatusMisdirectedRequest, "misdirected_request",
				"refusing a request for host " + quote(r.Host) + ": use http://127.0.0.1:PORT as HEROKU_HOST", ""})
			return
		}
		if !strings.HasPrefix(r.URL.Path, logStreamPath) && !s.authorized(r) {
			writeError(w, &apiError{http.StatusUnauthorized, "unauthorized",
				"Invalid credentials provided. dynobox: export HEROKU_API_KEY as `dynobox info` prints it.", ""})
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

// authorized checks the key: `Authorization: Bearer KEY` as the CLI sends
// it with HEROKU_API_KEY, or Basic with KEY as password (~/.netrc).
func (s *Server) authorized(r *http.Request) bool {
	got := ""
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		got = t
	} else if _, p, ok := r.BasicAuth(); ok {
		got = p
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Key)) == 1
}

// hostAllowed: a DNS-rebinding page reaches 127.0.0.1 under its own name,
// so its requests carry that name and stop here (as at the dashboard).
func (s *Server) hostAllowed(hostport string) bool {
	return hostcheck.Allowed(hostport, s.hosts)
}

// apiError is an error reply in Heroku's shape.
type apiError struct {
	status   int
	id       string
	message  string
	resource string // what was not found: "app", "add_on"… (the CLI checks it)
}

func (e *apiError) Error() string { return e.message }

func notFound(resource, message string) *apiError {
	return &apiError{http.StatusNotFound, "not_found", message, resource}
}

func invalid(format string, args ...any) *apiError {
	return &apiError{http.StatusUnprocessableEntity, "invalid_params", fmt.Sprintf(format, args...), ""}
}

// writeError maps every error to Heroku's error JSON: a user's mistake in
// dynobox's terms (*runner.InputError) is 422 invalid_params, anything
// unknown 500.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		var ie *runner.InputError
		if errors.As(err, &ie) {
			ae = invalid("%s", ie.Err.Error())
		} else {
			ae = &apiError{http.StatusInternalServerError, "internal_server_error", err.Error(), ""}
		}
	}
	body := map[string]string{"id": ae.id, "message": ae.message}
	if ae.resource != "" {
		body["resource"] = ae.resource
	}
	writeJSON(w, ae.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// reply writes v with status, or err.
func reply(w http.ResponseWriter, status int, v any, err error) {
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, status, v)
}

func decode(r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil // Heroku accepts no body where every field is optional
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(v); err != nil {
		return invalid("bad request body: %v", err)
	}
	return nil
}

// id is a stable UUID-shaped id for what key names: the same app, release
// or dyno keeps its id across requests and restarts.
func id(key string) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:32]
}

// NewKey returns a random API key.
func NewKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("platform api key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return `"` + strings.Map(func(r rune) rune {
		if r < ' ' || r == '"' {
			return '?'
		}
		return r
	}, s) + `"`
}
