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
	opts := watch.Options{
		StateDir: stateDir,
		OnError:  func(err error) { event("watch: " + err.Error()) },
		OnReady: func(dirs int) {
			event(fmt.Sprintf("Watching %s (%d directories): a save deploys, a changed .env or Procfile reloads", app.Dir, dirs))
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
