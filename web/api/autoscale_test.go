package api

import (
	"errors"
	"testing"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/autoscale"
	"github.com/dynobox/dynobox/runner/metrics"
	"github.com/dynobox/dynobox/web/api/apitest"
)

// autoscaleApp is the fake app with autoscaling and router metrics.
type autoscaleApp struct {
	apitest.App
	got      autoscale.Settings
	disabled string
}

func (a *autoscaleApp) EnableAutoscale(typ string, s autoscale.Settings) (runner.AutoscaleInfo, error) {
	if typ != "web" {
		return runner.AutoscaleInfo{}, &runner.InputError{Err: errors.New("only web dynos autoscale")}
	}
	a.got = s
	return runner.AutoscaleInfo{Type: typ, Min: s.Min, Max: s.Max, P95: s.P95.Milliseconds()}, nil
}

func (a *autoscaleApp) DisableAutoscale(typ string) error { a.disabled = typ; return nil }

func (a *autoscaleApp) RouterMetrics() (runner.RouterMetrics, error) {
	return runner.RouterMetrics{Minute: metrics.Window{Requests: 42, P95: 812}}, nil
}

// The autoscaling and metrics routes reach an app that has them; a bad
// type comes back as an input error (exit 2 in the CLI).
func TestAutoscaleAndMetricsRoutes(t *testing.T) {
	t.Parallel()
	app := &autoscaleApp{}
	c := serve(t, app)
	var info runner.AutoscaleInfo
	if err := c.Post("/v1/ps/autoscale", AutoscaleChange{Type: "web", Min: 1, Max: 3, P95: 500, Notifications: true}, &info); err != nil {
		t.Fatal(err)
	}
	if want := (autoscale.Settings{Min: 1, Max: 3, P95: 500 * time.Millisecond, Notifications: true}); app.got != want || info.Max != 3 || info.P95 != 500 {
		t.Fatalf("enable: app got %+v, replied %+v", app.got, info)
	}
	var ie *runner.InputError
	if err := c.Post("/v1/ps/autoscale", AutoscaleChange{Type: "worker", Min: 1, Max: 3, P95: 500}, &info); !errors.As(err, &ie) {
		t.Fatalf("worker: %v, want an input error", err)
	}
	if err := c.Delete("/v1/ps/autoscale/web", nil); err != nil || app.disabled != "web" {
		t.Fatalf("disable: %v %q", err, app.disabled)
	}
	var m runner.RouterMetrics
	if err := c.Call("GET", "/v1/metrics", nil, &m); err != nil || m.Minute.Requests != 42 || m.Minute.P95 != 812 {
		t.Fatalf("metrics: %+v %v", m, err)
	}
}
