package cli

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/web/api"
)

// The verbs that steer a running dynobox, in the shapes of Heroku's CLI:
// the flags and the client they share. One file per verb group: ps.go,
// logs.go, config.go, releases.go, deploy_cmd.go, addons_cmd.go.

// clientFlags are the flags of every verb that talks to a running dynobox.
type clientFlags struct {
	dir, stateDir string
	json          bool

	starting int // with a saved-state client: a dynobox starting but not answering yet
}

func (f *clientFlags) register(fs *flag.FlagSet, withJSON bool) {
	fs.StringVar(&f.dir, "app-dir", ".", "the app `DIR`ectory")
	alias(fs, "C", "app-dir")
	fs.StringVar(&f.stateDir, "state-dir", "", "state `DIR`ectory (default DIR/.dynobox)")
	if withJSON {
		fs.BoolVar(&f.json, "json", false, "print JSON for scripts")
		alias(fs, "j", "json")
	}
}

func (f *clientFlags) paths() (appDir, stateDir string) {
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		dir = f.dir
	}
	return dir, runner.StateDirPath(dir, f.stateDir)
}

func (f *clientFlags) client() *api.Client {
	return api.NewClient(f.paths())
}

// savedStateClient is client() that, when no dynobox runs for the app,
// answers from its saved state — the releases, builds, config vars,
// add-ons and log history in the state database — as Heroku's CLI
// answers whatever the dynos do. Close it when done.
func (f *clientFlags) savedStateClient() *api.Client {
	dir, sd := f.paths()
	return f.client().WithFallback(func() (http.Handler, func(), error) {
		o, err := runner.OpenOffline(dir, sd)
		if err != nil {
			return nil, nil, err
		}
		f.starting = o.Starting
		return api.OfflineHandler(o), func() { o.Close() }, nil
	})
}

// noteStopped says on stderr — so that --json output stays JSON — that
// what the verb printed is the stopped app's saved state.
func (f *clientFlags) noteStopped(stderr io.Writer, c *api.Client, what string) {
	if !c.Stopped() {
		return
	}
	dir, _ := f.paths()
	if f.starting != 0 {
		fmt.Fprintf(stderr, "dynobox: dynobox is starting for %s (pid %d) and does not answer yet; %s\n", dir, f.starting, what)
		return
	}
	fmt.Fprintf(stderr, "dynobox: the app is stopped (no dynobox is running for %s); %s\n", dir, what)
}

// savedState is noteStopped's usual ending.
const savedState = "this is its saved state"

func verbCommands() []*command {
	cmds := []*command{psCommand(), scaleCommand(), restartCommand(), stopCommand(), logsCommand(),
		configCommand(), configSetCommand(), configUnsetCommand(), configGetCommand(),
		releasesCommand(), rollbackCommand(), infoCommand(), herokuCommand()}
	return append(cmds, autoscaleCommands()...)
}

// humanTime is Heroku's "2026/11/26 10:00:00 +0000 (~ 5m ago)".
func humanTime(t time.Time) string {
	ago := time.Since(t).Round(time.Second)
	var rel string
	switch {
	case ago < time.Minute:
		rel = fmt.Sprintf("%ds", int(ago.Seconds()))
	case ago < time.Hour:
		rel = fmt.Sprintf("%dm", int(ago.Minutes()))
	default:
		rel = fmt.Sprintf("%dh", int(ago.Hours()))
	}
	return fmt.Sprintf("%s (~ %s ago)", t.Format("2006/01/02 15:04:05 -0700"), rel)
}

func printAligned(w io.Writer, rows [][2]string) {
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(w, "%-*s %s\n", width, r[0], r[1])
	}
}
