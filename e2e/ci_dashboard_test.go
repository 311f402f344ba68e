package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A test run recorded by "dynobox ci" appears in the Tests panel of the
// dashboard of the same app's "dynobox start", newest first.
func TestCIRunAppearsInTheDashboardTestsPanel(t *testing.T) {
	browserTest(t)
	app := dashboardApp(t, map[string]string{
		"Procfile": "worker: exec sleep 1000\n",
		"app.json": `{"environments": {"test": {"scripts": {"test": "echo testing; test ! -e broken"}}}}`,
	})
	ctx := newBrowser(t)
	browse(t, ctx, "load the dashboard", chromedp.Navigate(app.dash))
	show(t, ctx, "overview")
	waitJS(t, ctx, "the empty Tests panel", `(() => { const c = document.getElementById("ov-tests"); return c && c.textContent.includes("No test runs yet"); })()`, 10*time.Second)

	if stdout, stderr, code := runCI(t, app.dir); code != 0 {
		t.Fatalf("ci: exit %d\n%s\n%s", code, stdout, stderr)
	}
	waitJS(t, ctx, "run #1 succeeded in the panel",
		`(() => { const r = document.querySelector('#test-rows tr[data-run="1"]'); return r && r.textContent.includes("succeeded"); })()`, 15*time.Second)

	if err := os.WriteFile(filepath.Join(app.dir, "broken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, code := runCI(t, app.dir); code != 1 {
		t.Fatalf("ci of a failing test: exit %d\n%s\n%s", code, stdout, stderr)
	}
	waitJS(t, ctx, "run #2 failed, first in the panel",
		`(() => { const r = document.querySelector('#test-rows tr'); return r && r.dataset.run === "2" && r.textContent.includes("failed"); })()`, 15*time.Second)
	if !eval[bool](t, ctx, `document.getElementById("ov-tests").querySelector("p").hidden`) {
		t.Error(`"No test runs yet" still shows`)
	}
	eval[bool](t, ctx, `(document.getElementById("ov-tests").scrollIntoView(), true)`)
	screenshot(t, ctx, "overview-tests")
	app.stop()
}
