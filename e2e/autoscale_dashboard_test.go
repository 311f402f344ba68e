package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDashboardRouterCharts: the overview draws the router's charts
// (requests/min by class, p95 with the autoscaling target, H-codes) next
// to the dyno load charts, and shows the autoscaling state. The
// screenshot (router.png) is to be looked at.
func TestDashboardRouterCharts(t *testing.T) {
	browserTest(t)
	app := dashboardApp(t, map[string]string{"Procfile": "web: " + helperCommand(t) + "\n"})
	if out, stderr, code := app.verb("ps:autoscale:enable", "web", "--min", "1", "--max", "2", "--p95", "300"); code != 0 {
		t.Fatalf("ps:autoscale:enable: exit %d %s %s", code, out, stderr)
	}
	stop := load(t, fmt.Sprintf("http://127.0.0.1:%d/slow", app.port), 2)
	waitFor(t, "requests in the router metrics", func() bool { return readMetrics(t, app.verb).Minute.Requests >= 5 })
	stop()

	ctx := newBrowser(t)
	browse(t, ctx, "load the dashboard", chromedp.Navigate(app.dash))
	show(t, ctx, "overview")
	waitJS(t, ctx, "the p95 chart drawn", `document.querySelector("#ov-router svg.chart.p95 path.line") !== null`, 15*time.Second)
	waitJS(t, ctx, "the autoscaling target on it", `document.querySelector("#ov-router svg.chart.p95 line.target") !== null`, 5*time.Second)
	waitJS(t, ctx, "the requests chart drawn", `document.querySelector("#ov-router svg.chart.rpm path.line.c2xx") !== null`, 5*time.Second)
	state := eval[string](t, ctx, `document.getElementById("ov-autoscale").textContent`)
	if !strings.Contains(state, "Autoscaling web: 1..2 dynos on a p95 of 300 ms") {
		t.Errorf("autoscaling state on the page: %q", state)
	}
	browse(t, ctx, "scroll to the router charts", chromedp.ScrollIntoView(chromedp.CSS("#ov-router")))
	screenshot(t, ctx, "router")
}
