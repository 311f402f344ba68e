// Package dashboard serves dynobox's web dashboard: one page (plain HTML,
// CSS and JavaScript embedded in the binary) that shows the running app
// live and steers it through the same JSON API handlers as the CLI verbs.
//
// The dashboard adds only what the API lacks: a Server-Sent Events log
// stream, per-dyno CPU and memory (runner samples them), and revealing one
// masked secret on request. Every route sits behind guard (security.go):
// a loopback Host, and a per-run token plus a same-origin check on every
// request that changes state or reveals a secret. Config var values that
// look secret are masked on the server (mask.go, by runner.MaskSecret)
// before they reach the page.
//
// Its contract: New starts nothing and nothing loops; Handler serves. It never prints, and changes the app only through the
// same API handlers as the CLI verbs.
package dashboard

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/web/api"
)

//go:embed assets
var assets embed.FS

// App is what the dashboard shows and steers: what the API serves, plus
// the app's name for the page and its dynos' CPU and memory for the
// charts. runner.Controller implements it; the dashboard reaches nothing
// behind it, so its handlers are tested against a fake.
type App interface {
	api.App
	Name() string
	Stats() runner.Stats
}

var _ App = (*runner.Controller)(nil)

// Dashboard is the web UI of one running app.
type Dashboard struct {
	app   App    // nil: a page without an app (tests of the guard and assets)
	token string // per run; embedded in the page, required on every change

	// hosts are Host names accepted besides loopback ones (see AllowHost).
	hosts map[string]bool

	secretsMu sync.Mutex
	secrets   *strings.Replacer // masks secret values in log lines
	secretsAt time.Time
}

// New returns the dashboard of app. It starts nothing: serve Handler.
func New(app App) *Dashboard {
	var b [32]byte
	rand.Read(b[:])
	return &Dashboard{
		app:   app,
		token: hex.EncodeToString(b[:]),
		hosts: map[string]bool{},
	}
}

// AllowHost accepts Host headers naming host (without port), besides
// loopback names and addresses: for a dashboard the user chose to bind to
// another address with --dashboard.
func (d *Dashboard) AllowHost(host string) { d.hosts[strings.ToLower(host)] = true }

// Handler serves the dashboard: the page and its assets, the API under
// /api/v1/ and the dashboard's own routes under /api/dash/.
func (d *Dashboard) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "assets")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticFiles(static)))
	mux.HandleFunc("GET /{$}", d.servePage)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})

	apiHandler := http.StripPrefix("/api", api.Handler(d.app))
	// Only these API routes are mounted: a route added to the API later is
	// not exposed to the browser until someone decides it is safe here.
	for _, route := range []string{
		"GET /api/v1/ps", "GET /api/v1/releases",
		"POST /api/v1/ps/scale", "POST /api/v1/ps/restart", "POST /api/v1/ps/stop",
		"POST /api/v1/config", "POST /api/v1/releases/rollback",
		"POST /api/v1/addons", "DELETE /api/v1/addons/{name}",
		"POST /api/v1/deploy", "GET /api/v1/builds", "GET /api/v1/builds/{id}",
		"GET /api/v1/metrics",
	} {
		mux.Handle(route, apiHandler)
	}
	// These carry config var values: they pass through the mask.
	mux.Handle("GET /api/v1/info", maskReply(apiHandler, maskInfo))
	mux.Handle("GET /api/v1/config", maskReply(apiHandler, maskConfig))
	mux.Handle("GET /api/v1/addons", maskReply(apiHandler, maskAddons))

	mux.HandleFunc("GET /api/dash/logs", d.serveLogs)
	mux.HandleFunc("GET /api/dash/stats", d.serveStats)
	mux.HandleFunc("GET /api/dash/tests", d.serveTests)
	mux.HandleFunc("POST /api/dash/reveal", d.serveReveal)
	return d.guard(mux)
}

var page = template.Must(template.ParseFS(assets, "assets/index.html"))

func (d *Dashboard) servePage(w http.ResponseWriter, r *http.Request) {
	name := "app"
	if d.app != nil && d.app.Name() != "" {
		name = d.app.Name()
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, struct{ Name, Token, Version string }{name, d.token, assetVersion}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// assetVersion changes with every run, so a browser never mixes the page
// of one dynobox with the script of an older one.
var assetVersion = time.Now().Format("20060102150405")

func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// serveReveal answers {"key": K} with K's real value: the one way a
// secret reaches the page, after the user clicked reveal or copy.
func (d *Dashboard) serveReveal(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Key string `json:"key"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil || req.Key == "" {
		writeJSON(w, http.StatusBadRequest, errorReply{"want {\"key\": \"NAME\"}"})
		return
	}
	vars, err := d.app.Config()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, errorReply{err.Error()})
		return
	}
	for _, v := range vars {
		if v.Key == req.Key {
			writeJSON(w, http.StatusOK, map[string]string{"key": v.Key, "value": v.Value})
			return
		}
	}
	writeJSON(w, http.StatusNotFound, errorReply{"no config var " + req.Key})
}

type errorReply struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func (d *Dashboard) serveStats(w http.ResponseWriter, r *http.Request) {
	if d.app == nil {
		writeJSON(w, http.StatusOK, runner.Stats{Times: []int64{}, Dynos: map[string]runner.DynoSeries{}})
		return
	}
	writeJSON(w, http.StatusOK, d.app.Stats())
}
