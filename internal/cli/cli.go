// Package cli is dynobox's command layer: it parses the command line,
// runs one verb and turns what the verb returns into output and an exit
// status.
//
// Its contract: a verb reads only the stdin and writes only to the
// writers Main is given (a one-off dyno, pg:psql and redis:cli hand them
// to the process they attach), never calls os.Exit, and returns an error.
// exitCode maps errors to exit statuses in one place: nil is 0; a
// *runner.InputError — bad usage, bad input files, or what the running
// dynobox blamed on the request (the API client returns its 400s as one)
// — is 2; anything else is 1. An exitStatus carries a status already
// reported, a *runner.ExitError a one-off dyno's own, and a
// *runner.CrashError the status of the dyno whose exit ended a start
// with --exit-on-crash. A
// start that failed and then failed to stop returns both, joined: each
// is printed, the first decides the status.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/dynobox/dynobox/procfile"
	"github.com/dynobox/dynobox/runner"
)

// Version is dynobox's version, as "dynobox version" prints it; main sets
// it from its own, set at build time.
var Version = "dev"

// Exit codes, everywhere.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// exitStatus is an exit status already reported (or a child's own, which
// dynobox passes on): exitCode prints nothing for it.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// status is code as a verb's error: nil for 0.
func status(code int) error {
	if code == exitOK {
		return nil
	}
	return exitStatus(code)
}

// usagef is bad command-line input: exit status 2.
func usagef(format string, args ...any) error {
	return &runner.InputError{Err: fmt.Errorf(format, args...)}
}

// exitCode prints err on stderr and returns the exit status for it: the
// one place where errors become exit codes (see the package comment).
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		// A start that failed and then failed to stop reports both; the
		// first decides the status.
		code := exitOK
		for _, e := range j.Unwrap() {
			if c := exitCode(stderr, e); code == exitOK {
				code = c
			}
		}
		return code
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st)
	}
	var crash *runner.CrashError
	if errors.As(err, &crash) {
		return crash.Status // the log said which dyno exited
	}
	var exit *runner.ExitError
	if errors.As(err, &exit) {
		return exit.Status // a one-off dyno's, which said why itself
	}
	var ie *runner.InputError
	if errors.As(err, &ie) {
		// LoadApp lists every problem, one a line.
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "dynobox: %s\n", line)
		}
		return exitUsage
	}
	fmt.Fprintf(stderr, "dynobox: %v\n", err)
	return exitFailure
}

func commands() []*command {
	cmds := []*command{startCommand(), runCommand(), checkCommand()}
	cmds = append(cmds, verbCommands()...)
	cmds = append(cmds, deployCommands()...)
	cmds = append(cmds, addonCommands()...)
	cmds = append(cmds, gitCommands()...)
	cmds = append(cmds, ciCommands()...)
	cmds = append(cmds, buildpacksCommands()...)
	return append(cmds, versionCommand())
}

// Main runs dynobox with args (the command line without the program's
// name), reading stdin and writing to stdout and stderr, and returns its
// exit status.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
			return exitCode(stderr, usagef("no command %q; see \"dynobox help\"", args[1]))
		}
		mainHelp(stdout, cmds)
		return exitOK
	case "-v", "--version":
		name = "version"
	}
	for _, c := range cmds {
		if c.name == name {
			c.ctx, c.stdin, c.stdout, c.stderr = ctx, stdin, stdout, stderr
			pos, err := c.parse(args[1:])
			if errors.Is(err, flag.ErrHelp) {
				c.writeHelp(stdout)
				return exitOK
			}
			if err != nil {
				return exitCode(stderr, err)
			}
			return exitCode(stderr, c.run(c, pos))
		}
	}
	return exitCode(stderr, usagef("unknown command %q; see \"dynobox help\"", name))
}

func mainHelp(w io.Writer, cmds []*command) {
	fmt.Fprint(w, `dynobox runs a Heroku app on this machine: every Procfile process type as
supervised dynos, with Heroku's ports, environment, logs and restarts.

Usage: dynobox COMMAND [flags] [args]

Commands:
`)
	for _, c := range cmds {
		if strings.HasPrefix(c.name, "__") {
			continue // run by git, not by people
		}
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
	return runner.LoadOptions{Dir: a.dir, ProcfilePath: a.procfile, EnvFiles: procfile.SplitEnvFlag(a.envFiles), Port: a.port, Secret: secret}
}

func (a *appFlags) stateDirPath() string { return runner.StateDirPath(a.dir, a.stateDir) }

func versionCommand() *command {
	c := newCommand("version", "", "Print dynobox's version.", "")
	c.run = func(c *command, args []string) error {
		fmt.Fprintln(c.stdout, "dynobox", Version)
		return nil
	}
	return c
}
