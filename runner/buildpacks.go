package runner

import (
	"path/filepath"
	"sort"

	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner/build"
)

// An app built by buildpacks, or in a language whose Heroku buildpack has
// a default web (Spring Boot, sbt, Leiningen, PHP), may have no Procfile:
// the build's release names its default process types, as on Heroku.

// buildNamesTypes says whether the app in dir may get its process types
// from its build's release (so they are known after the first build).
func buildNamesTypes(dir string) bool {
	plan, err := build.Detect(dir)
	return err == nil && plan.NamesProcessTypes()
}

// withDefaultTypes adds the last build's default process types
// to pf when the Procfile is missing or lacks web: the types it does not
// declare, as Heroku runs a release's default_process_types. An explicit
// -f Procfile gets none.
func withDefaultTypes(pf *procfile.Procfile, dir, explicit string) *procfile.Procfile {
	if pf == nil || explicit != "" {
		return pf
	}
	if _, ok := pf.Lookup("web"); ok {
		return pf // no detection on every load of an app that names its web
	}
	if !buildNamesTypes(dir) {
		return pf
	}
	return releaseDefaults(pf, dir)
}

// releaseDefaults adds the default process types that the buildpack build
// of the app (or slug) in dir saved in dir/.dynobox, when pf lacks web.
func releaseDefaults(pf *procfile.Procfile, dir string) *procfile.Procfile {
	if _, ok := pf.Lookup("web"); ok {
		return pf
	}
	rel := build.LoadRelease(filepath.Join(dir, ".dynobox"))
	if len(rel.ProcessTypes) == 0 {
		return pf
	}
	out := &procfile.Procfile{Path: pf.Path, Entries: append([]procfile.Entry(nil), pf.Entries...)}
	names := make([]string, 0, len(rel.ProcessTypes))
	for name := range rel.ProcessTypes {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { // web first, as a Procfile usually has it
		if (names[i] == "web") != (names[j] == "web") {
			return names[i] == "web"
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		if _, ok := out.Lookup(name); !ok {
			out.Entries = append(out.Entries, procfile.Entry{Name: name, Command: rel.ProcessTypes[name]})
		}
	}
	return out
}

// pushPlan is plan with the buildpacks the verbs set (kept in the state
// directory when it is the app's .dynobox): a push builds with them too,
// as Heroku's buildpacks:set applies to the next push.
func pushPlan(plan build.Plan, stateDir string) build.Plan {
	if filepath.Base(stateDir) != ".dynobox" {
		return plan
	}
	urls, source, err := build.BuildpackList(filepath.Dir(stateDir))
	if err != nil || source != build.BuildpacksFile {
		return plan
	}
	return build.Plan{Kind: build.Buildpacks, Buildpacks: urls}
}

// applyWorkTreeProcfile switches the dynos to the work tree's Procfile
// when the first build changed it (its release supplied default process
// types) and starts the types it added at their default count.
func (c *Controller) applyWorkTreeProcfile() {
	if c.Sup.rooted() || !buildNamesTypes(c.app().Dir) {
		return
	}
	pf := c.workTreeProcfile()
	if pf != nil && len(pf.Entries) == 0 {
		c.heroku("No Procfile, and the build's release names no default process types: add a Procfile with a line like \"web: ./server\"")
	}
	if pf == nil || DiffProcfiles(c.app().Procfile, pf).Empty() {
		return
	}
	a := *c.app()
	a.Procfile = pf
	c.setApp(&a)
	diff := c.Sup.setProcfile(pf)
	c.heroku("Process types of the build's release: " + diff.String())
	c.scaleAdded(diff.Added)
}
