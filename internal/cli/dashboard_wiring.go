package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/web/building"
	"github.com/dynobox/dynobox/web/dashboard"
)

// listenDashboard takes the dashboard's address, before the controller
// that reports it (info's dashboard_url) is made: it returns the listener
// and the URL a browser on this machine opens. The default address
// (127.0.0.1 at the app's port + 1000) is a convenience: when another
// process holds it, the dashboard takes a free port instead, as a dyno
// does, and the URL printed at start says which. An address given with
// --dashboard must be free.
func listenDashboard(addr string, appPort int) (l net.Listener, url string, err error) {
	l, err = net.Listen("tcp", addr)
	if err != nil && addr == fmt.Sprintf("127.0.0.1:%d", appPort+1000) {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		return nil, "", err
	}
	urlHost := l.Addr().String()
	host, _, _ := net.SplitHostPort(urlHost)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		urlHost = net.JoinHostPort("127.0.0.1", strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return l, "http://" + urlHost + "/", nil
}

// serveDashboard serves the web dashboard of ctl's app on l; stop shuts
// it down.
func serveDashboard(ctl *runner.Controller, l net.Listener) (stop func()) {
	host, _, _ := net.SplitHostPort(l.Addr().String())
	d := newDashboard(ctl, host)
	// Open log streams watch ctx: cancelling it ends them, so Shutdown
	// need not wait for their two-second timeout.
	ctx, cancel := context.WithCancel(context.Background())
	go d.Run(ctx)
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

// openGate answers the public port with the building page from the time
// the add-ons start (Postgres' first initdb takes seconds) until the
// dynos run: no request waits for a web dyno that cannot exist yet.
func (in *instance) openGate() int {
	if in.public == nil {
		return exitOK
	}
	in.gate = building.New(in.public, building.Config{App: filepath.Base(in.app.Dir),
		Watch: watchHints("", in.app.Dir),
		Log:   func(line string) { in.bus.Event(logbus.SourceHeroku, "router", line) }})
	if len(in.addonSpecs) > 0 {
		in.gate.SetPhase("starting its add-ons")
	}
	in.gate.Serve()
	in.onExit(in.gate.Close)
	return exitOK
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

// listenDashboard takes the dashboard's address, unless it is off (nil
// listener): its URL is known before the controller that reports it.
func (in *instance) listenDashboard() (net.Listener, string, int) {
	addr := dashboardAddr(in.o.dashboard, in.app.Port)
	if addr == "" {
		return nil, "", exitOK
	}
	l, url, err := listenDashboard(addr, in.app.Port)
	if err != nil {
		return nil, "", in.fail(exitFailure, "dashboard: %v; pass --dashboard ADDR or --dashboard off", err)
	}
	in.onExit(func() { l.Close() })
	return l, url, exitOK
}

// serveDashboard serves the dashboard on l, unless it is off.
func (in *instance) serveDashboard(l net.Listener) {
	if l == nil {
		return
	}
	in.onExit(serveDashboard(in.ctl, l))
	in.bus.Event(logbus.SourceHeroku, "dynobox", "Dashboard on "+in.ctl.DashboardURL)
}
