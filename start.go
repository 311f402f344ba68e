package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	dbstate "github.com/dynobox/dynobox/runner/state"
	"github.com/dynobox/dynobox/web/api"
	"golang.org/x/term"
)

func startCommand() *command {
	c := newCommand("start", "[TYPE[=N] ...]", "Run the app's process types as supervised dynos.", `
Runs one dyno of every Procfile type except release (app.json formation
counts override), or the formation given: "web=2 worker=1", "web=2,worker=1",
or "web" for one type only. web.1 listens on the public port; every other dyno
gets PORT = public + 100 × type index + instance − 1 (the next free port when
that one is taken). A dyno that exits is restarted: at once the first time,
then after 1, 2, 4 … up to 30 seconds; the delay resets once it stayed up for
10 seconds. Ctrl-C stops every dyno with SIGTERM, waits --timeout, then sends
SIGKILL; a second Ctrl-C kills at once.

Environment precedence: the OS environment < env files (later files win) <
config vars set through dynobox. app.json env defaults fill only what is unset.`)
	var af appFlags
	af.register(c.flags, true)
	grace := 30 * time.Second
	boot := 60 * time.Second
	c.flags.Var(secondsFlag{&grace}, "timeout", "grace `SECONDS` between SIGTERM and SIGKILL when stopping (default 30)")
	alias(c.flags, "t", "timeout")
	c.flags.Var(secondsFlag{&boot}, "boot-timeout", "`SECONDS` a web dyno has to bind $PORT before Heroku's R10 (default 60)")
	exitOnCrash := c.flags.Bool("exit-on-crash", false, "stop everything when any dyno exits, and exit with its status")
	logFormat := c.flags.String("log-format", "compact", "`FORMAT` of log lines: compact or logplex (Heroku's full lines)")
	c.run = func(c *command, args []string) int {
		format, ok := logbus.ParseFormat(*logFormat)
		if !ok {
			fmt.Fprintf(os.Stderr, "dynobox: --log-format %q: use compact or logplex\n", *logFormat)
			return exitUsage
		}
		return start(&af, args, startOptions{grace: grace, boot: boot, exitOnCrash: *exitOnCrash, format: format})
	}
	return c
}

type startOptions struct {
	grace, boot time.Duration
	exitOnCrash bool
	format      logbus.Format
}

func start(af *appFlags, args []string, o startOptions) int {
	stderr := os.Stderr
	appDir, err := absDir(af.dir)
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: app directory: %v\n", err)
		return exitUsage
	}
	state, err := runner.OpenStateDir(af.stateDirPath())
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	session := runner.NewSession()
	prev, err := state.Lock(appDir, session)
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	defer state.Unlock()
	if prev != nil {
		// The last run died without cleaning up (kill -9): stop what it left.
		if n := runner.SweepSession(prev.Session, 2*time.Second); n > 0 {
			fmt.Fprintf(stderr, "dynobox: stopped %d process(es) left behind by a previous run (pid %d)\n", n, prev.PID)
		}
	}

	secrets := runner.NewSecrets(state.File("secrets.json"))
	app, err := runner.LoadApp(af.loadOptions(secrets.Get))
	if app != nil {
		for _, w := range app.Warnings {
			fmt.Fprintf(stderr, "dynobox: warning: %s\n", w)
		}
	}
	if err != nil {
		return reportLoadError(stderr, err)
	}
	store, err := dbstate.Open(state.File("state.db"))
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	defer store.Close()
	if rels, err := store.Releases(1); err == nil && len(rels) == 0 {
		store.AddRelease("Initial release", "")
	}
	if len(args) == 0 {
		// ps:scale is remembered: it overrides the default formation.
		if saved, err := store.Formation(); err == nil && len(saved) > 0 {
			for t, n := range saved {
				if _, ok := app.Procfile.Lookup(t); ok && t != runner.ReleaseType {
					args = append(args, fmt.Sprintf("%s=%d", t, n))
				}
			}
			if len(args) > 0 {
				for t, n := range runner.DefaultFormation(app.Procfile, app.AppJSON) {
					if _, ok := saved[t]; !ok {
						args = append(args, fmt.Sprintf("%s=%d", t, n))
					}
				}
			}
		}
	}
	slots, code := planFormation(app, args, withRouter, stderr)
	if code != exitOK {
		return code
	}
	if len(slots) == 0 {
		fmt.Fprintf(stderr, "dynobox: the formation has no dynos; name some, e.g. \"dynobox start web=1\"\n")
		return exitUsage
	}
	for _, s := range slots {
		if s.Type == "web" && s.Index == 1 && !runner.PortFree(s.Port) {
			fmt.Fprintf(stderr, "dynobox: port %d is in use by another process; pass -p PORT or stop it\n", s.Port)
			return exitFailure
		}
	}

	color := term.IsTerminal(int(os.Stdout.Fd())) && os.Getenv("NO_COLOR") == ""
	tty := logbus.NewTerminal(os.Stdout, o.format, color)
	for _, s := range slots {
		tty.Align("heroku[" + s.Name + "]")
	}
	hub := logbus.NewHub(runner.HistoryLines)
	hub.Preload(runner.LoadHistory(store, runner.HistoryLines))
	history := runner.NewHistory(store)
	defer history.Close()
	bus := logbus.New(tty, hub, history)
	go bus.Run()
	defer bus.Close()

	exe, err := os.Executable()
	if err == nil {
		var wd *runner.Watchdog
		wd, err = runner.StartWatchdog(exe, session)
		defer wd.Close()
	}
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}

	for _, s := range slots {
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s on port %d: %s", s.Name, s.Port, s.Command))
	}
	events := runner.NewEventLog(store)
	defer events.Close()
	ctl := &runner.Controller{App: app, Store: store, Hub: hub, Bus: bus, Started: time.Now(),
		RouterURL: fmt.Sprintf("http://127.0.0.1:%d", app.Port), Socket: api.SocketPath(state.Path)}
	env, err := ctl.Env()
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	sup := runner.New(runner.Config{
		AppDir: app.Dir, Env: env, Slots: slots,
		BootTimeout: o.boot, StopTimeout: o.grace, ExitOnCrash: o.exitOnCrash,
		Bus: bus, Session: session, Procfile: app.Procfile, PublicPort: app.Port,
		OnState: events.Record,
	})
	ctl.Sup = sup
	apiListener, err := api.Listen(ctl.Socket)
	if err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}
	apiServer := &http.Server{Handler: api.Handler(ctl), ReadHeaderTimeout: 10 * time.Second}
	go apiServer.Serve(apiListener)
	defer os.Remove(ctl.Socket)
	defer apiServer.Close()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := sup.Start(); err != nil {
		fmt.Fprintf(stderr, "dynobox: %v\n", err)
		return exitFailure
	}

	var crashes <-chan runner.Crash
	if o.exitOnCrash {
		crashes = sup.Crashes()
	}
	status := exitOK
	select {
	case sig := <-sigs:
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Received %s: stopping all dynos (again to kill at once)", signalName(sig)))
	case crash := <-crashes:
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s exited with status %d: stopping all dynos (--exit-on-crash)", crash.Dyno, crash.Status))
		status = crash.Status
	}
	stopped := make(chan struct{})
	go func() { sup.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-sigs:
		sup.Kill()
		<-stopped
	}
	return status
}

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// absDir checks that dir is a directory and makes it absolute.
func absDir(dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", errors.New(dir + " is not a directory")
	}
	return filepath.Abs(dir)
}
