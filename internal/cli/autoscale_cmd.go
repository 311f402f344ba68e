package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/metrics"
	"github.com/dynobox/dynobox/web/api"
)

// The autoscaling and router metrics verbs: ps:autoscale:enable,
// ps:autoscale:disable (Heroku's) and metrics (Heroku Metrics' router panel).

func autoscaleCommands() []*command {
	return []*command{autoscaleEnableCommand(), autoscaleDisableCommand(), metricsCommand()}
}

func autoscaleEnableCommand() *command {
	c := newCommand("ps:autoscale:enable", "web --min N --max M --p95 MS", "Autoscale the web dynos on the router's p95 response time; remembered across restarts.", `
Every DYNOBOX_AUTOSCALE_INTERVAL (10s) dynobox reads the router's numbers
over DYNOBOX_AUTOSCALE_WINDOW (1m): a p95 over the target adds a web dyno;
a p95 under half of it for a whole window, when one fewer dyno still
carries the requests, removes one. Never outside --min..--max; ps:scale
outside them is refused. Example:
  dynobox ps:autoscale:enable web --min 1 --max 3 --p95 500`)
	var f clientFlags
	f.register(c.flags, true)
	minN := c.flags.Int("min", 0, "the fewest web dynos, at least 1")
	maxN := c.flags.Int("max", 0, "the most web dynos")
	p95 := c.flags.Int64("p95", 0, "the p95 response time target in `MS`")
	notify := c.flags.Bool("notifications", false, "remembered, as Heroku's; dynobox logs every decision anyway")
	c.run = func(c *command, args []string) error {
		if len(args) != 1 {
			return usagef("name the process type: ps:autoscale:enable web --min N --max M --p95 MS")
		}
		if *minN == 0 || *maxN == 0 || *p95 == 0 {
			return usagef("--min, --max and --p95 are required, e.g. ps:autoscale:enable web --min 1 --max 3 --p95 500")
		}
		var info runner.AutoscaleInfo
		req := api.AutoscaleChange{Type: args[0], Min: *minN, Max: *maxN, P95: *p95, Notifications: *notify}
		if err := f.client().Post("/v1/ps/autoscale", req, &info); err != nil {
			return err
		}
		if f.json {
			return c.printJSON(info)
		}
		fmt.Fprintf(c.stdout, "Enabling autoscaling for %s dynos... done, %s\n", info.Type, autoscaleLine(&info))
		return nil
	}
	return c
}

func autoscaleDisableCommand() *command {
	c := newCommand("ps:autoscale:disable", "web", "Stop autoscaling the web dynos; they stay as many as they are.", "")
	var f clientFlags
	f.register(c.flags, false)
	c.run = func(c *command, args []string) error {
		if len(args) != 1 {
			return usagef("name the process type: ps:autoscale:disable web")
		}
		if err := f.client().Delete("/v1/ps/autoscale/"+args[0], nil); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Disabling autoscaling for %s dynos... done\n", args[0])
		return nil
	}
	return c
}

// autoscaleLine describes autoscaling for ps and ps:autoscale:enable.
func autoscaleLine(a *runner.AutoscaleInfo) string {
	s := fmt.Sprintf("autoscaling %d..%d dynos on a p95 of %dms", a.Min, a.Max, a.P95)
	if a.Last != "" {
		s += fmt.Sprintf(" (last decision %s: %s)", a.LastAt.Local().Format("15:04:05"), a.Last)
	}
	return s
}

func metricsCommand() *command {
	c := newCommand("metrics", "", "Show the router's last minute: requests/min by status class, p50/p95/p99, H-codes/min.", `
As Heroku Metrics' router panel. --json adds the last ten minutes in
20-second points (what the dashboard charts).`)
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		if len(args) > 0 {
			return usagef("metrics takes no arguments")
		}
		var m runner.RouterMetrics
		if err := f.client().Call("GET", "/v1/metrics", nil, &m); err != nil {
			return err
		}
		if f.json {
			return c.printJSON(m)
		}
		writeMetrics(c.stdout, m)
		return nil
	}
	return c
}

func writeMetrics(w io.Writer, m runner.RouterMetrics) {
	win := m.Minute
	fmt.Fprintf(w, "=== Router, last %s\n", time.Duration(float64(win.Duration)*float64(time.Second)).Round(time.Second))
	rows := [][2]string{{"Requests/min", fmt.Sprintf("%.0f", win.PerMinute(win.Requests))}}
	for _, k := range metrics.SortedKeys(win.Classes) {
		rows = append(rows, [2]string{"  " + k, fmt.Sprintf("%.0f", win.PerMinute(win.Classes[k]))})
	}
	rows = append(rows, [2]string{"Response time", fmt.Sprintf("p50 %.0fms  p95 %.0fms  p99 %.0fms", win.P50, win.P95, win.P99)})
	if len(win.HCodes) == 0 {
		rows = append(rows, [2]string{"H-codes/min", "none"})
	}
	for _, k := range metrics.SortedKeys(win.HCodes) {
		rows = append(rows, [2]string{"H-codes/min " + k, fmt.Sprintf("%.1f", win.PerMinute(win.HCodes[k]))})
	}
	if m.Autoscale != nil {
		rows = append(rows, [2]string{"Autoscaling", autoscaleLine(m.Autoscale)})
	}
	printAligned(w, rows)
}
