package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/build"
)

// The check verb.

func checkCommand() *command {
	c := newCommand("check", "[TYPE[=N],...]", "Check the Procfile, env files and app.json; print the formation with ports.", `
Exit status 0 when everything is valid, 2 with every problem listed.
Warnings (names Heroku would rewrite, duplicate types) are printed;
--strict turns them into errors.`)
	var af appFlags
	af.register(c.flags, true)
	strict := c.flags.Bool("strict", false, "treat warnings as errors")
	c.run = func(c *command, args []string) error {
		app, err := runner.LoadApp(af.loadOptions(nil))
		if app != nil {
			for _, w := range app.Warnings {
				fmt.Fprintf(c.stderr, "dynobox: warning: %s\n", w)
			}
		}
		if err == nil && *strict {
			err = app.StrictProblems()
		}
		if err != nil {
			return err
		}
		slots, err := runner.PlanFormation(app, args, runner.DashboardPort("", app.Port))
		if err != nil {
			return err
		}
		printPlan(c.stdout, app, slots)
		return nil
	}
	return c
}

// printPlan lists the formation as "web.1  :5006  bundle exec puma".
func printPlan(w io.Writer, app *runner.App, slots []runner.Slot) {
	src := app.ProcfilePath
	if src == "" {
		src = "implied by package.json"
	}
	fmt.Fprintf(w, "app %s\nProcfile %s\n", app.Dir, src)
	if len(app.EnvFiles) > 0 {
		fmt.Fprintf(w, "env %s\n", strings.Join(app.EnvFiles, ", "))
	}
	if plan, err := build.Detect(app.Dir); err == nil {
		fmt.Fprintf(w, "build %s (detected; start --build to change)\n", plan)
	}
	if e, ok := app.Procfile.Lookup(runner.ReleaseType); ok {
		fmt.Fprintf(w, "release %s (once per new release, before its dynos)\n", e.Command)
	}
	width := len("router")
	for _, s := range slots {
		width = max(width, len(s.Name))
	}
	fmt.Fprintf(w, "  %-*s  :%d  → the web dynos\n", width, "router", app.Port)
	for _, s := range slots {
		fmt.Fprintf(w, "  %-*s  :%d  %s\n", width, s.Name, s.Port, s.Command)
	}
	var idle []string
	counts := map[string]bool{}
	for _, s := range slots {
		counts[s.Type] = true
	}
	for _, n := range app.Procfile.Names() {
		if !counts[n] && n != runner.ReleaseType {
			idle = append(idle, n)
		}
	}
	sort.Strings(idle)
	if len(idle) > 0 {
		fmt.Fprintf(w, "  not started: %s\n", strings.Join(idle, ", "))
	}
}
