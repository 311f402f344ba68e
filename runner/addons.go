package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/runner/state"
)

// AddonStartTimeout bounds how long the add-ons may take to accept
// connections (a first Postgres initdb takes about a second).
const AddonStartTimeout = 2 * time.Minute

// AddonSpecs is every add-on of the app: those app.json declares and those
// added with addons:create, in that order. Declared ones not yet recorded
// are recorded (with a release), as Heroku provisions app.json add-ons.
func AddonSpecs(app *App, store *state.Store) ([]addons.Spec, []string, error) {
	records, err := store.Addons()
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]state.AddonRecord{}
	for _, r := range records {
		byName[r.Name] = r
	}
	taken := map[string]bool{}
	var specs []addons.Spec
	var names []string
	if app.AppJSON != nil {
		for _, a := range app.AppJSON.Addons {
			spec := addons.Spec{Plan: a.Plan, As: a.As}
			if p, ok := a.Options["plaintext"].(bool); ok {
				spec.Plaintext = p
			}
			if err := spec.Validate(); err != nil {
				return nil, nil, &InputError{fmt.Errorf("app.json addons: %w", err)}
			}
			name := spec.Name(taken)
			taken[name] = true
			if _, ok := byName[name]; !ok {
				rec := state.AddonRecord{Name: name, Plan: spec.Plan, As: spec.As, Options: map[string]bool{"plaintext": spec.Plaintext, "app.json": true}, CreatedAt: time.Now()}
				if err := store.AddAddon(rec); err != nil {
					return nil, nil, err
				}
				store.AddRelease("Add "+name, "")
			}
			specs = append(specs, spec)
			names = append(names, name)
		}
	}
	for _, r := range records {
		if taken[r.Name] {
			continue
		}
		taken[r.Name] = true
		specs = append(specs, addons.Spec{Plan: r.Plan, As: r.As, Plaintext: r.Options["plaintext"]})
		names = append(names, r.Name)
	}
	return specs, names, nil
}

// BuildAddons makes the add-ons of specs (named names), logging through
// log; their child processes carry session's marker (SessionVar).
func BuildAddons(specs []addons.Spec, names []string, stateDir string, ephemeral bool, session string, log func(name, line string)) (*addons.Set, error) {
	var list []addons.Addon
	for i, spec := range specs {
		name := names[i]
		a, err := addons.Build(spec, name, stateDir, ephemeral, log, session)
		if err != nil {
			return nil, &InputError{err}
		}
		list = append(list, a)
	}
	return addons.NewSet(list...), nil
}

// startAddons runs set — for a `dynobox start`, a CI node or a one-off
// run alike — and returns once every add-on accepts connections, within
// AddonStartTimeout. ctx ending (an interrupt) cancels the start, not the
// run: the add-ons run until stop, which stops them (each within the
// set's StopTimeout) and returns what failed (a Redis's final save). On a
// failed start nothing is left running and stop returns nil.
func startAddons(ctx context.Context, set *addons.Set) (stop func() error, err error) {
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- set.Run(runCtx) }()
	stop = sync.OnceValue(func() error {
		cancel()
		return <-done
	})
	timer := time.NewTimer(AddonStartTimeout)
	defer timer.Stop()
	var cut error
	select {
	case <-set.Ready():
		return stop, nil
	case err := <-done: // Run stopped what had started
		cancel()
		return func() error { return nil }, err
	case <-ctx.Done():
		cut = context.Cause(ctx)
	case <-timer.C:
		cut = fmt.Errorf("add-ons not up within %s", AddonStartTimeout)
	}
	// Cut short: Run's error names the add-on that was starting.
	if err := stop(); err != nil {
		return func() error { return nil }, fmt.Errorf("%w: %w", cut, err)
	}
	return func() error { return nil }, cut
}

// AddonStatus lists the running add-ons for info and `addons`.
func (c *Controller) AddonStatus() []addons.Status {
	if c.Addons == nil {
		return []addons.Status{}
	}
	return c.Addons.List()
}

// CreateAddon attaches and starts a new add-on, records it, creates a
// release and restarts the dynos so they see its config vars.
func (c *Controller) CreateAddon(spec addons.Spec) (addons.Status, state.Release, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, rel, err := c.createAddon(spec)
	if err != nil {
		return st, rel, err
	}
	return st, rel, c.restartWithNewEnv()
}

// createAddon attaches, starts and records a new add-on and creates a
// release; the dynos are not restarted. The caller holds c.mu.
func (c *Controller) createAddon(spec addons.Spec) (addons.Status, state.Release, error) {
	if err := spec.Validate(); err != nil {
		return addons.Status{}, state.Release{}, &InputError{err}
	}
	taken := map[string]bool{}
	for _, st := range c.Addons.List() {
		taken[st.Name] = true
	}
	name, err := addonName(spec, taken)
	if err != nil {
		return addons.Status{}, state.Release{}, err
	}
	a, err := addons.Build(spec, name, c.StateDir, false, func(process, line string) { c.Bus.Event("app", process, line) }, c.Session)
	if err != nil {
		return addons.Status{}, state.Release{}, &InputError{err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), AddonStartTimeout)
	defer cancel()
	if err := c.Addons.Add(ctx, a); err != nil {
		return addons.Status{}, state.Release{}, err
	}
	if err := c.Store.AddAddon(addonRecord(name, spec)); err != nil {
		c.Addons.Remove(ctx, name)
		return addons.Status{}, state.Release{}, err
	}
	rel, err := c.Store.AddRelease("Add "+name, "")
	if err != nil {
		return addons.Status{}, rel, err
	}
	c.apiEvent(fmt.Sprintf("Add %s (%s)", name, spec.Plan))
	c.apiEvent(fmt.Sprintf("Release v%d created", rel.Version))
	var st addons.Status
	for _, s := range c.Addons.List() {
		if s.Name == name {
			st = s
		}
	}
	return st, rel, nil
}

// provisionReleaseAddons creates the add-ons the last build's release
// names (a buildpack's bin/release `addons`) that the app has none of the
// service of. The caller holds c.mu.
func (c *Controller) provisionReleaseAddons() error {
	return c.provisionAddons(build.LoadRelease(c.StateDir).Addons)
}

// provisionAddons creates the add-ons of plans (a release's `addons`)
// whose service the app has none of, as Heroku provisions a buildpack's
// add-ons at the app's first release; "first" here is "while the app has
// none of that service". The caller holds c.mu.
func (c *Controller) provisionAddons(plans []string) error {
	var have []string
	for _, st := range c.Addons.List() {
		have = append(have, st.Plan)
	}
	for _, spec := range missingAddons(have, plans) {
		c.heroku(fmt.Sprintf("Provisioning %s, named by the buildpack's release", spec.Plan))
		if _, _, err := c.createAddon(spec); err != nil {
			return fmt.Errorf("the buildpack's release names the add-on %s: %w", spec.Plan, err)
		}
	}
	return nil
}

// missingAddons are the specs of plans whose service is in none of have
// (plans the app's add-ons run), each service once.
func missingAddons(have, plans []string) []addons.Spec {
	seen := map[string]bool{}
	for _, p := range have {
		seen[addons.Spec{Plan: p}.Service()] = true
	}
	var specs []addons.Spec
	for _, p := range plans {
		spec := addons.Spec{Plan: p}
		if !seen[spec.Service()] {
			seen[spec.Service()] = true
			specs = append(specs, spec)
		}
	}
	return specs
}

// provisionAddonsOffline is provisionAddons for an app no dynobox runs
// (a push's release): the add-ons are recorded for the release command
// and the next start, as addons:create records them.
func provisionAddonsOffline(appDir, stateDir string, plans []string, log func(string)) error {
	if len(plans) == 0 {
		return nil
	}
	store, _, err := openStore(stateDir)
	if err != nil {
		return err
	}
	app, err := LoadApp(LoadOptions{Dir: appDir, NoProcfile: true, Secret: keptSecret(filepath.Join(stateDir, "secrets.json"))})
	if app == nil {
		store.Close()
		return err
	}
	specs, _, err := AddonSpecs(app, store) // app.json's count (and are recorded)
	store.Close()
	if err != nil {
		return err
	}
	var have []string
	for _, s := range specs {
		have = append(have, s.Plan)
	}
	for _, spec := range missingAddons(have, plans) {
		log("Provisioning " + spec.Plan + ", named by the buildpack's release")
		if _, _, err := CreateAddonOffline(stateDir, spec); err != nil {
			return fmt.Errorf("the buildpack's release names the add-on %s: %w", spec.Plan, err)
		}
	}
	return nil
}

// ErrDeclared is returned when destroying an add-on that app.json declares.
var ErrDeclared = errors.New("declared in app.json")

// DestroyAddon stops an add-on, deletes its data, forgets it, creates a
// release and restarts the dynos without its config vars.
func (c *Controller) DestroyAddon(name string) (state.Release, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	records, err := c.Store.Addons()
	if err != nil {
		return state.Release{}, err
	}
	if err := checkDestroy(records, name); err != nil {
		return state.Release{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Addons.Destroy(ctx, name); err != nil {
		return state.Release{}, &InputError{err}
	}
	if _, err := c.Store.RemoveAddon(name); err != nil {
		return state.Release{}, err
	}
	os.RemoveAll(filepath.Join(c.StateDir, "addons", name))
	rel, err := c.Store.AddRelease("Remove "+name, "")
	if err != nil {
		return rel, err
	}
	c.apiEvent("Remove " + name)
	c.apiEvent(fmt.Sprintf("Release v%d created", rel.Version))
	return rel, c.restartWithNewEnv()
}

// The checks and records that addons:create and addons:destroy share,
// whether a dynobox runs the app (the Controller's methods) or not (the
// Offline functions below).

// addonName is the name spec's add-on gets beside the taken ones.
func addonName(spec addons.Spec, taken map[string]bool) (string, error) {
	name := spec.Name(taken)
	if taken[name] {
		return "", &InputError{fmt.Errorf("an add-on named %s exists already; pick another with --as NAME", name)}
	}
	return name, nil
}

// addonRecord is what the state database keeps of an add-on created with
// addons:create.
func addonRecord(name string, spec addons.Spec) state.AddonRecord {
	return state.AddonRecord{Name: name, Plan: spec.Plan, As: spec.As, Options: map[string]bool{"plaintext": spec.Plaintext}, CreatedAt: time.Now()}
}

// checkDestroy refuses to destroy an add-on that app.json declares: the
// next start would create it again.
func checkDestroy(records []state.AddonRecord, name string) error {
	for _, r := range records {
		if r.Name == name && r.Options["app.json"] {
			return &InputError{fmt.Errorf("%s is %w; remove it there, then destroy it", name, ErrDeclared)}
		}
	}
	return nil
}

// CreateAddonOffline records spec's add-on for the next start of the app
// whose state directory is stateDir, with a release, when no dynobox runs
// it. It returns the add-on's name.
func CreateAddonOffline(stateDir string, spec addons.Spec) (string, state.Release, error) {
	store, _, err := openStore(stateDir)
	if err != nil {
		return "", state.Release{}, err
	}
	defer store.Close()
	recs, err := store.Addons()
	if err != nil {
		return "", state.Release{}, err
	}
	taken := map[string]bool{}
	for _, r := range recs {
		taken[r.Name] = true
	}
	name, err := addonName(spec, taken)
	if err != nil {
		return "", state.Release{}, err
	}
	if err := store.AddAddon(addonRecord(name, spec)); err != nil {
		return "", state.Release{}, err
	}
	rel, err := store.AddRelease("Add "+name, "")
	return name, rel, err
}

// DestroyAddonOffline deletes the add-on name and its data, and forgets
// it with a release, when no dynobox runs the app.
func DestroyAddonOffline(ctx context.Context, stateDir, name string) (state.Release, error) {
	store, stateDir, err := openStore(stateDir)
	if err != nil {
		return state.Release{}, err
	}
	defer store.Close()
	recs, err := store.Addons()
	if err != nil {
		return state.Release{}, err
	}
	if err := checkDestroy(recs, name); err != nil {
		return state.Release{}, err
	}
	for _, r := range recs {
		if r.Name != name {
			continue
		}
		// A Postgres add-on's database lives in the shared server's data
		// directory, not in its own: the server starts to drop it.
		a, err := addons.Build(addons.Spec{Plan: r.Plan, As: r.As, Plaintext: r.Options["plaintext"]}, name, stateDir, false, nil, "")
		if err != nil {
			return state.Release{}, err
		}
		if d, ok := a.(addons.Destroyer); ok {
			ctx, cancel := context.WithTimeout(ctx, AddonStartTimeout)
			err := d.Destroy(ctx)
			cancel()
			if err != nil {
				return state.Release{}, err
			}
		}
	}
	ok, err := store.RemoveAddon(name)
	if err != nil {
		return state.Release{}, err
	}
	if !ok {
		return state.Release{}, &InputError{fmt.Errorf("no add-on named %q", name)}
	}
	os.RemoveAll(filepath.Join(stateDir, "addons", name))
	rel, _ := store.AddRelease("Remove "+name, "")
	return rel, nil
}

// openStore opens the state directory at path (creating it) and its
// database, for changes made while no dynobox runs the app.
func openStore(path string) (*state.Store, string, error) {
	sdir, err := OpenStateDir(path)
	if err != nil {
		return nil, "", err
	}
	st, err := state.Open(sdir.File("state.db"))
	return st, sdir.Path, err
}
