package cli

import (
	"context"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/web/dashboard"
)

// serveDashboard serves the web dashboard of ctl's app on l; stop shuts
// it down.
func serveDashboard(ctl *runner.Controller, l net.Listener) (stop func()) {
	host, _, _ := net.SplitHostPort(l.Addr().String())
	d := newDashboard(ctl, host)
	// Open log streams watch ctx: cancelling it ends them, so Shutdown
	// need not wait for their two-second timeout.
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{
		Handler:           d.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go srv.Serve(l)
	return func() {
		cancel()
		ctx, cancelShutdown := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancelShutdown()
		srv.Shutdown(ctx)
	}
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
