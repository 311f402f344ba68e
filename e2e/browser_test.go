package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The dashboard tests' browser (Debian's Chromium through chromedp) and the
// running app they look at.

// chromiumPath finds Debian's chromium. Without one the browser tests skip
// on a developer's machine and fail in CI, where it must be installed.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed, and CI must run the dashboard's browser tests: apt-get install -y chromium")
	}
	t.Skip("chromium is not installed (apt-get install -y chromium): skipping the dashboard's browser tests")
	return ""
}

// browserMu lets one browser test (its app and its browser) run at a
// time: the machine may have two cores, and the tests of others run
// meanwhile.
var browserMu sync.Mutex

// browserTest runs a browser test in parallel with the other tests, after
// the browser tests before it.
func browserTest(t *testing.T) {
	t.Helper()
	t.Parallel()
	chromiumPath(t)
	browserMu.Lock()
	t.Cleanup(browserMu.Unlock)
}

// newBrowser starts a headless Chromium for one test and returns its tab.
func newBrowser(t *testing.T, extraFlags ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	exe := chromiumPath(t)
	profile, err := os.MkdirTemp("", "dynobox-chromium")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox, // as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(1440, 900),
	)
	opts = append(opts, extraFlags...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		os.RemoveAll(profile)
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1440, 900)); err != nil { // starts the browser
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	// An exception the page's script did not catch fails the test.
	var mu sync.Mutex
	var exceptions []string
	chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*runtime.EventExceptionThrown); ok && e.ExceptionDetails != nil {
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			mu.Lock()
			exceptions = append(exceptions, fmt.Sprintf("%s (%s:%d)", msg, e.ExceptionDetails.URL, e.ExceptionDetails.LineNumber+1))
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range exceptions {
			t.Errorf("uncaught exception in the page: %s", e)
		}
	})
	return ctx
}

// browse runs steps in the tab within a deadline, failing the test with
// what was being done.
func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page; a promise is
// awaited.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until a JavaScript expression is truthy in the page.
func waitJS(t *testing.T, ctx context.Context, what, expr string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, within+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(within)))
	if err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// screenshotDir is where screenshots go: $DYNOBOX_SCREENSHOTS, or a
// temporary directory that outlives the test (its path is logged).
var screenshotDir = sync.OnceValue(func() string {
	if d := os.Getenv("DYNOBOX_SCREENSHOTS"); d != "" {
		os.MkdirAll(d, 0o755)
		return d
	}
	d, err := os.MkdirTemp("", "dynobox-screenshots")
	if err != nil {
		return os.TempDir()
	}
	return d
})

// screenshot saves the tab's viewport as NAME.png.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(screenshotDir(), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
}

// show switches the page to a view and waits until it is displayed.
func show(t *testing.T, ctx context.Context, view string) {
	t.Helper()
	browse(t, ctx, "open the "+view+" view", chromedp.Click(chromedp.CSS(`#tabs a[data-view="`+view+`"]`)))
	waitJS(t, ctx, "the "+view+" view", `!document.getElementById("view-`+view+`").hidden`, 5*time.Second)
}

// dashApp is a running `dynobox start` with its dashboard. Its output
// goes to a file, not through the test process: the flood test's dyno
// prints 10,000 lines a second, and copying them would only load the
// machine that the other tests share.
type dashApp struct {
	t    *testing.T
	cmd  *exec.Cmd
	dir  string
	out  string        // dynobox's output
	dash string        // the dashboard's URL
	port int           // the app's public port (the router)
	done chan struct{} // closed when dynobox has exited
}

// dashboardApp starts dynobox on an app made of files, with the dashboard
// on a free port; extra are more flags for start.
func dashboardApp(t *testing.T, files map[string]string, extra ...string) *dashApp {
	t.Helper()
	// The app's directory names it on the page: give it a real name.
	a := &dashApp{t: t, dir: filepath.Join(t.TempDir(), "acme-shop")}
	if err := os.MkdirAll(a.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(a.dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a.out = filepath.Join(t.TempDir(), "dynobox.out")
	out, err := os.Create(a.out)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	a.cmd = exec.Command(dynoboxBin, append([]string{"start", "-p", strconv.Itoa(freePort(t)), "--dashboard", "127.0.0.1:0", "--no-watch"}, extra...)...)
	a.cmd.Dir = a.dir
	a.cmd.Stdout, a.cmd.Stderr = out, out
	a.cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a.done = make(chan struct{})
	go func() { a.cmd.Wait(); close(a.done) }()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.done
	})
	var info struct {
		Dashboard string `json:"dashboard_url"`
		Router    string `json:"router_url"`
		State     string `json:"state"` // "stopped": answered from the saved state, before the start
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		js, _, code := a.verb("info", "--json")
		if code == 0 && json.Unmarshal([]byte(js), &info) == nil && info.State == "running" {
			break
		}
		select {
		case <-a.done:
			t.Fatalf("dynobox exited; its output:\n%s", a.output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dynobox's API did not answer within 30s; its output:\n%s", a.output())
		}
	}
	if info.Dashboard == "" {
		t.Fatalf("info --json has no dashboard_url; dynobox's output:\n%s", a.output())
	}
	a.dash = info.Dashboard
	u, _ := url.Parse(info.Router)
	a.port, _ = strconv.Atoi(u.Port())
	return a
}

func (a *dashApp) verb(args ...string) (string, string, int) { return runDynobox(a.t, a.dir, args...) }

func (a *dashApp) output() string {
	b, _ := os.ReadFile(a.out)
	return collapseSpaces(string(b))
}

func (a *dashApp) waitOutput(text string) {
	a.t.Helper()
	waitFor(a.t, fmt.Sprintf("%q in dynobox's output", text), func() bool { return strings.Contains(a.output(), collapseSpaces(text)) })
}

// stop stops dynobox as Ctrl-C does: it must exit cleanly.
func (a *dashApp) stop() {
	a.t.Helper()
	a.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		a.t.Fatalf("dynobox did not stop within 30s")
	}
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		a.t.Fatalf("dynobox exit %d after SIGINT:\n%s", code, a.output())
	}
}

func getBody(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// rowJS finds the row of a dyno in the dynos view; a web dyno restarting
// with preboot briefly has two rows, so it asks for exactly one.
func rowJS(name string) string {
	return `(() => { const r = document.querySelectorAll('#view-dynos tr.dyno-row[data-dyno="` + name + `"]'); return r.length === 1 ? r[0] : null; })()`
}
