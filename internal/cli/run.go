package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/build"
	"github.com/dynobox/dynobox/web/api"
)

func runCommand() *command {
	c := newCommand("run", "[--] COMMAND [ARGS...]", "Run a one-off dyno: COMMAND with the environment a dyno gets.", `
The command runs as run.NNNN with the app's env files, config vars and add-on
config vars, PORT (a free port), DYNO and PS, the app's bin/ first on PATH and
.profile sourced, in the app directory, attached to this terminal; dynobox
exits with its status. While the current release is a pushed one (git push
dynobox main), the command runs in a fresh copy of its slug instead, as
Heroku's one-off dynos do, with HEROKU_SLUG_COMMIT set and the pushed
Procfile: what it writes there is gone when it exits (run a generator that
writes code before pushing, or after a save deploy). One argument is a shell command line ('echo $PORT');
several arguments are quoted and run as they are (dynobox run -- go test ./...);
a Procfile process type alone runs its command (dynobox run worker).

When "dynobox start" runs for the app, the command uses its add-ons. When
not, dynobox starts the app's add-ons for the command and stops them after
(a test harness: dynobox run -- go test ./...). --ephemeral gives those
add-ons throwaway data that is deleted afterwards.`)
	c.stopAtFn = true
	var af appFlags
	af.register(c.flags, false)
	ephemeral := c.flags.Bool("ephemeral", false, "start the add-ons with throwaway data, deleted afterwards")
	c.run = func(c *command, args []string) (err error) {
		if len(args) == 0 {
			return usagef("run: no command given; e.g. dynobox run -- go test ./...")
		}
		appDir, err := runner.AppDir(af.dir)
		if err != nil {
			return usagef("app directory: %v", err)
		}
		stateDir, err := runner.OpenStateDir(af.stateDirPath())
		if err != nil {
			return err
		}
		secrets := runner.NewSecrets(stateDir.File("secrets.json"))
		opts := af.loadOptions(secrets.Get)
		opts.ProcfileOptional = true // heroku local:run needs none either
		app, err := runner.LoadApp(opts)
		if err != nil {
			return err
		}
		session, unwatch, err := watchedSession()
		if err != nil {
			return err
		}
		defer unwatch()

		var env []string
		var addonsRun io.Closer
		var running bool
		err = untilAppFree(c.ctx, func(s string) { fmt.Fprintln(c.stderr, s) }, func() (err error) {
			env, addonsRun, running, err = oneOffEnv(app, appDir, stateDir, session, *ephemeral)
			return err
		})
		if err != nil {
			return err
		}
		if addonsRun != nil {
			// A failed stop (a Redis's final save) fails the run too:
			// the command's writes are lost.
			defer func() {
				if cerr := addonsRun.Close(); cerr != nil {
					err = errors.Join(err, cerr)
				}
			}()
		}
		dir, pf := app.Dir, app.Procfile
		sr, err := runner.CurrentSlugRun(stateDir.Path)
		if err != nil {
			return err
		}
		if sr != nil { // a pushed release: a fresh copy of its slug, as on Heroku
			defer sr.Remove()
			dir, env = sr.Dir, sr.Env(env)
			if sr.Procfile != nil {
				pf = sr.Procfile
			}
		} else {
			env = build.ReleaseEnv(build.RuntimeEnv(env, stateDir.Path), stateDir.Path)
		}
		if len(args) == 1 { // "dynobox run worker" runs the Procfile's worker command, as on Heroku
			if e, ok := pf.Lookup(args[0]); ok {
				args = []string{e.Command}
			}
		}
		stdin, _ := c.stdin.(*os.File) // the one-off dyno takes the terminal when it is one
		o := &runner.OneOff{AppDir: dir, Env: env, Args: args, Session: session,
			Stdin: stdin, Stdout: c.stdout, Stderr: c.stderr}
		if running {
			// The running app's log shows the one-off dyno's lifecycle.
			client := api.NewClient(appDir, stateDir.Path)
			o.Event = func(dyno, msg string) { client.Post("/v1/events", api.Event{Dyno: dyno, Text: msg}, nil) }
		}
		return o.Run(c.ctx) // its exit status is ours (exitCode)
	}
	return c
}

// oneOffEnv is a one-off dyno's environment: from the running dynobox
// (its config vars and add-ons) when there is one (running); otherwise the
// app's config vars plus add-ons started here, which closing addonsRun
// stops (nil when running).
func oneOffEnv(app *runner.App, appDir string, stateDir *runner.StateDir, session string, ephemeral bool) (env []string, addonsRun io.Closer, running bool, err error) {
	if !ephemeral {
		var vars []runner.ConfigVar
		err := api.NewClient(appDir, stateDir.Path).Config(&vars)
		if err == nil {
			m := map[string]string{}
			for _, v := range vars {
				m[v.Key] = v.Value
			}
			return runner.ComposeEnv(app.FileEnv, m, nil), nil, true, nil
		}
		var nr *api.NotRunningError
		if !errors.As(err, &nr) {
			return nil, nil, false, err
		}
	}

	// No dynobox runs the app: start its add-ons for this command.
	env, addonsRun, err = runner.OneOffAddons(context.Background(), app, appDir, stateDir, session, ephemeral, runner.HolderRun)
	return env, addonsRun, false, err
}

// watchedSession starts a session for the processes a verb starts (a
// one-off dyno, a test run, a push's release command) and the watchdog
// that stops them should dynobox die; unwatch ends the watchdog.
func watchedSession() (session string, unwatch func(), err error) {
	session = runner.NewSession()
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	wd, err := runner.StartWatchdog(exe, session)
	if err != nil {
		return "", nil, err
	}
	return session, func() { wd.Close() }, nil
}
