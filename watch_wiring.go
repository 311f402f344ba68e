package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/watch"
)

// watchApp deploys on every save in the app directory and reloads the env
// files and the Procfile when they change, until ctx ends. The returned
// channel closes once watching has stopped.
func watchApp(ctl *runner.Controller, app *runner.App, stateDir string, ctx context.Context) <-chan struct{} {
	event := func(msg string) { ctl.Bus.Event(logbus.SourceHeroku, "dynobox", msg) }
	// Absolute: a relative state directory is relative to where dynobox
	// runs, not to the app (start -C app); watching it would deploy on
	// every write of a build or an add-on.
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	opts := watch.Options{
		StateDir: stateDir,
		OnError:  func(err error) { event("watch: " + err.Error()) },
		OnReady: func(dirs int) {
			what := "directories"
			if dirs == 1 {
				what = "directory"
			}
			event(fmt.Sprintf("Watching %s (%d %s): a save deploys, a changed .env or Procfile reloads", app.Dir, dirs, what))
		},
	}
	if rel, ok := relativeTo(app.Dir, app.ProcfilePath); ok {
		opts.Procfile = rel
	}
	for _, f := range app.EnvFiles {
		if rel, ok := relativeTo(app.Dir, f); ok {
			opts.EnvFiles = append(opts.EnvFiles, rel)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := watch.New(app.Dir, opts).Run(ctx, ctl.OnChange); err != nil {
			event(fmt.Sprintf("Not watching for changes: %v (deploy with \"dynobox deploy\")", err))
		}
	}()
	return done
}

// relativeTo is path relative to dir, when it lies inside dir.
func relativeTo(dir, path string) (string, bool) {
	if path == "" {
		return "", false
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == ".." || len(rel) > 2 && rel[:3] == "../" {
		return "", false
	}
	return rel, true
}
