package cli

import (
	"context"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/web/api"
	"github.com/dynobox/dynobox/web/building"
	"github.com/dynobox/dynobox/web/router"
)

// front is the web side of a start, which runner drives but cannot make
// (web imports runner, never the other way round): the building page and
// then the router on the public port, the API socket and the dashboard.
// See runner.Front for when each method is called.
type front struct {
	requestTimeout time.Duration // the router's H12
	gate           *building.Gate
}

// Hold answers the public port with the building page from the time the
// add-ons start (Postgres' first initdb takes seconds) until the dynos
// run: no request waits for a web dyno that cannot exist yet.
func (f *front) Hold(ctl *runner.Controller, public net.Listener, phase runner.Phase) (stop func()) {
	f.gate = building.New(public, building.Config{App: ctl.Name(),
		Watch: watchHints("", ctl.App.Dir),
		Log:   func(line string) { ctl.Bus.Event(logbus.SourceHeroku, "router", line) }})
	f.gate.SetPhase(string(phase))
	f.gate.Serve()
	return f.gate.Close
}

// Serve serves the router behind the gate, the API and the dashboard.
func (f *front) Serve(ctl *runner.Controller, dashboard net.Listener) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	rt := router.New(router.Config{
		Pool:            webPool{ctl.Sup},
		Log:             func(line string) { ctl.Bus.Event(logbus.SourceHeroku, "router", line) },
		PublicPort:      ctl.App.Port,
		ResponseTimeout: f.requestTimeout,
	})
	go rt.Serve(f.gate.Listener())
	stops = append(stops, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		rt.Shutdown(ctx)
	})
	stopPlatform, err := servePlatform(ctl)
	if err != nil {
		stop()
		return nil, err
	}
	stops = append(stops, stopPlatform)
	apiListener, err := api.Listen(ctl.Socket)
	if err != nil {
		stop()
		return nil, err
	}
	if dashboard != nil {
		stops = append(stops, serveDashboard(ctl, dashboard))
	}
	apiServer := &http.Server{Handler: api.Handler(ctl), ReadHeaderTimeout: 10 * time.Second}
	go apiServer.Serve(apiListener)
	stops = append(stops, func() { apiServer.Close(); os.Remove(ctl.Socket) })
	f.gate.SetWatch(watchHints(ctl.DashboardURL, ctl.App.Dir))
	f.gate.SetPhase(string(runner.PhaseStarting))
	return stop, nil
}

// Phase says on the building page what the start does; once the dynos
// run, the gate hands the public port to the router.
func (f *front) Phase(p runner.Phase) {
	if p == runner.PhaseRunning {
		f.gate.Open() // the router takes requests: web dynos boot, or H14 without any
		return
	}
	f.gate.SetPhase(string(p))
}
