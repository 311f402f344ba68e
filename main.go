// Command dynobox runs a Heroku app on one machine, for development: the
// Procfile's process types as supervised dynos, with Heroku's ports,
// environment, log lines and restart behaviour. The command layer is
// internal/cli; this file only starts it.
package main

import (
	"context"
	"os"

	"github.com/dynobox/dynobox/internal/cli"
	"github.com/dynobox/dynobox/runner"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	// The watchdog is this binary run again: it stops the session's
	// processes when the dynobox that started it dies (kill -9).
	if len(os.Args) == 3 && os.Args[1] == runner.WatchdogArg {
		runner.RunWatchdog(os.Args[2])
		return
	}
	cli.Version = version
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}
