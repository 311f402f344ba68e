package main

import (
	"fmt"
	"os"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/state"
)

func runCommand() *command {
	c := newCommand("run", "[--] COMMAND [ARGS...]", "Run a one-off dyno: COMMAND with the environment a dyno gets.", `
The command runs as run.NNNN with the app's env files, PORT (a free port),
DYNO and PS, the app's bin/ first on PATH and .profile sourced, in the app
directory, attached to this terminal; dynobox exits with its status.
One argument is a shell command line ('echo $PORT'); several arguments are
quoted and run as they are (dynobox run -- go test ./...).`)
	c.stopAtFn = true
	var af appFlags
	af.register(c.flags, false)
	c.run = func(c *command, args []string) int {
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, "dynobox: run: no command given; e.g. dynobox run -- go test ./...")
			return exitUsage
		}
		if _, err := absDir(af.dir); err != nil {
			fmt.Fprintf(os.Stderr, "dynobox: app directory: %v\n", err)
			return exitUsage
		}
		stateDir, err := runner.OpenStateDir(af.stateDirPath())
		if err != nil {
			fmt.Fprintf(os.Stderr, "dynobox: %v\n", err)
			return exitFailure
		}
		secrets := runner.NewSecrets(stateDir.File("secrets.json"))
		app, err := runner.LoadApp(af.loadOptions(secrets.Get))
		if err != nil {
			return reportLoadError(os.Stderr, err)
		}
		session := runner.NewSession()
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(os.Stderr, "dynobox: %v\n", err)
			return exitFailure
		}
		wd, err := runner.StartWatchdog(exe, session)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dynobox: %v\n", err)
			return exitFailure
		}
		defer wd.Close()
		// Config vars set with config:set apply to one-off dynos too.
		var vars map[string]string
		if store, err := state.Open(stateDir.File("state.db")); err != nil {
			fmt.Fprintf(os.Stderr, "dynobox: %v\n", err)
			return exitFailure
		} else {
			vars, err = store.ConfigVars()
			store.Close()
			if err != nil {
				fmt.Fprintf(os.Stderr, "dynobox: %v\n", err)
				return exitFailure
			}
		}
		o := &runner.OneOff{AppDir: app.Dir, Env: runner.ComposeEnv(app.FileEnv, vars, nil), Args: args, Session: session,
			Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
		status, err := o.Run()
		if err != nil {
			fmt.Fprintf(os.Stderr, "dynobox: %v\n", err)
		}
		return status
	}
	return c
}
