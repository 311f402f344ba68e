package cli

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/web/api"
	"github.com/dynobox/dynobox/web/platform"
)

// The dyno verbs: info, ps, ps:scale, ps:restart and ps:stop.

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
		pa := platformAPI(info, f)
		if f.json {
			return c.printJSON(struct {
				runner.Info
				PlatformAPI *platform.Address `json:"platform_api,omitempty"`
			}{info, pa})
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
		if a := info.Autoscale; a != nil {
			rows = append(rows, [2]string{"Autoscale", a.Type + ": " + autoscaleLine(a)})
		}
		for _, a := range info.Addons {
			rows = append(rows, [2]string{"Add-on", fmt.Sprintf("%s (%s) %s on %s", a.Name, a.Plan, a.State, a.Addr)})
		}
		for _, d := range info.Dynos {
			rows = append(rows, [2]string{"Dyno", fmt.Sprintf("%s %s port=%d pid=%d", d.Name, d.State, d.Port, d.PID)})
		}
		printAligned(c.stdout, rows)
		if pa != nil {
			fmt.Fprintf(c.stdout, "\nThe real heroku CLI drives this app (heroku ps -a %s) after:\n", pa.App)
			for _, l := range platformExports(pa.URL, pa.Key) {
				fmt.Fprintln(c.stdout, l)
			}
		}
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
		if a := ps.Autoscale; a != nil && a.Type == t {
			fmt.Fprintf(w, "%s\n", autoscaleLine(a))
		}
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
