package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/dynobox/dynobox/runner/autoscale"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/runner/metrics"
	"github.com/dynobox/dynobox/runner/state"
)

// Autoscaling of web dynos (ps:autoscale:enable): a loop that every
// interval reads the router metrics since the last formation change (at
// most one window back), asks autoscale.Decide, and applies what it says
// as a ps:scale would, with a log line saying why.

// AutoscaleType is the one process type autoscaling applies to: the
// router's numbers measure web dynos only.
const AutoscaleType = "web"

// Defaults of DYNOBOX_AUTOSCALE_INTERVAL and DYNOBOX_AUTOSCALE_WINDOW:
// short enough for a live demo.
const (
	AutoscaleInterval = 10 * time.Second
	AutoscaleWindow   = time.Minute
)

// AutoscaleInfo is a type's autoscaling as ps, info --json and the
// dashboard show it.
type AutoscaleInfo struct {
	Type          string `json:"type"`
	Min           int    `json:"min"`
	Max           int    `json:"max"`
	P95           int64  `json:"p95_ms"`
	Notifications bool   `json:"notifications"`
	// Last is the last decision's reason ("p95 812ms > 500ms"), LastAt its time.
	Last   string    `json:"last_decision,omitempty"`
	LastAt time.Time `json:"last_decision_at,omitzero"`
}

// autoscaleState is the loop's memory, in the Controller.
type autoscaleState struct {
	mu         sync.Mutex
	lastChange time.Time // of the web formation; zero: since the loop started
	last       string
	lastAt     time.Time
}

func (a *autoscaleState) changed() {
	a.mu.Lock()
	a.lastChange = time.Now()
	a.mu.Unlock()
}

// EnableAutoscale turns on (or changes) autoscaling for typ, remembered
// across restarts.
func (c *Controller) EnableAutoscale(typ string, s autoscale.Settings) (AutoscaleInfo, error) {
	if typ != AutoscaleType {
		return AutoscaleInfo{}, &InputError{fmt.Errorf("only web dynos autoscale (the router measures them), not %q", typ)}
	}
	if err := s.Check(); err != nil {
		return AutoscaleInfo{}, &InputError{err}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.Sup.Formation()[typ]; !ok {
		return AutoscaleInfo{}, &InputError{fmt.Errorf("the Procfile has no web process type to autoscale")}
	}
	a := state.Autoscale{Type: typ, Min: s.Min, Max: s.Max, P95: s.P95, Notifications: s.Notifications}
	if err := c.Store.SetAutoscale(a); err != nil {
		return AutoscaleInfo{}, fmt.Errorf("remember autoscaling: %w", err)
	}
	c.autoscale.changed()
	c.apiEvent(fmt.Sprintf("Autoscaling enabled for %s: %d..%d dynos, p95 target %dms", typ, s.Min, s.Max, s.P95.Milliseconds()))
	return c.autoscaleInfo(a), nil
}

// DisableAutoscale returns typ to scaling by hand; its dynos stay as many
// as they are.
func (c *Controller) DisableAutoscale(typ string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ok, err := c.Store.DeleteAutoscale(typ)
	if err != nil {
		return fmt.Errorf("forget autoscaling: %w", err)
	}
	if !ok {
		return &InputError{fmt.Errorf("%s dynos do not autoscale; nothing to disable", typ)}
	}
	c.apiEvent("Autoscaling disabled for " + typ)
	return nil
}

// Autoscale is the web dynos' autoscaling, nil when they are scaled by hand.
func (c *Controller) Autoscale() *AutoscaleInfo {
	a, ok, err := c.Store.Autoscale(AutoscaleType)
	if err != nil || !ok {
		return nil
	}
	info := c.autoscaleInfo(a)
	return &info
}

func (c *Controller) autoscaleInfo(a state.Autoscale) AutoscaleInfo {
	c.autoscale.mu.Lock()
	defer c.autoscale.mu.Unlock()
	return AutoscaleInfo{Type: a.Type, Min: a.Min, Max: a.Max, P95: a.P95.Milliseconds(), Notifications: a.Notifications,
		Last: c.autoscale.last, LastAt: c.autoscale.lastAt}
}

// checkAutoscaleBounds refuses a ps:scale that takes an autoscaled type
// outside its range (c.mu held).
func (c *Controller) checkAutoscaleBounds(next map[string]int) error {
	n, ok := next[AutoscaleType]
	if !ok {
		return nil
	}
	a, on, err := c.Store.Autoscale(AutoscaleType)
	if err != nil || !on {
		return err
	}
	if n < a.Min || n > a.Max {
		return &InputError{fmt.Errorf("web=%d is outside the autoscaling range %d..%d; change the range with \"dynobox ps:autoscale:enable web --min N --max M --p95 MS\" or scale by hand after \"dynobox ps:autoscale:disable web\"", n, a.Min, a.Max)}
	}
	return nil
}

// RunAutoscaler decides every interval until ctx ends.
func (c *Controller) RunAutoscaler(ctx context.Context) error {
	interval := c.envDuration("DYNOBOX_AUTOSCALE_INTERVAL", AutoscaleInterval)
	window := c.envDuration("DYNOBOX_AUTOSCALE_WINDOW", AutoscaleWindow)
	c.autoscale.changed()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := c.autoscaleOnce(window); err != nil {
			c.Bus.Event(logbus.SourceHeroku, "api", "Autoscaling: "+err.Error())
		}
	}
}

// envDuration reads a duration ("10s", or seconds) from the environment.
func (c *Controller) envDuration(key string, def time.Duration) time.Duration {
	v := os.Getenv(key)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		var secs float64
		if _, err2 := fmt.Sscanf(v, "%g", &secs); err2 == nil {
			d, err = time.Duration(secs*float64(time.Second)), nil
		}
	}
	if err != nil || d <= 0 {
		c.Bus.Event(logbus.SourceHeroku, "api", fmt.Sprintf("%s=%q is not a duration like 10s; using %s", key, v, def))
		return def
	}
	return d
}

// autoscaleOnce makes one decision and applies it.
func (c *Controller) autoscaleOnce(window time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, on, err := c.Store.Autoscale(AutoscaleType)
	if err != nil || !on {
		return err
	}
	now := time.Now()
	c.autoscale.mu.Lock()
	since := now.Add(-window)
	if c.autoscale.lastChange.After(since) {
		since = c.autoscale.lastChange
	}
	c.autoscale.mu.Unlock()
	m := c.Metrics.Since(since)
	n := c.Sup.Formation()[AutoscaleType]
	d := autoscale.Decide(n, autoscale.Settings{Min: a.Min, Max: a.Max, P95: a.P95},
		autoscale.Window{Span: now.Sub(since), Full: window, Requests: m.Requests, P95: m.P95.D(), Mean: m.Mean.D()})
	c.autoscale.mu.Lock()
	c.autoscale.last, c.autoscale.lastAt = d.Reason, now
	c.autoscale.mu.Unlock()
	if d.Delta == 0 {
		return nil
	}
	next := map[string]int{AutoscaleType: n + d.Delta}
	if err := c.Sup.Scale(AutoscaleType, n+d.Delta); err != nil {
		return err
	}
	c.autoscale.changed()
	if err := c.Store.SetFormation(next); err != nil {
		return fmt.Errorf("scaled, but could not remember the formation: %w", err)
	}
	c.Bus.Event(logbus.SourceHeroku, "api", fmt.Sprintf("Scaled to %s@%d by autoscaling: %s", AutoscaleType, n+d.Delta, d.Reason))
	return nil
}

// RouterMetrics is GET /v1/metrics: the last minute and the last ten
// minutes in points of step, with the web dynos' autoscaling.
type RouterMetrics struct {
	Minute    metrics.Window   `json:"last_minute"`
	Series    []metrics.Window `json:"series"`
	Autoscale *AutoscaleInfo   `json:"autoscale,omitempty"`
}

// Metrics series shape: ten minutes in 20-second points.
const (
	MetricsSpan = 10 * time.Minute
	MetricsStep = 20 * time.Second
)

// RouterMetrics reads the router's numbers.
func (c *Controller) RouterMetrics() (RouterMetrics, error) {
	if c.Metrics == nil {
		return RouterMetrics{}, errors.New("this dynobox keeps no router metrics")
	}
	return RouterMetrics{Minute: c.Metrics.Last(time.Minute), Series: c.Metrics.Series(MetricsSpan, MetricsStep), Autoscale: c.Autoscale()}, nil
}
