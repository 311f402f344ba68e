package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/dynobox/dynobox/web/api"
	"github.com/dynobox/dynobox/web/platform"
)

func herokuCommand() *command {
	c := newCommand("heroku", "[--] ARGS...", "Run the real heroku CLI against the running app.", `
Runs the installed heroku CLI (npm install -g heroku; or the program that
DYNOBOX_HEROKU_CLI names) with HEROKU_HOST and HEROKU_API_KEY pointing at
the Platform API that "dynobox start" serves, and HEROKU_APP naming the app,
so that "dynobox heroku ps", "dynobox heroku config:set K=V" or
"dynobox heroku logs --tail" act on this app as Heroku's would. The exit
status is the CLI's. "dynobox info" prints the two export lines to use the
CLI directly.`)
	c.stopAtFn = true
	var f clientFlags
	f.register(c.flags, false)
	c.run = func(c *command, args []string) error {
		if len(args) == 0 {
			return usagef("heroku: no command given; e.g. dynobox heroku ps")
		}
		dir, sd := f.paths()
		addr, ok := platform.Published(sd)
		if !ok {
			return &api.NotRunningError{AppDir: dir}
		}
		cli := os.Getenv("DYNOBOX_HEROKU_CLI")
		if cli == "" {
			cli = "heroku"
		}
		path, err := exec.LookPath(cli)
		if err != nil {
			return fmt.Errorf("the heroku CLI is not installed (npm install -g heroku, or set DYNOBOX_HEROKU_CLI): %w", err)
		}
		cmd := exec.Command(path, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, c.stdout, c.stderr
		cmd.Env = append(os.Environ(), "HEROKU_HOST="+addr.URL, "HEROKU_API_KEY="+addr.Key, "HEROKU_APP="+addr.App,
			"HEROKU_DISABLE_AUTOUPDATE=1", "DISABLE_TELEMETRY=true")
		// Ctrl-C reaches the CLI (same process group); dynobox waits for
		// it to exit and passes its status on.
		sigs := make(chan os.Signal, 4)
		signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT)
		defer signal.Stop(sigs)
		err = cmd.Run()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return status(128 + int(ws.Signal()))
			}
			return status(ee.ExitCode())
		}
		if err != nil {
			return fmt.Errorf("heroku: %w", err)
		}
		return nil
	}
	return c
}
