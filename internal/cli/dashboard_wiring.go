package cli

import (
	"net"
	"os"
	"time"

	"github.com/dynobox/dynobox/internal/httpserve"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/web/dashboard"
)

// dashboardService serves the web dashboard of ctl's app on l until its
// context ends; open log streams end with it.
func dashboardService(ctl *runner.Controller, l net.Listener) runner.Service {
	host, _, _ := net.SplitHostPort(l.Addr().String())
	return &httpserve.Server{Handler: newDashboard(ctl, host).Handler(), Listener: l, Grace: 2 * time.Second}
}

// newDashboard returns ctl's dashboard for a listener on host. Bound to a
// chosen non-loopback address, it accepts that address in Host headers (an
// IP literal cannot be rebound by DNS), or every interface's when bound to
// all of them; loopback names and addresses are always accepted.
func newDashboard(ctl *runner.Controller, host string) *dashboard.Dashboard {
	d := dashboard.New(ctl)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				d.AllowHost(n.IP.String())
			}
		}
	} else if ip != nil && !ip.IsLoopback() {
		d.AllowHost(host)
	}
	return d
}

// watchHints are where the building page tells people to watch the first
// build: the dashboard, the log and the builds.
func watchHints(dashboard, appDir string) []string {
	var hints []string
	if dashboard != "" {
		hints = append(hints, dashboard)
	}
	dir := ""
	if wd, err := os.Getwd(); err != nil || wd != appDir {
		dir = " -C " + runner.ShellJoin([]string{appDir})
	}
	return append(hints, "dynobox logs --tail"+dir, "dynobox builds"+dir)
}
