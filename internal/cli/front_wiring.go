package cli

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/dynobox/dynobox/internal/httpserve"
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
func (f *front) Hold(ctl *runner.Controller, public net.Listener, phase runner.Phase) runner.Service {
	f.gate = building.New(public, building.Config{App: ctl.Name(),
		Watch: watchHints("", ctl.App.Dir),
		Log:   func(line string) { ctl.Bus.Event(logbus.SourceHeroku, "router", line) }})
	f.gate.SetPhase(string(phase))
	return f.gate
}

// Serve returns the router behind the gate, the API and the dashboard,
// which run together until their context ends.
func (f *front) Serve(ctl *runner.Controller, dashboard net.Listener) (runner.Service, error) {
	apiListener, err := api.Listen(ctl.Socket)
	if err != nil {
		return nil, err
	}
	rt := router.New(router.Config{
		Pool:            webPool{ctl.Sup},
		Log:             func(line string) { ctl.Bus.Event(logbus.SourceHeroku, "router", line) },
		Observe:         ctl.Metrics.Observe,
		PublicPort:      ctl.App.Port,
		ResponseTimeout: f.requestTimeout,
	})
	platformAPI, err := platformService(ctl)
	if err != nil {
		apiListener.Close()
		return nil, err
	}
	web := services{
		routerService{rt, f.gate.Listener()},
		&httpserve.Server{Handler: api.Handler(ctl), Listener: apiListener, Grace: 2 * time.Second},
		platformAPI,
	}
	if dashboard != nil {
		web = append(web, dashboardService(ctl, dashboard))
	}
	f.gate.SetWatch(watchHints(ctl.DashboardURL, ctl.App.Dir))
	f.gate.SetPhase(string(runner.PhaseStarting))
	return web, nil
}

// routerService runs the router in the one lifecycle shape (web/router
// keeps net/http's Serve and Shutdown): requests in flight get five
// seconds once the run ends.
type routerService struct {
	rt *router.Router
	l  net.Listener
}

func (r routerService) Run(ctx context.Context) error {
	return httpserve.Run(ctx, 5*time.Second, func() error { return r.rt.Serve(r.l) }, r.rt.Shutdown)
}

// services run together until their context ends; Run returns once all
// have, with what each failed with.
type services []runner.Service

func (ss services) Run(ctx context.Context) error {
	errs := make([]error, len(ss))
	var wg sync.WaitGroup
	for i, s := range ss {
		wg.Go(func() { errs[i] = s.Run(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
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
