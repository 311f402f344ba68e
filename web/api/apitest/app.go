// Package apitest is a fake of the running app for the tests of web/api
// and web/dashboard: it answers what a test sets and records what it was
// asked to change. It implements api.App, plus the Name and Stats the
// dashboard asks for. Only tests import it; it is not part of the binary.
package apitest

import (
	"fmt"
	"sync"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/state"
)

// App is a running app whose answers a test sets. Every call that can
// fail returns Err; a change (scale, restart, stop, config, rollback,
// add-on create and destroy, event) is recorded for Calls. Scale answers
// web=3, StopDynos web.1 and CreateAddon heroku-redis, whatever they were
// asked.
type App struct {
	Err       error
	AppName   string
	InfoReply runner.Info
	Vars      []runner.ConfigVar
	BuildList []state.Build
	Release   state.Release // what config, rollback and add-on changes return
	Hub       *logbus.Hub
	Samples   runner.Stats

	mu    sync.Mutex
	calls []string
}

// Calls are the changes the app was asked for, in order, as
// "scale [{Type:web Op:= N:3}]", "restart {Type:web Dyno:}" and so on.
func (f *App) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *App) called(format string, args ...any) {
	f.mu.Lock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

func (f *App) Name() string                        { return f.AppName }
func (f *App) Stats() runner.Stats                 { return f.Samples }
func (f *App) Info() (runner.Info, error)          { return f.InfoReply, f.Err }
func (f *App) Config() ([]runner.ConfigVar, error) { return f.Vars, f.Err }
func (f *App) Releases() ([]state.Release, error)  { return nil, f.Err }
func (f *App) Deploy() (runner.DeployResult, error) {
	return runner.DeployResult{}, f.Err
}
func (f *App) Builds(limit int) ([]state.Build, error)  { return f.BuildList, f.Err }
func (f *App) BuildByID(id string) (state.Build, error) { return state.Build{}, f.Err }
func (f *App) Logs() *logbus.Hub                        { return f.Hub }
func (f *App) AddonStatus() []addons.Status             { return []addons.Status{} }
func (f *App) Event(process, text string)               { f.called("event %s %q", process, text) }

func (f *App) Scale(ch []runner.ScaleChange) (map[string]int, error) {
	f.called("scale %+v", ch)
	return map[string]int{"web": 3}, f.Err
}

func (f *App) Restart(sel runner.Select) ([]string, error) {
	f.called("restart %+v", sel)
	return nil, f.Err
}

func (f *App) StopDynos(sel runner.Select) ([]string, error) {
	f.called("stop %+v", sel)
	return []string{"web.1"}, f.Err
}

func (f *App) SetConfig(set map[string]string, unset []string) (state.Release, error) {
	f.called("config set=%v unset=%v", set, unset)
	return f.Release, f.Err
}

func (f *App) Rollback(v int) (state.Release, error) {
	f.called("rollback %d", v)
	return f.Release, f.Err
}

func (f *App) CreateAddon(spec addons.Spec) (addons.Status, state.Release, error) {
	f.called("create %+v", spec)
	return addons.Status{Name: "heroku-redis"}, f.Release, f.Err
}

func (f *App) DestroyAddon(name string) (state.Release, error) {
	f.called("destroy %s", name)
	return f.Release, f.Err
}
