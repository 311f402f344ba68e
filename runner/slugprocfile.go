package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner/slug"
	"github.com/dynobox/dynobox/runner/state"
)

// A pushed release runs the Procfile it was pushed with, as on Heroku: its
// process types and commands, and its release command. Other releases run
// the work tree's.

// slugProcfile is the Procfile in slug id; nil when it has none or it does
// not parse (the work tree's is used then).
func slugProcfile(stateDir, id string) *procfile.Procfile {
	dir, err := slug.Unpacked(stateDir, id)
	if err != nil {
		return nil
	}
	pf := &procfile.Procfile{Path: "Procfile"}
	if f, err := os.Open(filepath.Join(dir, "Procfile")); err == nil {
		pf, _, err = procfile.Parse("Procfile", f)
		f.Close()
		if err != nil || pf == nil {
			return nil
		}
	}
	pf = releaseDefaults(pf, dir) // a pushed buildpack build's default process types
	if len(pf.Entries) == 0 {
		return nil
	}
	return pf
}

// PushedProcfile is the current release's Procfile when that release is
// a pushed build with one (nil otherwise): a start plans its formation
// from it.
func PushedProcfile(store *state.Store, stateDir string) *procfile.Procfile {
	cur, err := store.CurrentRelease()
	if err != nil || !slug.Exists(stateDir, cur.BuildID) {
		return nil
	}
	return slugProcfile(stateDir, cur.BuildID)
}

// workTreeProcfile is the Procfile in the app directory now.
func (c *Controller) workTreeProcfile() *procfile.Procfile {
	if c.Load.Dir == "" {
		return c.App.Procfile
	}
	a, err := LoadApp(c.Load)
	if err != nil || a == nil {
		return c.app().Procfile
	}
	return a.Procfile
}

// procfileOf is the Procfile a release of build id runs.
func (c *Controller) procfileOf(id string) *procfile.Procfile {
	if slug.Exists(c.StateDir, id) {
		if pf := slugProcfile(c.StateDir, id); pf != nil {
			return pf
		}
	}
	return c.workTreeProcfile()
}

// releaseProcfile is the Procfile of release v (its release command):
// the running one, unless v or what runs is a pushed release.
func (c *Controller) releaseProcfile(v int) *procfile.Procfile {
	rel, err := c.Store.Release(v)
	if err != nil || (!slug.Exists(c.StateDir, rel.BuildID) && !c.Sup.rooted()) {
		return c.app().Procfile
	}
	return c.procfileOf(rel.BuildID)
}

// rooted reports whether dynos run in a slug (SetRoot), not the app directory.
func (s *Supervisor) rooted() bool {
	if s == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.root != nil
}

// applyRelease points the supervisor at the current release — its slug
// or the app directory — and, when a pushed release is involved (before or
// after), switches the app and the supervisor to that release's Procfile:
// commands change for the next start of each dyno, removed types stop. It
// returns the types added, to scale up once the restart is under way.
func (c *Controller) applyRelease() ([]string, error) {
	wasPushed := c.Sup.rooted()
	if err := c.applyRoot(); err != nil {
		return nil, err
	}
	if !wasPushed && !c.Sup.rooted() {
		return nil, nil // work tree to work tree: the Procfile is the watcher's to reload
	}
	return c.applyProcfile(), nil
}

func (c *Controller) applyProcfile() []string {
	cur, err := c.Store.CurrentRelease()
	if err != nil {
		return nil
	}
	pf := c.procfileOf(cur.BuildID)
	if DiffProcfiles(c.app().Procfile, pf).Empty() {
		return nil
	}
	a := *c.app()
	a.Procfile = pf
	c.setApp(&a)
	diff := c.Sup.setProcfile(pf)
	c.heroku("Procfile of the release: " + diff.String())
	return diff.Added
}

// scaleAdded starts the types a new Procfile added, at their default count.
func (c *Controller) scaleAdded(types []string) {
	counts := DefaultFormation(c.app().Procfile, c.app().AppJSON)
	for _, t := range types {
		c.Sup.Scale(t, counts[t])
	}
}

// setProcfile switches the supervisor to pf without restarting anything:
// dynos of types whose command changed run the new command at their next
// start; those of removed types stop.
func (s *Supervisor) setProcfile(pf *procfile.Procfile) ProcfileDiff {
	s.mu.Lock()
	defer s.mu.Unlock()
	diff := DiffProcfiles(s.cfg.Procfile, pf)
	s.cfg.Procfile = pf
	for _, d := range s.dynos {
		if slices.Contains(diff.Changed, d.slot.Type) {
			e, _ := pf.Lookup(d.slot.Type)
			d.setCommand(e.Command)
		}
		if slices.Contains(diff.Removed, d.slot.Type) && !isClosed(d.stop) {
			d.requestStop()
			go s.remove(d)
		}
	}
	s.notifyLocked()
	return diff
}

// loadPushed is the app a start runs when LoadApp failed with loadErr:
// while the current release is a pushed one with its own Procfile, a
// work-tree Procfile that does not parse (or is missing) blocks nothing —
// the app loads without it, runs the pushed Procfile, and the problem is
// a warning. Otherwise app and loadErr are returned as they are.
func loadPushed(o LoadOptions, stateDir string, app *App, loadErr error) (*App, error) {
	o.NoProcfile = true
	alt, err := LoadApp(o)
	if err != nil { // the env files or app.json have problems too
		return app, loadErr
	}
	store, err := state.Open(filepath.Join(stateDir, "state.db"))
	if err != nil {
		return app, loadErr
	}
	defer store.Close()
	pf := PushedProcfile(store, stateDir)
	if pf == nil {
		return app, loadErr
	}
	alt.Procfile = pf
	alt.Warnings = append(alt.Warnings, procfile.Problem{Msg: fmt.Sprintf("the work tree's Procfile is not used while a pushed release runs (its own Procfile does): %v", loadErr)})
	return alt, nil
}
