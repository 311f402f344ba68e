package runner

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner/watch"
)

// ProcfileDiff is what changed between two Procfiles, by process type
// (the release entry is not a dyno type and is left out).
type ProcfileDiff struct {
	Added, Removed, Changed []string
}

// Empty reports whether no dyno type changed.
func (d ProcfileDiff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// DiffProcfiles compares the dyno types of two Procfiles.
func DiffProcfiles(old, new *procfile.Procfile) ProcfileDiff {
	commands := func(pf *procfile.Procfile) map[string]string {
		m := map[string]string{}
		if pf != nil {
			for _, e := range pf.Entries {
				if e.Name != ReleaseType {
					m[e.Name] = e.Command
				}
			}
		}
		return m
	}
	was, is := commands(old), commands(new)
	var d ProcfileDiff
	for _, t := range slices.Sorted(maps.Keys(is)) {
		cmd, ok := was[t]
		switch {
		case !ok:
			d.Added = append(d.Added, t)
		case cmd != is[t]:
			d.Changed = append(d.Changed, t)
		}
	}
	for _, t := range slices.Sorted(maps.Keys(was)) {
		if _, ok := is[t]; !ok {
			d.Removed = append(d.Removed, t)
		}
	}
	return d
}

// ApplyProcfile switches the supervisor to a changed Procfile: the dynos
// of removed types stop, those of types whose command changed restart on
// the new command (web ones with preboot), and added types start with
// counts[type] dynos.
func (s *Supervisor) ApplyProcfile(pf *procfile.Procfile, counts map[string]int) ProcfileDiff {
	diff := s.setProcfile(pf)
	for _, t := range diff.Changed {
		s.Restart(Select{Type: t})
	}
	for _, t := range diff.Added {
		s.Scale(t, counts[t])
	}
	return diff
}

// Reload reads the app's files again after the env files, the Procfile or
// app.json changed: a changed environment restarts every dyno, a changed
// Procfile starts, stops and restarts the types it changed. Files with
// errors are reported and the running app is left as it is.
func (c *Controller) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	was := c.app()
	now, err := LoadApp(c.Load)
	if err != nil {
		c.heroku(fmt.Sprintf("Not reloaded, the dynos keep running as they are: %v", err))
		return err
	}
	for _, w := range now.Warnings {
		c.heroku(fmt.Sprintf("warning: %s", w))
	}
	now.Port = was.Port // the router holds the public port until the next start
	if _, pushed := c.currentIsSlug(); pushed {
		now.Procfile = was.Procfile // a pushed release runs its own Procfile; the next push changes it
	}
	c.setApp(now)
	if !reflect.DeepEqual(addonsOf(was), addonsOf(now)) {
		c.heroku("app.json's add-ons changed: they are provisioned at the next start (or now with addons:create / addons:destroy)")
	}
	envChanged := !maps.Equal(was.FileEnv, now.FileEnv)
	if envChanged {
		env, err := c.Env()
		if err != nil {
			return err
		}
		c.Sup.SetEnv(env)
	}
	diff := c.Sup.ApplyProcfile(now.Procfile, DefaultFormation(now.Procfile, now.AppJSON))
	if !diff.Empty() {
		c.heroku(fmt.Sprintf("Procfile reloaded: %s", diff))
	}
	if !envChanged {
		return nil
	}
	c.heroku("Env files reloaded: restarting every dyno")
	for _, t := range scalableTypes(now.Procfile) {
		if !slices.Contains(diff.Changed, t) && !slices.Contains(diff.Added, t) {
			c.Sup.Restart(Select{Type: t})
		}
	}
	return nil
}

func addonsOf(a *App) []procfile.AddonSpec {
	if a.AppJSON == nil || len(a.AppJSON.Addons) == 0 {
		return nil
	}
	return a.AppJSON.Addons
}

func (d ProcfileDiff) String() string {
	var parts []string
	for _, p := range []struct {
		what  string
		types []string
	}{{"added", d.Added}, {"removed", d.Removed}, {"changed", d.Changed}} {
		if len(p.types) > 0 {
			parts = append(parts, p.what+" "+strings.Join(p.types, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

// OnChange reacts to a batch of saved files: env files, the Procfile and
// app.json are reloaded; anything else deploys (build, release, swap).
func (c *Controller) OnChange(ch watch.Change) {
	if ch.Env || ch.Procfile || ch.AppJSON {
		c.Reload()
	}
	if ch.Code {
		c.Deploy()
	}
}
