package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/state"
	"github.com/dynobox/dynobox/web/api"
)

// The verbs that steer a running dynobox, in the shapes of Heroku's CLI.

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
	sd := f.stateDir
	if sd == "" {
		sd = filepath.Join(dir, ".dynobox")
	}
	return dir, sd
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
	return []*command{psCommand(), scaleCommand(), restartCommand(), stopCommand(), logsCommand(),
		configCommand(), configSetCommand(), configUnsetCommand(), configGetCommand(),
		releasesCommand(), rollbackCommand(), infoCommand()}
}

func infoCommand() *command {
	c := newCommand("info", "", "Show the running app: release, addresses, add-ons, dynos with ports and pids.", "")
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		var info runner.Info
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Info(&info); err != nil {
			return err
		}
		f.noteStopped(c.stderr, client, savedState)
		if f.json {
			return c.printJSON(info)
		}
		fmt.Fprintf(c.stdout, "=== %s\n", info.Name)
		rows := [][2]string{{"Dir", info.Dir}}
		if info.State == "stopped" {
			rows = append(rows, [2]string{"State", "stopped (start it with \"dynobox start\")"}, [2]string{"Release", fmt.Sprintf("v%d", info.Release)})
		} else {
			rows = append(rows, [2]string{"PID", strconv.Itoa(info.PID)}, [2]string{"Release", fmt.Sprintf("v%d", info.Release)},
				[2]string{"Web URL", info.Router}, [2]string{"Started", humanTime(info.Started)})
		}
		if info.Dashboard != "" {
			rows = append(rows, [2]string{"Dashboard", info.Dashboard})
		}
		if b := info.Build; b != nil {
			rows = append(rows, [2]string{"Build", buildLine(b)})
		}
		for _, a := range info.Addons {
			rows = append(rows, [2]string{"Add-on", fmt.Sprintf("%s (%s) %s on %s", a.Name, a.Plan, a.State, a.Addr)})
		}
		for _, d := range info.Dynos {
			rows = append(rows, [2]string{"Dyno", fmt.Sprintf("%s %s port=%d pid=%d", d.Name, d.State, d.Port, d.PID)})
		}
		printAligned(c.stdout, rows)
		return nil
	}
	return c
}

func psCommand() *command {
	c := newCommand("ps", "[TYPE ...]", "List the dynos by process type, with state, port, pid and restarts.", "")
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		var ps api.PS
		client := f.savedStateClient()
		defer client.Close()
		if err := client.PS(&ps); err != nil {
			return err
		}
		f.noteStopped(c.stderr, client, "no dyno runs")
		if len(args) > 0 {
			keep := map[string]bool{}
			for _, a := range args {
				if _, ok := ps.Commands[a]; !ok {
					var types []string
					for t := range ps.Commands {
						types = append(types, t)
					}
					sort.Strings(types)
					return usagef("unknown process type %q; the Procfile has: %s", a, strings.Join(types, ", "))
				}
				keep[a] = true
			}
			var dynos []runner.DynoInfo
			for _, d := range ps.Dynos {
				if keep[d.Type] {
					dynos = append(dynos, d)
				}
			}
			ps.Dynos = dynos
		}
		if f.json {
			return c.printJSON(ps)
		}
		writePS(c.stdout, ps)
		return nil
	}
	return c
}

// buildLine describes the newest build for ps and info.
func buildLine(b *runner.BuildState) string {
	switch b.Status {
	case runner.Building:
		return fmt.Sprintf("building for %s (dynobox logs --tail shows its output)", b.Duration.Round(time.Second))
	case "failed":
		return fmt.Sprintf("%s failed %s: the dynos run the release before it; \"dynobox builds %s\" shows why", b.ID, humanTime(b.Started.Local()), b.ID)
	}
	return fmt.Sprintf("%s %s %s", b.ID, b.Status, humanTime(b.Started.Local()))
}

// writePS prints Heroku's ps shape: "=== web: npm start (2)" then dynos,
// after a line on a build that runs or failed: what the dynos run is not
// the code as saved.
func writePS(w io.Writer, ps api.PS) {
	if b := ps.Build; b != nil && b.Status != "succeeded" {
		fmt.Fprintf(w, "=== Build %s\n\n", buildLine(b))
	}
	byType := map[string][]runner.DynoInfo{}
	var types []string
	for _, d := range ps.Dynos {
		if _, ok := byType[d.Type]; !ok {
			types = append(types, d.Type)
		}
		byType[d.Type] = append(byType[d.Type], d)
	}
	if len(types) == 0 {
		if ps.Stopped {
			fmt.Fprintln(w, "No dynos are running: the app is stopped; start it with \"dynobox start\".")
			return
		}
		fmt.Fprintln(w, "No dynos are running; scale some with \"dynobox ps:scale web=1\".")
		return
	}
	sort.Strings(types) // as Heroku's ps lists them
	for i, t := range types {
		sort.SliceStable(byType[t], func(a, b int) bool { return dynoIndex(byType[t][a].Name) < dynoIndex(byType[t][b].Name) })
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "=== %s: %s (%d)\n", t, ps.Commands[t], ps.Formation[t])
		for _, d := range byType[t] {
			pid := "-"
			if d.PID > 0 {
				pid = strconv.Itoa(d.PID)
			}
			fmt.Fprintf(w, "%s: %s %s  port=%d pid=%s restarts=%d\n", d.Name, d.State, humanTime(d.Since), d.Port, pid, d.Restarts)
		}
	}
}

// dynoIndex is N of "web.N".
func dynoIndex(name string) int {
	n, _ := strconv.Atoi(name[strings.LastIndexByte(name, '.')+1:])
	return n
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

func scaleCommand() *command {
	c := newCommand("ps:scale", "TYPE=N|TYPE+N|TYPE-N ...", "Change the formation of the running app; remembered across restarts.", `
Only the named types change; web=0 stops all web dynos. Examples:
  dynobox ps:scale web=3 worker+1 clock-1`)
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		changes, err := runner.ParseScale(args)
		if err != nil {
			return err
		}
		var counts map[string]int
		if err := f.client().Post("/v1/ps/scale", map[string]any{"changes": changes}, &counts); err != nil {
			return err
		}
		if f.json {
			return c.printJSON(counts)
		}
		fmt.Fprintf(c.stdout, "Scaling dynos... done, now running %s\n", runner.FormationString(counts))
		return nil
	}
	return c
}

func selectFlags(fs *flag.FlagSet) (*string, *string) {
	typ := fs.String("process-type", "", "only dynos of this `TYPE`")
	alias(fs, "p", "process-type")
	dyno := fs.String("dyno-name", "", "only this `DYNO`, e.g. web.1")
	alias(fs, "d", "dyno-name")
	return typ, dyno
}

func restartCommand() *command {
	c := newCommand("ps:restart", "[DYNO]", "Restart dynos: all, one type (-p) or one dyno (-d).", "")
	var f clientFlags
	f.register(c.flags, true)
	typ, dyno := selectFlags(c.flags)
	c.run = func(c *command, args []string) error {
		return controlVerb(c, &f, "/v1/ps/restart", "Restarting", *typ, *dyno, args)
	}
	return c
}

func stopCommand() *command {
	c := newCommand("ps:stop", "[DYNO]", "Stop dynos (-p TYPE or -d DYNO) until they are restarted or rescaled.", "")
	var f clientFlags
	f.register(c.flags, true)
	typ, dyno := selectFlags(c.flags)
	c.run = func(c *command, args []string) error {
		if *typ == "" && *dyno == "" && len(args) == 0 {
			return usagef("ps:stop needs -p TYPE or -d DYNO (or a dyno name)")
		}
		return controlVerb(c, &f, "/v1/ps/stop", "Stopping", *typ, *dyno, args)
	}
	return c
}

func controlVerb(c *command, f *clientFlags, path, verb, typ, dyno string, args []string) error {
	if len(args) > 1 {
		return usagef("name at most one dyno or type")
	}
	if len(args) == 1 { // Heroku accepts "web" or "web.1" as an argument
		if strings.Contains(args[0], ".") {
			dyno = args[0]
		} else {
			typ = args[0]
		}
	}
	var names []string
	if err := f.client().Post(path, runner.Select{Type: typ, Dyno: dyno}, &names); err != nil {
		return err
	}
	if f.json {
		return c.printJSON(names)
	}
	what := "all dynos"
	switch {
	case dyno != "":
		what = dyno
	case typ != "":
		what = typ + " dynos"
	}
	fmt.Fprintf(c.stdout, "%s %s... done\n", verb, what)
	return nil
}

func logsCommand() *command {
	c := newCommand("logs", "", "Show the app's logs in Logplex format: the last 100 lines, or follow with --tail.", fmt.Sprintf(`
The app keeps the last %d lines, across its restarts. With dynobox
stopped, logs prints the lines it saved (a failed start among them), and
--tail then waits for the next start and follows it.`, api.MaxLogLines))
	var f clientFlags
	f.register(c.flags, true)
	n := c.flags.Int("num", 100, "number of lines to show")
	alias(c.flags, "n", "num")
	tail := c.flags.Bool("tail", false, "keep printing new lines as they arrive")
	alias(c.flags, "t", "tail")
	typ, dyno := selectFlags(c.flags)
	source := c.flags.String("source", "", "only lines from `SOURCE`: app or heroku")
	alias(c.flags, "s", "source")
	c.run = func(c *command, args []string) error {
		if *source != "" && *source != "app" && *source != "heroku" {
			return usagef("--source %q: use app or heroku", *source)
		}
		q := url.Values{"n": {strconv.Itoa(*n)}, "dyno": {*dyno}, "type": {*typ}, "source": {*source}}
		if *tail {
			q.Set("tail", "1")
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		enc := json.NewEncoder(c.stdout)
		var last time.Time // the newest line printed
		print := func(l api.LogLine) error {
			if l.Time.After(last) {
				last = l.Time
			}
			if f.json {
				return enc.Encode(l)
			}
			_, err := fmt.Fprintf(c.stdout, "%s %s[%s]: %s\n", l.Time.Format("2006-01-02T15:04:05.000000-07:00"), l.Source, l.Process, l.Text)
			return err
		}
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Logs(ctx, q, print); err != nil {
			return err
		}
		if !client.Stopped() {
			return nil
		}
		if !*tail {
			f.noteStopped(c.stderr, client, "these are the lines it saved")
			return nil
		}
		// As Heroku's logs --tail on an app without dynos: wait for lines.
		f.noteStopped(c.stderr, client, "these are the lines it saved; waiting for it to start (Ctrl-C to stop)")
		return tailOnceRunning(ctx, &f, q, func(l api.LogLine) error {
			if !l.Time.After(last) {
				return nil // printed from the saved history already
			}
			return print(l)
		})
	}
	return c
}

// tailOnceRunning follows the log of the app's dynobox once it answers,
// from the first line it has that is new, until ctx ends.
func tailOnceRunning(ctx context.Context, f *clientFlags, q url.Values, print func(api.LogLine) error) error {
	q.Set("n", strconv.Itoa(api.MaxLogLines)) // what it logged before we connected; print skips the old
	for {
		err := f.client().Logs(ctx, q, print)
		var re *api.RequestError
		if errors.As(err, &re) {
			return err
		}
		// Not running yet, or the dynobox stopped: wait for the next.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func configCommand() *command {
	c := newCommand("config", "", "List config vars: from env files, config:set and add-ons.", "")
	var f clientFlags
	f.register(c.flags, true)
	shell := c.flags.Bool("shell", false, "print KEY='value' lines for a shell")
	alias(c.flags, "s", "shell")
	c.run = func(c *command, args []string) error {
		var vars []runner.ConfigVar
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Config(&vars); err != nil {
			return err
		}
		f.noteStopped(c.stderr, client, "add-on config vars are set when it starts")
		switch {
		case f.json:
			m := map[string]string{}
			for _, v := range vars {
				m[v.Key] = v.Value
			}
			return c.printJSON(m)
		case *shell:
			for _, v := range vars {
				fmt.Fprintf(c.stdout, "%s=%s\n", v.Key, runner.ShellJoin([]string{v.Value}))
			}
		default:
			var info runner.Info
			client.Info(&info)
			fmt.Fprintf(c.stdout, "=== %s Config Vars\n\n", info.Name)
			rows := make([][2]string, len(vars))
			for i, v := range vars {
				rows[i] = [2]string{v.Key + ":", v.Value}
			}
			printAligned(c.stdout, rows)
		}
		return nil
	}
	return c
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

func configSetCommand() *command {
	c := newCommand("config:set", "KEY=VALUE ...", "Set config vars: creates a release and restarts the dynos (stopped: the next start runs it).", "")
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		set := map[string]string{}
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			if !ok || k == "" {
				return usagef("%q must be KEY=VALUE", a)
			}
			set[k] = v
		}
		if len(set) == 0 {
			return usagef("usage: dynobox config:set KEY=VALUE ...")
		}
		return configChange(c, &f, api.ConfigChange{Set: set}, "Setting")
	}
	return c
}

func configUnsetCommand() *command {
	c := newCommand("config:unset", "KEY ...", "Unset config vars: creates a release and restarts the dynos (stopped: the next start runs it).", "")
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		if len(args) == 0 {
			return usagef("usage: dynobox config:unset KEY ...")
		}
		return configChange(c, &f, api.ConfigChange{Unset: args}, "Unsetting")
	}
	return c
}

func configChange(c *command, f *clientFlags, change api.ConfigChange, verb string) error {
	var rel state.Release
	client := f.savedStateClient()
	defer client.Close()
	if err := client.Post("/v1/config", change, &rel); err != nil {
		return err
	}
	f.noteStopped(c.stderr, client, fmt.Sprintf("v%d is recorded and the next \"dynobox start\" runs it", rel.Version))
	if f.json {
		return c.printJSON(rel)
	}
	keys := change.Unset
	if len(change.Set) > 0 {
		keys = nil
		for k := range change.Set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	restarting := " and restarting"
	if client.Stopped() {
		restarting = ""
	}
	fmt.Fprintf(c.stdout, "%s %s%s... done, v%d\n", verb, strings.Join(keys, ", "), restarting, rel.Version)
	if len(change.Set) > 0 {
		rows := make([][2]string, len(keys))
		for i, k := range keys {
			rows[i] = [2]string{k + ":", change.Set[k]}
		}
		printAligned(c.stdout, rows)
	}
	return nil
}

func configGetCommand() *command {
	c := newCommand("config:get", "KEY", "Print one config var's raw value.", "")
	var f clientFlags
	f.register(c.flags, false)
	c.run = func(c *command, args []string) error {
		if len(args) != 1 {
			return usagef("usage: dynobox config:get KEY")
		}
		var vars []runner.ConfigVar
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Config(&vars); err != nil {
			return err
		}
		f.noteStopped(c.stderr, client, "add-on config vars are set when it starts")
		for _, v := range vars {
			if v.Key == args[0] {
				fmt.Fprintln(c.stdout, v.Value)
				return nil
			}
		}
		fmt.Fprintln(c.stdout) // Heroku prints an empty line for an unset var
		return nil
	}
	return c
}

func releasesCommand() *command {
	c := newCommand("releases", "", "List releases, newest first.", "")
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		var rels []state.Release
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Releases(&rels); err != nil {
			return err
		}
		f.noteStopped(c.stderr, client, savedState)
		if f.json {
			return c.printJSON(rels)
		}
		var info runner.Info
		client.Info(&info)
		if len(rels) == 0 {
			fmt.Fprintf(c.stdout, "=== %s Releases\nNo releases yet: \"dynobox start\" makes v1.\n", info.Name)
			return nil
		}
		cur := 0
		for _, r := range rels {
			if r.Status == "succeeded" {
				cur = r.Version
				break
			}
		}
		fmt.Fprintf(c.stdout, "=== %s Releases - Current: v%d\n", info.Name, cur)
		width := 0
		for _, r := range rels {
			width = max(width, len(releaseText(r)))
		}
		for _, r := range rels {
			build := r.BuildID
			if build == "" {
				build = "-"
			}
			fmt.Fprintf(c.stdout, "v%-3d %-*s  %-5s  %s\n", r.Version, width, releaseText(r), build, humanTime(r.CreatedAt.Local()))
		}
		return nil
	}
	return c
}

// releaseText is a release's description, with Heroku's note when its
// release command failed.
func releaseText(r state.Release) string {
	if r.Status == "failed" {
		return r.Description + " (release command failed)"
	}
	return r.Description
}

func rollbackCommand() *command {
	c := newCommand("releases:rollback", "vN", "Return to release vN's build and config vars, as a new release.", "")
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		if len(args) != 1 {
			return usagef("usage: dynobox releases:rollback vN")
		}
		v, err := strconv.Atoi(strings.TrimPrefix(args[0], "v"))
		if err != nil || v <= 0 {
			return usagef("%q is not a release; use vN as \"dynobox releases\" lists them", args[0])
		}
		var rel state.Release
		if err := f.client().Post("/v1/releases/rollback", map[string]int{"version": v}, &rel); err != nil {
			return err
		}
		if f.json {
			return c.printJSON(rel)
		}
		fmt.Fprintf(c.stdout, "Rolling back to v%d... done, v%d\n", v, rel.Version)
		return nil
	}
	return c
}
