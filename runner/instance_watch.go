package runner

// The watcher of a run: deploys on save, reloads on a changed .env or
// Procfile (see runner/watch for what counts as a save).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/watch"
)

// appWatcher deploys on every save in the app directory and reloads the
// env files and the Procfile when they change, until Run's context ends.
// It runs from before the start's build, so that what the build and the
// dynos' first boot write is known as theirs (watch.Options.Booting):
// Scanned closes once the watcher sees changes, or Run has returned;
// started is to be closed once the dynos were launched. settleLimit bounds
// the wait for dynos to boot (see waitSettled).
type appWatcher struct {
	ctl         *Controller
	settleLimit time.Duration
	started     <-chan struct{}
	scanned     chan struct{}
	scanOnce    sync.Once
}

// newAppWatcher returns the app's watcher; it starts nothing until Run.
func newAppWatcher(ctl *Controller, settleLimit time.Duration, started <-chan struct{}) *appWatcher {
	return &appWatcher{ctl: ctl, settleLimit: settleLimit, started: started, scanned: make(chan struct{})}
}

// Scanned closes once the watcher sees changes, or Run has returned.
func (w *appWatcher) Scanned() <-chan struct{} { return w.scanned }

func (w *appWatcher) scan() { w.scanOnce.Do(func() { close(w.scanned) }) }

// Run watches until ctx ends. A watcher that cannot watch says so on the
// log and returns nil: the app runs on, deployed with "dynobox deploy".
func (w *appWatcher) Run(ctx context.Context) error {
	defer w.scan()
	ctl, settleLimit, started := w.ctl, w.settleLimit, w.started
	app, stateDir := ctl.App, ctl.StateDir
	event := func(msg string) { ctl.Bus.Event(logbus.SourceHeroku, "dynobox", msg) }
	// Absolute: a relative state directory is relative to where dynobox
	// runs, not to the app (start -C app); watching it would deploy on
	// every write of a build or an add-on.
	if abs, err := filepath.Abs(stateDir); err == nil {
		stateDir = abs
	}
	opts := watch.Options{
		StateDir: stateDir,
		// dynobox's own output redirected into the app (start > dev.out):
		// every log line would deploy, and the deploy's lines deploy again.
		Ignore:  ownOutputFiles(app.Dir),
		OnError: func(err error) { event("watch: " + err.Error()) },
		Booting: func() {
			w.scan()
			select {
			case <-started:
				waitSettled(ctx, ctl.Sup, settleLimit)
			case <-ctx.Done():
			}
		},
		Notice: event,
		// What the dynos write (an upload, a log) never deploys.
		Writers: Writers(ctl.Session, app.Dir),
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
	// A deploy is over for the watcher once its dynos have booted: what
	// they write as they boot is the deploy's, not a save (watch.Options.Settle).
	onChange := func(ch watch.Change) {
		if !ch.Overflow {
			event("Changed: " + listPaths(ch.Paths))
		}
		ctl.OnChange(ch)
		waitSettled(ctx, ctl.Sup, settleLimit)
	}
	if err := watch.New(app.Dir, opts).Run(ctx, onChange); err != nil {
		event(fmt.Sprintf("Not watching for changes: %v (deploy with \"dynobox deploy\")", err))
	}
	return nil
}

// waitSettled waits until no dyno is starting, stopping or about to
// restart, at most limit.
func waitSettled(ctx context.Context, sup *Supervisor, limit time.Duration) {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(100 * time.Millisecond) // a restart asked for is no state change yet
	defer tick.Stop()
	for {
		changed := sup.Changed()
		if !sup.Settling() {
			return
		}
		select {
		case <-changed:
		case <-tick.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// ownOutputFiles are dynobox's standard output and error when they are
// files inside the app directory, as anchored ignore patterns.
func ownOutputFiles(appDir string) []string {
	var out []string
	for _, fd := range []int{1, 2} {
		target, ok := proc.FileOf(fd)
		if !ok || !filepath.IsAbs(target) {
			continue // a pipe, a socket, or not Linux
		}
		if st, err := os.Stat(target); err != nil || !st.Mode().IsRegular() {
			continue
		}
		if rel, ok := relativeTo(appDir, target); ok {
			out = append(out, "/"+escapeGlob(filepath.ToSlash(rel)))
		}
	}
	return out
}

// escapeGlob makes a file name a gitignore pattern that matches only it.
func escapeGlob(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`*?[]\!#`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// listPaths names a few paths of a change.
func listPaths(paths []string) string {
	if len(paths) > 5 {
		return fmt.Sprintf("%s and %d more", strings.Join(paths[:5], ", "), len(paths)-5)
	}
	return strings.Join(paths, ", ")
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
