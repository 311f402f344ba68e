package runner

import (
	"context"
	"os"
	"path/filepath"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner/state"
)

// OneOffAddons starts the app's add-ons for a one-off dyno ("dynobox run")
// when no dynobox runs the app, and returns the dyno's environment: the
// app's env files, its config vars and the add-ons' vars. stop stops the
// add-ons (and deletes an ephemeral run's data) and frees the app.
//
// Without ephemeral it holds the app's lock meanwhile, so a "dynobox
// start" cannot start the same add-ons on the same data; with it, the
// add-ons get a private, throwaway state tree, which may run next to a
// running dynobox.
func OneOffAddons(ctx context.Context, app *App, appDir string, stateDir *StateDir, session string, ephemeral bool) (env []string, stop func(), err error) {
	none := func() {}
	addonDir := stateDir.Path
	unlock := none
	if ephemeral {
		addonDir = filepath.Join(stateDir.Path, "ephemeral-"+session)
	} else {
		if _, err := stateDir.Lock(appDir, session); err != nil {
			return nil, none, err
		}
		unlock = stateDir.Unlock
	}
	store, err := state.Open(stateDir.File("state.db"))
	if err != nil {
		unlock()
		return nil, none, err
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
		return nil, none, err
	}
	set, err := BuildAddons(specs, names, addonDir, ephemeral, session, func(string, string) {})
	if err != nil {
		unlock()
		return nil, none, err
	}
	stopAddons, err := startAddons(ctx, set)
	if err != nil {
		unlock()
		return nil, none, err
	}
	stop = func() {
		stopAddons()
		if ephemeral {
			os.RemoveAll(addonDir)
		}
		unlock()
	}
	return ComposeEnv(app.FileEnv, vars, set.Env()), stop, nil
}
