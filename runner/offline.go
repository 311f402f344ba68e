package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/internal/proc"
	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// Offline is the app while no dynobox runs for it, as the verbs that
// work on a stopped app see it — Heroku's CLI answers whatever the dynos
// do: releases, builds, config vars, add-on records and the saved log
// history come from the state database, the Procfile and env files from
// the app directory. It reads the database without the start lock: SQLite's
// WAL and busy timeout let a dynobox that starts meanwhile read and write
// alongside. It never starts anything, and it creates the state directory
// only for a change (config:set) on an app that was never started.
type Offline struct {
	App      *App
	StateDir string
	// Starting is the pid of a dynobox that holds the app's start lock
	// but does not answer on its socket yet (0: none).
	Starting int

	store *state.Store // nil: the app has no state yet
}

// OpenOffline reads the app in appDir and, when there is one, its state
// database in stateDir. Problems in the app's files do not stop it: the
// saved state is still worth showing.
func OpenOffline(appDir, stateDir string) (*Offline, error) {
	o := &Offline{StateDir: stateDir, Starting: proc.FlockHolder(filepath.Join(stateDir, "start.lock"))}
	app, err := LoadApp(LoadOptions{Dir: appDir, ProcfileOptional: true, Secret: keptSecret(filepath.Join(stateDir, "secrets.json"))})
	if app == nil {
		return nil, err
	}
	if app.Procfile == nil { // one that does not parse: the saved state is still worth showing
		app.Procfile = &procfile.Procfile{}
	}
	o.App = app
	db := filepath.Join(stateDir, "state.db")
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return o, nil
	}
	if o.store, err = state.Open(db); err != nil {
		return nil, err
	}
	if pf := PushedProcfile(o.store, stateDir); pf != nil {
		app.Procfile = pf // a pushed release runs its own Procfile
	}
	return o, nil
}

// Close closes the state database.
func (o *Offline) Close() error {
	if o.store == nil {
		return nil
	}
	return o.store.Close()
}

// keptSecret reads app.json generator:"secret" values from the secrets
// file without generating any: a stopped app shows what it will run with.
func keptSecret(path string) func(string) (string, error) {
	return func(key string) (string, error) {
		m := map[string]string{}
		if data, err := os.ReadFile(path); err == nil {
			json.Unmarshal(data, &m)
		}
		if v, ok := m[key]; ok {
			return v, nil
		}
		return "(generated on start)", nil
	}
}

// Name is the app's name: its directory's name.
func (o *Offline) Name() string { return filepath.Base(o.App.Dir) }

// Info is the stopped app: its current release, formation, add-ons and
// commands, with no dynos.
func (o *Offline) Info() (Info, error) {
	info := Info{Name: o.Name(), Dir: o.App.Dir, State: "stopped", Formation: DefaultFormation(o.App.Procfile, o.App.AppJSON),
		Dynos: []DynoInfo{}, Commands: map[string]string{}}
	for _, e := range o.App.Procfile.Entries {
		info.Commands[e.Name] = e.Command
	}
	var err error
	if info.Addons, err = o.AddonStatus(); err != nil || o.store == nil {
		return info, err
	}
	rels, err := o.store.Releases(1)
	if err != nil {
		return info, err
	}
	if len(rels) > 0 {
		info.Release = rels[0].Version
	}
	info.Build = newestBuild(nil, o.store)
	if a, ok, err := o.store.Autoscale(AutoscaleType); err == nil && ok {
		info.Autoscale = &AutoscaleInfo{Type: a.Type, Min: a.Min, Max: a.Max, P95: a.P95.Milliseconds(), Notifications: a.Notifications}
	}
	saved, err := o.store.Formation()
	for t, n := range saved {
		if _, ok := o.App.Procfile.Lookup(t); ok && t != ReleaseType { // as start reads it
			info.Formation[t] = n
		}
	}
	return info, err
}

// Config lists the config vars the next start runs with, as Controller's
// Config does, but without the add-ons' vars: those are made when the
// add-ons start.
func (o *Offline) Config() ([]ConfigVar, error) {
	all := map[string]ConfigVar{}
	for k, v := range o.App.FileEnv {
		all[k] = ConfigVar{k, v, "env"}
	}
	if o.store != nil {
		vars, err := o.store.ConfigVars()
		if err != nil {
			return nil, err
		}
		for k, v := range vars {
			all[k] = ConfigVar{k, v, "config"}
		}
	}
	out := make([]ConfigVar, 0, len(all))
	for _, v := range all {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// SetConfig records a config change as a new release, as Heroku's
// config:set does while the dynos are off. The next start runs that
// release: its release phase and dynos get the new config vars.
func (o *Offline) SetConfig(set map[string]string, unset []string) (state.Release, error) {
	if o.Starting != 0 {
		return state.Release{}, fmt.Errorf("dynobox is starting for %s (pid %d); try again once it answers", o.App.Dir, o.Starting)
	}
	if o.store == nil {
		sd, err := OpenStateDir(o.StateDir)
		if err != nil {
			return state.Release{}, err
		}
		if o.store, err = state.Open(sd.File("state.db")); err != nil {
			return state.Release{}, err
		}
	}
	have, err := o.store.ConfigVars()
	if err != nil {
		return state.Release{}, err
	}
	recs, err := o.store.Addons()
	if err != nil {
		return state.Release{}, err
	}
	desc, err := checkConfigChange(set, unset, addonVarNames(recs), have)
	if err != nil {
		return state.Release{}, err
	}
	if rels, err := o.store.Releases(1); err == nil && len(rels) == 0 {
		o.store.AddRelease("Initial release", "") // as the first start would have
	}
	rel, err := o.store.UpdateConfig(set, unset, desc)
	if err != nil {
		return rel, err
	}
	// app[api] lines, as a running dynobox logs them, so `logs` shows the change.
	now := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o.store.AppendLogs(ctx, []state.LogLine{
		{At: now, Source: logbus.SourceApp, Process: "api", Text: desc},
		{At: now, Source: logbus.SourceApp, Process: "api", Text: fmt.Sprintf("Release v%d created; the next start runs it", rel.Version)},
	}, HistoryLines)
	return rel, nil
}

// addonVarNames are the config vars the recorded add-ons set when they
// start (their values exist only then), so config:set cannot shadow them
// while the app is stopped either.
func addonVarNames(recs []state.AddonRecord) map[string]string {
	out := map[string]string{}
	for _, r := range recs {
		if r.As != "" {
			out[strings.ToUpper(strings.ReplaceAll(r.As, "-", "_"))+"_URL"] = ""
			continue
		}
		switch (addons.Spec{Plan: r.Plan}).Service() {
		case addons.PostgresService:
			if r.Name == addons.PostgresService {
				out["DATABASE_URL"] = ""
			}
		case addons.RedisService:
			out["REDIS_URL"], out["REDIS_TLS_URL"] = "", ""
		case addons.KafkaService:
			for _, k := range []string{"KAFKA_URL", "KAFKA_TRUSTED_CERT", "KAFKA_CLIENT_CERT", "KAFKA_CLIENT_CERT_KEY", "KAFKA_PREFIX"} {
				out[k] = ""
			}
		}
	}
	return out
}

// Releases lists releases, newest first.
func (o *Offline) Releases() ([]state.Release, error) {
	if o.store == nil {
		return nil, nil
	}
	return o.store.Releases(0)
}

// Builds lists builds, newest first, at most limit.
func (o *Offline) Builds(limit int) ([]state.Build, error) {
	if o.store == nil {
		return nil, nil
	}
	return o.store.Builds(limit)
}

// Build returns one recorded build.
func (o *Offline) Build(id string) (state.Build, error) {
	if o.store == nil {
		return state.Build{}, fmt.Errorf("no build %s is recorded", id)
	}
	return o.store.Build(id)
}

// Logs is the saved log history — what the last run printed, a failed
// start's build output and errors among it — as a hub for `logs`.
func (o *Offline) Logs() *logbus.Hub {
	hub := logbus.NewHub(HistoryLines)
	if o.store != nil {
		hub.Preload(LoadHistory(o.store, HistoryLines))
	}
	return hub
}

// AddonStatus lists the attached add-ons, all stopped.
func (o *Offline) AddonStatus() ([]addons.Status, error) {
	list := []addons.Status{}
	if o.store == nil {
		return list, nil
	}
	recs, err := o.store.Addons()
	for _, r := range recs {
		list = append(list, addons.Status{Name: r.Name, Plan: r.Plan, State: "stopped (dynobox is not running)", Config: map[string]string{}})
	}
	return list, err
}
