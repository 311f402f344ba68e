package runner

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/slug"
	"github.com/dynobox/dynobox/runner/state"
)

// A push to an app no dynobox runs: the release is recorded for the next
// start, and its release phase (the pushed Procfile's release: command)
// runs now, inside the push, against the app's add-ons — as Heroku runs a
// release command against the app's add-ons before the push completes. A
// failed release command rejects the push; the next start runs the release
// before it.

// OfflineRelease says which pushed build to release while no dynobox runs.
type OfflineRelease struct {
	AppDir, StateDir string
	BuildID          string
	// Session marks the release command's processes (and the add-ons
	// started for it) for the watchdog the caller runs.
	Session string
	// Log receives each line to show the pusher.
	Log func(line string)
}

// ReleaseSlugOffline records a release of a pushed build while no dynobox
// runs and runs its release phase, if its Procfile has one. A failed phase
// leaves the release recorded as failed (the next start runs the one
// before) and returns an error wrapping ErrReleaseFailed.
func ReleaseSlugOffline(ctx context.Context, o OfflineRelease) (state.Release, error) {
	abs, err := filepath.Abs(o.StateDir) // PATH entries in a slug copy are absolute
	if err != nil {
		return state.Release{}, err
	}
	o.StateDir = abs
	// The app's lock, for the whole release: no dynobox start boots while
	// the release is being recorded or its release command runs (it waits
	// for this push), and none that began first misses this release (the
	// push releases through it instead: *AlreadyRunningError).
	sd, err := OpenStateDir(o.StateDir)
	if err != nil {
		return state.Release{}, err
	}
	if err := sd.lockSweeping(o.AppDir, o.Session, HolderPush); err != nil {
		return state.Release{}, err
	}
	defer sd.Unlock()
	defer slug.RemoveSpares(o.StateDir) // the push's spare, if no release phase took it: no copy outlives the push
	m, err := slug.Read(o.StateDir, o.BuildID)
	if err != nil {
		return state.Release{}, err
	}
	if err := provisionAddonsOffline(o.AppDir, o.StateDir, slugReleaseAddons(o.StateDir, o.BuildID), o.Log); err != nil {
		return state.Release{}, err
	}
	var entry procfile.Entry
	hasPhase := false
	if pf := slugProcfile(o.StateDir, o.BuildID); pf != nil {
		entry, hasPhase = pf.Lookup(ReleaseType)
	}
	var env []string
	stopAddons := func() error { return nil }
	if hasPhase {
		var addonsRun io.Closer
		if env, addonsRun, err = releaseAddons(ctx, o); err != nil {
			return state.Release{}, fmt.Errorf("starting the add-ons for the release command: %w", err)
		}
		closed := false
		stopAddons = func() error {
			if closed {
				return nil
			}
			closed = true
			return addonsRun.Close()
		}
		defer stopAddons()
	}
	store, err := state.Open(filepath.Join(o.StateDir, "state.db"))
	if err != nil {
		return state.Release{}, err
	}
	defer store.Close()
	if rels, err := store.Releases(1); err == nil && len(rels) == 0 {
		store.AddRelease("Initial release", "") // as the first start would have
	}
	rel, err := store.AddRelease("Deploy "+ShortSHA(m.Commit), o.BuildID)
	if err != nil {
		return rel, err
	}
	note := func(text string) {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		store.AppendLogs(hctx, []state.LogLine{{At: time.Now(), Source: logbus.SourceApp, Process: "api", Text: text}}, HistoryLines)
	}
	if hasPhase {
		err := offlineReleasePhase(ctx, o, m.Commit, entry.Command, env)
		if serr := stopAddons(); err == nil && serr != nil {
			// what the release command wrote was not saved
			err = fmt.Errorf("stopping the add-ons after the release command: %w", serr)
		}
		if err != nil {
			store.SetReleaseOutcome(rel.Version, "failed", "failed")
			note(fmt.Sprintf("Release v%d failed: git push of %s (build %s): %v", rel.Version, ShortSHA(m.Commit), o.BuildID, err))
			return rel, fmt.Errorf("%w: release v%d: %v", ErrReleaseFailed, rel.Version, err)
		}
		store.SetReleaseOutcome(rel.Version, "succeeded", "succeeded")
	}
	note(fmt.Sprintf("Release v%d created: git push of %s (build %s); the next start runs it", rel.Version, ShortSHA(m.Commit), o.BuildID))
	PruneSlugs(store, o.StateDir)
	return rel, nil
}

// releaseAddons starts the app's add-ons for a push's release command,
// under the app's lock the caller holds, and returns the release dyno's
// environment (env files, config vars, add-on vars); closing addonsRun
// stops them (saving their data). It is the only place the push path
// starts add-ons.
func releaseAddons(ctx context.Context, o OfflineRelease) (env []string, addonsRun io.Closer, err error) {
	sd, err := OpenStateDir(o.StateDir)
	if err != nil {
		return nil, nil, err
	}
	app, err := LoadApp(LoadOptions{Dir: o.AppDir, ProcfileOptional: true, Secret: keptSecret(sd.File("secrets.json"))})
	if app == nil {
		return nil, nil, err
	}
	// A broken work-tree Procfile is no reason to refuse the push: the
	// slug's own Procfile runs. Only the env files and app.json count here.
	return OneOffAddons(ctx, app, o.AppDir, sd, o.Session, false, "")
}

// offlineReleasePhase runs command in a fresh copy of the slug, with env
// plus the slug's dyno metadata, its lines shown to the pusher as the
// running app's log shows them.
func offlineReleasePhase(ctx context.Context, o OfflineRelease, commit, command string, env []string) error {
	dir, cleanup, err := slug.Take(o.StateDir, o.BuildID, ReleaseType) // the spare the push made
	if err != nil {
		return err
	}
	defer cleanup()
	env = append(env, "HEROKU_SLUG_COMMIT="+commit, "SOURCE_VERSION="+commit)
	env = build.SlugEnv(env, dir)
	bus := logbus.New(lineSink(func(l logbus.Line) {
		o.Log(fmt.Sprintf("%s[%s]: %s", l.Source, l.Process, l.Text))
	}))
	busCtx, stopBus := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { bus.Run(busCtx); close(ran) }()
	defer func() { stopBus(); <-ran }() // every line out before the verdict
	ctx, cancel := context.WithTimeout(ctx, ReleasePhaseTimeout)
	defer cancel()
	return ReleasePhase(ctx, dir, command, env, o.Session, bus)
}

// lineSink is a log bus sink calling fn for each line.
type lineSink func(logbus.Line)

func (f lineSink) WriteBatch(b *logbus.Batch) {
	for _, l := range b.AppendLines(nil) {
		f(l)
	}
}

func (f lineSink) Flush() {}

// slugReleaseAddons are the add-ons the release of slug id's build names
// (a buildpack's bin/release `addons`, kept in the slug's .dynobox).
func slugReleaseAddons(stateDir, id string) []string {
	dir, err := slug.Unpacked(stateDir, id)
	if err != nil {
		return nil
	}
	return build.LoadRelease(filepath.Join(dir, ".dynobox")).Addons
}
