package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner/state"
)

// OneOffAddons starts the app's add-ons for a one-off dyno ("dynobox run")
// when no dynobox runs the app, and returns the dyno's environment: the
// app's env files, its config vars and the add-ons' vars. Closing the
// returned io.Closer stops the add-ons (and deletes an ephemeral run's
// data) and frees the app; its error names each add-on whose stop failed
// (a Redis that could not save its last writes), so the run fails too.
//
// Without ephemeral it holds the app's lock (taken as holder) meanwhile,
// so a "dynobox start" cannot start the same add-ons on the same data;
// with it, the add-ons get a private, throwaway state tree, which may run
// next to a running dynobox. holder "" means the caller holds the lock.
func OneOffAddons(ctx context.Context, app *App, appDir string, stateDir *StateDir, session string, ephemeral bool, holder Holder) (env []string, addonsRun io.Closer, err error) {
	addonDir := stateDir.Path
	unlock := func() {}
	if ephemeral {
		addonDir = filepath.Join(stateDir.Path, "ephemeral-"+session)
	} else if holder != "" {
		if err := stateDir.lockSweeping(appDir, session, holder); err != nil {
			return nil, nil, err
		}
		unlock = stateDir.Unlock
	}
	store, err := state.Open(stateDir.File("state.db"))
	if err != nil {
		unlock()
		return nil, nil, err
	}
	vars, err := store.ConfigVars()
	var specs []addons.Spec
	var names []string
	if err == nil {
		specs, names, err = AddonSpecs(app, store)
	}
	store.Close()
	if err != nil {
		unlock()
		return nil, nil, err
	}
	set, err := BuildAddons(specs, names, addonDir, ephemeral, session, func(string, string) {})
	if err != nil {
		unlock()
		return nil, nil, err
	}
	stop, err := startAddons(ctx, set)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	closer := closerFunc(func() error {
		err := stop()
		if ephemeral {
			err = errors.Join(err, os.RemoveAll(addonDir))
		}
		unlock()
		return err
	})
	return ComposeEnv(app.FileEnv, vars, set.Env()), closer, nil
}

// closerFunc is an io.Closer made of a function.
type closerFunc func() error

func (f closerFunc) Close() error { return f() }
