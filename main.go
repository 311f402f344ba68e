// Command dynobox runs a Heroku app on one machine, for development: the
// Procfile's process types as supervised dynos, with Heroku's ports,
// environment, log lines and restart behaviour. The command layer is
// internal/cli; this file only starts it.
package main

import (
	"context"
	"os"
	"runtime/debug"

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
	// A GC target of 400 instead of Go's 100, unless GOGC is set: dynobox
	// keeps a few MB live while its router allocates about 10 KB per
	// request, so at 100 it collected several times a second under load.
	// Measured (bench/README.md, router, eighth pass): GC and scavenging
	// went from about 14% of the router's CPU to 2-3%, for 12-17 MB more
	// resident memory. A heap that is large to begin with (much data in
	// the embedded Redis or Kafka) grows to 5× its live size instead of 2×:
	// GOGC=100 restores Go's default. Set in the process, not the
	// environment, so that dynos do not inherit it.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	cli.Version = version
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
