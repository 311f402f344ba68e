package api

import (
	"bytes"
	"net/http"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/state"
)

// OfflineHandler answers the verbs that work on a stopped app — info, ps
// (no dynos, and the newest build), config, config:set/unset, releases, builds, logs, addons — from its saved
// state, in the same shapes as Handler, so each verb prints the same way
// either way. What needs running dynos (ps, scaling, restarts, deploys,
// add-on changes) is not found here: the client reports "not running".
func OfflineHandler(o *runner.Offline) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/info", func(w http.ResponseWriter, r *http.Request) {
		info, err := o.Info()
		reply(w, info, err)
	})
	mux.HandleFunc("GET /v1/ps", func(w http.ResponseWriter, r *http.Request) {
		info, err := o.Info()
		reply(w, PS{Formation: info.Formation, Commands: info.Commands, Dynos: info.Dynos, Build: info.Build, Autoscale: info.Autoscale, Stopped: true}, err)
	})
	mux.HandleFunc("GET /v1/config", func(w http.ResponseWriter, r *http.Request) {
		vars, err := o.Config()
		reply(w, vars, err)
	})
	mux.HandleFunc("POST /v1/config", func(w http.ResponseWriter, r *http.Request) {
		var req ConfigChange
		if !decode(w, r, &req) {
			return
		}
		rel, err := o.SetConfig(req.Set, req.Unset)
		reply(w, rel, err)
	})
	mux.HandleFunc("GET /v1/releases", func(w http.ResponseWriter, r *http.Request) {
		rels, err := o.Releases()
		if rels == nil {
			rels = []state.Release{}
		}
		reply(w, rels, err)
	})
	mux.HandleFunc("GET /v1/builds", func(w http.ResponseWriter, r *http.Request) {
		builds, err := o.Builds(50)
		replyBuilds(w, builds, err)
	})
	mux.HandleFunc("GET /v1/builds/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, err := o.Build(r.PathValue("id"))
		replyBuild(w, b, err)
	})
	mux.HandleFunc("GET /v1/logs", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		q.Del("tail") // nothing runs that could add a line
		r.URL.RawQuery = q.Encode()
		streamLogs(w, r, o.Logs())
	})
	mux.HandleFunc("GET /v1/addons", func(w http.ResponseWriter, r *http.Request) {
		list, err := o.AddonStatus()
		reply(w, list, err)
	})
	return mux
}

// replyBuilds answers GET /v1/builds: the list without each build's
// output (GET /v1/builds/ID has it).
func replyBuilds(w http.ResponseWriter, builds []state.Build, err error) {
	if builds == nil {
		builds = []state.Build{}
	}
	for i := range builds {
		builds[i].Output = ""
	}
	reply(w, builds, err)
}

// replyBuild answers GET /v1/builds/ID; an unknown id is the request's fault.
func replyBuild(w http.ResponseWriter, b state.Build, err error) {
	if err != nil {
		err = &runner.InputError{Err: err}
	}
	reply(w, b, err)
}

// recorder is the response of a handler served in-process.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(p []byte) (int, error) { return r.body.Write(p) }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
