// Command dynobox runs a Heroku app on one machine, for development: the
// Procfile's process types as supervised dynos, with Heroku's ports,
// environment, log lines and restart behaviour.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/build"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// Exit codes, everywhere.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	if len(os.Args) == 3 && os.Args[1] == runner.WatchdogArg {
		runner.RunWatchdog(os.Args[2])
		return
	}
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

func commands() []*command {
	cmds := []*command{startCommand(), runCommand(), checkCommand()}
	cmds = append(cmds, verbCommands()...)
	cmds = append(cmds, deployCommands()...)
	cmds = append(cmds, addonCommands()...)
	return append(cmds, versionCommand())
}

func dispatch(args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) == 0 {
		mainHelp(stderr, cmds)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "--help", "help":
		if name == "help" && len(args) > 1 {
			for _, c := range cmds {
				if c.name == args[1] {
					c.writeHelp(stdout)
					return exitOK
				}
			}
			fmt.Fprintf(stderr, "dynobox: no command %q; see \"dynobox help\"\n", args[1])
			return exitUsage
		}
		mainHelp(stdout, cmds)
		return exitOK
	case "-v", "--version":
		name = "version"
	}
	for _, c := range cmds {
		if c.name == name {
			pos, err := c.parse(args[1:])
			if errors.Is(err, flag.ErrHelp) {
				c.writeHelp(stdout)
				return exitOK
			}
			if err != nil {
				fmt.Fprintf(stderr, "dynobox: %v\n", err)
				return exitUsage
			}
			return c.run(c, pos)
		}
	}
	fmt.Fprintf(stderr, "dynobox: unknown command %q; see \"dynobox help\"\n", name)
	return exitUsage
}

func mainHelp(w io.Writer, cmds []*command) {
	fmt.Fprint(w, `dynobox runs a Heroku app on this machine: every Procfile process type as
supervised dynos, with Heroku's ports, environment, logs and restarts.

Usage: dynobox COMMAND [flags] [args]

Commands:
`)
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-20s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `  help                 Show help for a command: dynobox help COMMAND

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad input files.
`)
}

// appFlags are the flags every app-reading command shares.
type appFlags struct {
	dir, procfile, stateDir string
	envFiles                listFlag
	port                    int
}

func (a *appFlags) register(fs *flag.FlagSet, withPort bool) {
	fs.StringVar(&a.dir, "app-dir", ".", "the app `DIR`ectory (state goes in DIR/.dynobox)")
	alias(fs, "C", "app-dir")
	fs.StringVar(&a.procfile, "procfile", "", "Procfile `PATH` (default DIR/Procfile)")
	alias(fs, "f", "procfile")
	fs.Var(&a.envFiles, "env", "env `FILE`s, repeated or comma-separated; later files win (default DIR/.env)")
	alias(fs, "e", "env")
	fs.StringVar(&a.stateDir, "state-dir", "", "state `DIR`ectory (default DIR/.dynobox)")
	if withPort {
		fs.Var(portFlag{&a.port}, "port", "the app's public `PORT` (default: PORT from the env files, else 5006)")
		alias(fs, "p", "port")
	}
}

func (a *appFlags) loadOptions(secret func(string) (string, error)) runner.LoadOptions {
	var files []string
	for _, v := range a.envFiles {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				files = append(files, f)
			}
		}
	}
	return runner.LoadOptions{Dir: a.dir, ProcfilePath: a.procfile, EnvFiles: files, Port: a.port, Secret: secret}
}

func (a *appFlags) stateDirPath() string {
	if a.stateDir != "" {
		return a.stateDir
	}
	return filepath.Join(a.dir, ".dynobox")
}

// reportLoadError prints a LoadApp error and returns the exit code.
func reportLoadError(stderr io.Writer, err error) int {
	var ie *runner.InputError
	if errors.As(err, &ie) {
		for _, line := range strings.Split(ie.Error(), "\n") {
			fmt.Fprintf(stderr, "dynobox: %s\n", line)
		}
		return exitUsage
	}
	fmt.Fprintf(stderr, "dynobox: %v\n", err)
	return exitFailure
}

func versionCommand() *command {
	c := newCommand("version", "", "Print dynobox's version.", "")
	c.run = func(c *command, args []string) int {
		fmt.Println("dynobox", version)
		return exitOK
	}
	return c
}

func checkCommand() *command {
	c := newCommand("check", "[TYPE[=N],...]", "Check the Procfile, env files and app.json; print the formation with ports.", `
Exit status 0 when everything is valid, 2 with every problem listed.
Warnings (names Heroku would rewrite, duplicate types) are printed;
--strict turns them into errors.`)
	var af appFlags
	af.register(c.flags, true)
	strict := c.flags.Bool("strict", false, "treat warnings as errors")
	c.run = func(c *command, args []string) int {
		app, err := runner.LoadApp(af.loadOptions(nil))
		if app != nil {
			for _, w := range app.Warnings {
				fmt.Fprintf(os.Stderr, "dynobox: warning: %s\n", w)
			}
		}
		if err == nil && *strict {
			err = app.StrictProblems()
		}
		if err != nil {
			return reportLoadError(os.Stderr, err)
		}
		slots, code := planFormation(app, args, withRouter, os.Stderr, dashboardPort("", app.Port))
		if code != exitOK {
			return code
		}
		printPlan(os.Stdout, app, slots)
		return exitOK
	}
	return c
}

// planFormation turns formation arguments into planned dynos with ports.
func planFormation(app *runner.App, args []string, behindRouter bool, stderr io.Writer, reserved ...int) ([]runner.Slot, int) {
	counts, err := runner.ParseFormationArgs(args, app.Procfile)
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return nil, exitUsage
	}
	if counts == nil {
		counts = runner.DefaultFormation(app.Procfile, app.AppJSON)
	}
	slots, err := runner.Plan(app.Procfile, counts, app.Port, behindRouter, runner.PortFree, reserved...)
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return nil, exitFailure
	}
	return slots, exitOK
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
	if withRouter {
		fmt.Fprintf(w, "  %-*s  :%d  → the web dynos\n", width, "router", app.Port)
	}
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

// withRouter: a router holds the public port and every web dyno, web.1
// included, gets a port of its own behind it.
const withRouter = true
