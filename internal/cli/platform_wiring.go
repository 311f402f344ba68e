package cli

import (
	"context"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/web/platform"
)

// platformName is the app's name in the Platform API (heroku -a NAME):
// app.json's name, else the directory's.
func platformName(app *runner.App) string {
	if app.AppJSON != nil && app.AppJSON.Name != "" {
		return app.AppJSON.Name
	}
	return filepath.Base(app.Dir)
}

// servePlatform serves Heroku's Platform API for ctl's app on loopback,
// guarded by the key kept in the state directory, and records its URL
// there for `dynobox info`; stop undoes both.
func servePlatform(ctl *runner.Controller) (stop func(), err error) {
	key, err := platform.Key(ctl.StateDir)
	if err != nil {
		return nil, err
	}
	l, err := platform.Listen(ctl.App.Port)
	if err != nil {
		return nil, err
	}
	name := platformName(ctl.App)
	unpublish, err := platform.Publish(ctl.StateDir, platform.Address{URL: "http://" + l.Addr().String(), App: name})
	if err != nil {
		l.Close()
		return nil, err
	}
	api := platform.New(ctl, platform.Config{Name: name, Key: key})
	// Log tails watch ctx: cancelling it ends them, so Shutdown need not wait.
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 10 * time.Second,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	go srv.Serve(l)
	return func() {
		unpublish()
		cancel()
		ctx, cancelShutdown := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancelShutdown()
		srv.Shutdown(ctx)
	}, nil
}

// platformExports are the lines `dynobox info` prints to paste into a
// shell, so the real heroku CLI drives this app.
func platformExports(url, key string) []string {
	return []string{"export HEROKU_HOST=" + url, "export HEROKU_API_KEY=" + key}
}

// platformAPI is where the running app's Platform API answers, or nil
// when it is stopped.
func platformAPI(info runner.Info, f clientFlags) *platform.Address {
	if info.State == "stopped" {
		return nil
	}
	_, sd := f.paths()
	a, ok := platform.Published(sd)
	if !ok {
		return nil
	}
	return &a
}
