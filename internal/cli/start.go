package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/web/api"
	"golang.org/x/term"
)

func startCommand() *command {
	c := newCommand("start", "[TYPE[=N] ...]", "Run the app's process types as supervised dynos.", `
Starts the app's add-ons (app.json, addons:create), builds the app as its
Heroku buildpack would (or --build), runs the Procfile's release command
for a new release, then the dynos; watches the app directory to deploy on
every save and to reload .env and the Procfile when they change.

--no-watch serves only explicit releases, for a workshop that teaches git
push: "dynobox deploy" or "git push dynobox main" deploys, and a start runs
the current release as it is, building the work tree only when the app has
never had a build.

Runs one dyno of every Procfile type except release (app.json formation
counts override), or the formation given: "web=2 worker=1", "web=2,worker=1",
or "web" for one type only. A router holds the public port and sends
requests to the web dynos; each dyno gets PORT = public + 100 × type index +
instance − 1, or the next free port when that one is taken (web.1 is public
+ 1). A web dyno restarted by a deploy, by hand or by a config change boots
its replacement on a new port first (Heroku's preboot). A dyno that exits
is restarted: at once the first time, then after 1, 2, 4 … up to 30
seconds; the delay resets once it stayed up for 10 seconds. Ctrl-C stops every dyno with SIGTERM, waits --timeout, then sends
SIGKILL; a second Ctrl-C kills at once.

Environment precedence: the OS environment < env files (later files win) <
config vars set through dynobox. app.json env defaults fill only what is unset.`)
	var af appFlags
	af.register(c.flags, true)
	grace := 30 * time.Second
	boot := 60 * time.Second
	c.flags.Var(secondsFlag{&grace}, "timeout", "grace `SECONDS` between SIGTERM and SIGKILL when stopping")
	alias(c.flags, "t", "timeout")
	c.flags.Var(secondsFlag{&boot}, "boot-timeout", "`SECONDS` a web dyno has to bind $PORT before Heroku's R10")
	requestTimeout := 30 * time.Second
	c.flags.Var(secondsFlag{&requestTimeout}, "request-timeout", "`SECONDS` a web dyno has to start its response before the router's H12")
	exitOnCrash := c.flags.Bool("exit-on-crash", false, "stop everything when any dyno exits, and exit with its status")
	logFormat := c.flags.String("log-format", "compact", "`FORMAT` of log lines: compact or logplex (Heroku's full lines)")
	bind := c.flags.String("bind", "127.0.0.1", "`ADDRESS` the router listens on; anything but loopback exposes the app to the network")
	dashboard := c.flags.String("dashboard", "", "`ADDR`ess of the web dashboard (default 127.0.0.1:PORT+1000), or off")
	noWatch := c.flags.Bool("no-watch", false, "do not watch the app directory; serve only releases made by \"dynobox deploy\" or git push")
	buildCmd := c.flags.String("build", "", "`COMMAND` that builds the app, or none (default: detect Go, Node.js, Python or Ruby as Heroku does)")
	c.run = func(c *command, args []string) error {
		format, ok := logbus.ParseFormat(*logFormat)
		if !ok {
			return usagef("--log-format %q: use compact or logplex", *logFormat)
		}
		for _, err := range []error{checkBind(*bind), checkDashboard(*dashboard)} {
			if err != nil {
				return err
			}
		}
		if ip := net.ParseIP(*bind); *bind != "localhost" && (ip == nil || !ip.IsLoopback()) {
			fmt.Fprintf(c.stderr, "dynobox: warning: --bind %s makes the app reachable from other machines\n", *bind)
		}
		return start(c, &af, args, startOptions{grace: grace, boot: boot, exitOnCrash: *exitOnCrash, format: format, bind: *bind, dashboard: *dashboard, requestTimeout: requestTimeout, watch: !*noWatch, build: *buildCmd})
	}
	return c
}

type startOptions struct {
	grace, boot time.Duration
	exitOnCrash bool
	format      logbus.Format
	bind        string // the router's address
	dashboard   string // the dashboard's address, or "off"
	// requestTimeout is the router's H12: no response started in time.
	requestTimeout time.Duration
	watch          bool   // deploy on save, reload env files and Procfile
	build          string // runner.BuildAuto, BuildNone or a command
}

// start runs the app (runner.Instance): Open takes its state, files and
// ports, Run starts it and runs it until a signal (or a crash with
// --exit-on-crash), Close stops what started. A first SIGINT, SIGTERM or
// SIGHUP stops the run gracefully, a second kills the dynos at once. The
// web side (building page, router, API, dashboard) is front's.
//
// What failed is returned once, for exitCode to print and map; the
// instance saved it in the log history too (logs on the stopped app
// reads a failed start back).
func start(c *command, af *appFlags, args []string, o startOptions) error {
	f, isFile := c.stdout.(*os.File)
	color := isFile && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
	kill := make(chan struct{})
	in, err := runner.Open(c.ctx, runner.Options{
		Load: af.loadOptions(nil), StateDir: af.stateDirPath(), Formation: args,
		Bind: o.bind, Dashboard: o.dashboard, Socket: api.SocketPath(af.stateDirPath()),
		StopTimeout: o.grace, BootTimeout: o.boot, ExitOnCrash: o.exitOnCrash, Watch: o.watch, Build: o.build,
		Terminal: logbus.NewTerminal(c.stdout, o.format, color),
		Notice:   func(msg string) { fmt.Fprintf(c.stderr, "dynobox: %s\n", msg) },
		Front:    &front{requestTimeout: o.requestTimeout},
		Kill:     kill,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(c.ctx)
	defer cancel(nil)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case sig := <-sigs:
			cancel(&runner.Interrupted{Signal: signalName(sig)})
		case <-ctx.Done():
			return
		}
		select {
		case <-sigs:
			close(kill)
		case <-done:
		}
	}()
	err = in.Run(ctx)
	cerr := in.Close() // stops the add-ons: a failed final save is a failed run
	switch {
	case err == nil:
		return cerr
	case cerr == nil:
		return err
	}
	return errors.Join(err, cerr)
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
