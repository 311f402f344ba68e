package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The dashboard, tested in a real headless Chromium against a real
// `dynobox start`. Screenshots of each view go to $DYNOBOX_SCREENSHOTS
// (default: a temporary directory the test logs) to be looked at.

const sayWorker = `worker: echo "worker sees GREETING=$GREETING"; printf '\033[32mready\033[0m \033[1;33mwaiting\033[0m for \033[38;5;45mwork\033[0m\n'; ` +
	`while true; do if [ -f say ]; then cat say; rm -f say; fi; sleep 0.05; done`

// say makes the worker print text.
func say(t *testing.T, dir, text string) {
	t.Helper()
	tmp := filepath.Join(dir, "say.tmp")
	if err := os.WriteFile(tmp, []byte(text+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "say")); err != nil {
		t.Fatal(err)
	}
}

func TestDashboardInBrowser(t *testing.T) {
	browserTest(t)
	app := dashboardApp(t, map[string]string{
		"Procfile": "web: " + helperCommand(t) + "\n" + sayWorker + "\n",
		".env":     "GREETING=hello-env\nSESSION_SECRET=s3cr3t-session-value\n",
		"app.json": `{"addons": ["heroku-redis"]}`,
	})
	ctx := newBrowser(t)

	// Load the dashboard and see the dynos of the running app.
	browse(t, ctx, "load the dashboard", chromedp.Navigate(app.dash))
	show(t, ctx, "dynos")
	for _, d := range []string{"web.1", "worker.1"} {
		waitJS(t, ctx, d+" up", rowJS(d)+`?.dataset.state === "up"`, 15*time.Second)
	}

	// + on a type: a new dyno appears and reaches up.
	browse(t, ctx, "click + on worker", chromedp.Click(chromedp.CSS(`#view-dynos [data-scale="worker"][data-op="+"]`)))
	waitJS(t, ctx, "worker.2 up", rowJS("worker.2")+`?.dataset.state === "up"`, 15*time.Second)
	if ps := ps(t, app.verb); ps.Formation["worker"] != 2 {
		t.Errorf("after +, formation %v, want worker=2", ps.Formation)
	}

	// Restart: the dyno's pid changes.
	oldPID := eval[string](t, ctx, rowJS("web.1")+`.dataset.pid`)
	if oldPID == "" {
		t.Fatal("web.1 shows no pid")
	}
	browse(t, ctx, "click restart on web.1", chromedp.Click(chromedp.CSS(`#view-dynos tr[data-dyno="web.1"] [data-action="restart"]`)))
	waitJS(t, ctx, "web.1 up with a new pid",
		`(() => { const r = `+rowJS("web.1")+`; return r && r.dataset.state === "up" && r.dataset.pid !== "" && r.dataset.pid !== "`+oldPID+`"; })()`,
		20*time.Second)
	waitJS(t, ctx, "CPU and memory figures", `[...document.querySelectorAll('#view-dynos .c-mem .mv')].some(e => / MB| KB/.test(e.textContent))`, 10*time.Second)
	screenshot(t, ctx, "dynos")

	// A line printed by a dyno appears in the log view.
	show(t, ctx, "logs")
	waitJS(t, ctx, "the log history", `document.querySelectorAll('#log-lines .ll').length > 3`, 10*time.Second)
	marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	say(t, app.dir, "\x1b[35mhello from the worker\x1b[0m "+marker)
	start := time.Now()
	waitJS(t, ctx, "the marker line", `document.getElementById('log-lines').textContent.includes("`+marker+`")`, 5*time.Second)
	t.Logf("the line appeared in the log view %s after the dyno printed it", time.Since(start).Round(time.Millisecond))
	if got := eval[string](t, ctx, `[...document.querySelectorAll('#log-lines .ll')].find(l => l.textContent.includes("`+marker+`")).querySelector('.lx span').className`); got != "f5" {
		t.Errorf("ANSI magenta rendered with class %q, want f5", got)
	}
	// Secret config var values a dyno prints are masked in the log view.
	redisURL, _, _ := app.verb("config:get", "REDIS_URL")
	ru, err := url.Parse(strings.TrimSpace(redisURL))
	if err != nil || ru.User == nil {
		t.Fatalf("config:get REDIS_URL = %q", redisURL)
	}
	password, _ := ru.User.Password()
	say(t, app.dir, "leaking s3cr3t-session-value and "+ru.String())
	waitJS(t, ctx, "the leaking line", `[...document.querySelectorAll('#log-lines .ll')].some(l => l.textContent.includes("leaking"))`, 5*time.Second)
	leak := eval[string](t, ctx, `[...document.querySelectorAll('#log-lines .ll')].find(l => l.textContent.includes("leaking")).textContent`)
	if strings.Contains(leak, password) || strings.Contains(leak, "s3cr3t-session-value") || !strings.Contains(leak, "••••••••") {
		t.Errorf("a secret printed by a dyno is not masked in the log view: %q", leak)
	}
	waitJS(t, ctx, "lines of several dynos", `new Set([...document.querySelectorAll('#log-lines .ll')].map(l => l.dataset.p)).size > 2`, 10*time.Second)
	screenshot(t, ctx, "logs")

	// The dyno filter hides the other dynos' lines. (Either worker may have
	// printed the marker.)
	sayer := eval[string](t, ctx, `[...document.querySelectorAll('#log-lines .ll')].find(l => l.textContent.includes("`+marker+`")).dataset.p`)
	browse(t, ctx, "filter "+sayer, chromedp.SetValue(chromedp.CSS("#f-dyno"), sayer))
	eval[bool](t, ctx, `document.getElementById('f-dyno').dispatchEvent(new Event('change'))`)
	waitJS(t, ctx, "only "+sayer+"'s lines",
		`(() => { const ls = [...document.querySelectorAll('#log-lines .ll')]; return ls.length > 0 && ls.every(l => l.dataset.p === "`+sayer+`") && ls.some(l => l.textContent.includes("`+marker+`")); })()`,
		5*time.Second)
	browse(t, ctx, "type a text filter", chromedp.SendKeys(chromedp.CSS("#f-text"), marker))
	waitJS(t, ctx, "only the marker line", `(() => { const ls = [...document.querySelectorAll('#log-lines .ll')]; return ls.length === 1 && ls[0].textContent.includes("`+marker+`"); })()`, 5*time.Second)

	// Edit a config var in the page: the dynos restart and see the value.
	show(t, ctx, "config")
	waitJS(t, ctx, "the GREETING row", `document.querySelector('#config-rows tr[data-var="GREETING"]')`, 10*time.Second)
	browse(t, ctx, "edit GREETING",
		chromedp.Click(chromedp.CSS(`[data-edit="GREETING"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-var="GREETING"] input.edit`)),
		chromedp.Clear(chromedp.CSS(`tr[data-var="GREETING"] input.edit`)),
		chromedp.SendKeys(chromedp.CSS(`tr[data-var="GREETING"] input.edit`), "hola-from-the-browser"),
		chromedp.Click(chromedp.CSS(`[data-save="GREETING"]`)))
	waitFor(t, "web to answer with the new GREETING", func() bool {
		return strings.Contains(getBody(t, fmt.Sprintf("http://127.0.0.1:%d/", app.port)), "greeting=hola-from-the-browser")
	})
	app.waitOutput("| worker sees GREETING=hola-from-the-browser")
	waitJS(t, ctx, "the new value in the table", `document.querySelector('#config-rows tr[data-var="GREETING"] .value')?.textContent === "hola-from-the-browser"`, 10*time.Second)
	screenshot(t, ctx, "config")

	// Secrets stay masked until revealed: not in the page, not in what the
	// page fetched.
	show(t, ctx, "addons")
	waitJS(t, ctx, "the redis add-on", `document.querySelector('[data-addon="heroku-redis"] tr[data-var="REDIS_URL"]')`, 10*time.Second)
	for _, secret := range []string{password, "s3cr3t-session-value"} {
		if eval[bool](t, ctx, `document.documentElement.outerHTML.includes("`+secret+`")`) {
			t.Errorf("the page shows the secret %q before it was revealed", secret)
		}
		for _, path := range []string{"/api/v1/info", "/api/v1/config", "/api/v1/addons"} {
			body := eval[string](t, ctx, `fetch("`+path+`").then(r => r.text())`)
			if body == "" || strings.Contains(body, secret) {
				t.Errorf("GET %s from the page: has the secret %q or is empty: %s", path, secret, body)
			}
		}
	}
	screenshot(t, ctx, "addons")
	browse(t, ctx, "reveal REDIS_URL", chromedp.Click(chromedp.CSS(`[data-addon="heroku-redis"] [data-reveal="REDIS_URL"]`)))
	waitJS(t, ctx, "the revealed password", `document.querySelector('[data-addon="heroku-redis"] tr[data-var="REDIS_URL"] .value').textContent.includes("`+password+`")`, 5*time.Second)

	// Releases: roll back to the release before the config change.
	show(t, ctx, "releases")
	rels := eval[[]int](t, ctx, `fetch("/api/v1/releases").then(r => r.json()).then(rs => rs.map(r => r.version))`)
	if len(rels) < 2 {
		t.Fatalf("releases %v: want at least 2", rels)
	}
	prev := strconv.Itoa(rels[1])
	waitJS(t, ctx, "the release rows", `document.querySelector('[data-rollback="`+prev+`"]')`, 10*time.Second)
	browse(t, ctx, "roll back (two clicks)",
		chromedp.Click(chromedp.CSS(`[data-rollback="`+prev+`"]`)),
		chromedp.Click(chromedp.CSS(`[data-rollback="`+prev+`"]`)))
	waitFor(t, "web to answer with GREETING rolled back", func() bool {
		return strings.Contains(getBody(t, fmt.Sprintf("http://127.0.0.1:%d/", app.port)), "greeting=hello-env")
	})
	waitJS(t, ctx, "the rollback release", `document.querySelector('#release-rows')?.textContent.includes("Rollback to v`+prev+`")`, 10*time.Second)

	// Deploy now: a build, a release of it, and the build's output.
	browse(t, ctx, "deploy", chromedp.Click(chromedp.CSS("#deploy")))
	waitJS(t, ctx, "the deploy's release and build", `document.querySelector('#release-rows')?.textContent.includes("Deploy b1") && document.querySelector('#build-rows [data-build="b1"]')?.textContent.includes("succeeded")`, 30*time.Second)
	app.waitOutput("app[build] | -----> Build b1")
	browse(t, ctx, "show the build's output", chromedp.Click(chromedp.CSS(`#build-rows [data-build="b1"] button`)))
	waitJS(t, ctx, "the build's output", `document.getElementById('build-output').textContent.includes("Build b1 succeeded")`, 10*time.Second)
	screenshot(t, ctx, "releases")

	// The overview, once the charts have a few samples.
	show(t, ctx, "overview")
	waitJS(t, ctx, "charts with data", `document.querySelectorAll('#ov-charts .chart.mem path.line').length >= 3`, 20*time.Second)
	waitJS(t, ctx, "every dyno up", `document.querySelectorAll('#ov-charts .chart-card .dot.s-up').length === document.querySelectorAll('#ov-charts .chart-card').length`, 20*time.Second)
	screenshot(t, ctx, "overview")
	app.stop()
}

// A page of another origin can neither change anything nor read the
// token, and a request for a foreign Host (DNS rebinding) is refused.
func TestDashboardRefusesCrossOriginAndForeignHost(t *testing.T) {
	browserTest(t)
	app := dashboardApp(t, map[string]string{"Procfile": "worker: exec sleep 1000\n"})
	dash, verb := app.dash, app.verb
	waitFor(t, "worker.1 up", func() bool { return upCount(ps(t, verb), "worker") == 1 })
	before := ps(t, verb).Dynos[0].PID
	du, _ := url.Parse(dash)

	// Plain HTTP: Host, Origin and token checks.
	req := func(method, path, host, origin, token string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, strings.TrimSuffix(dash, "/")+path, strings.NewReader(`{"type":"worker"}`))
		if host != "" {
			r.Host = host
		}
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		if token != "" {
			r.Header.Set("X-Dynobox-Token", token)
		}
		r.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, page := req("GET", "/", "", "", "")
	if code != 200 {
		t.Fatalf("GET / = %d", code)
	}
	m := regexp.MustCompile(`name="dynobox-token" content="([0-9a-f]+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no token in the page:\n%s", page)
	}
	token := m[1]
	for _, host := range []string{"evil.example", "evil.example:" + du.Port(), "127.0.0.1.nip.io:" + du.Port()} {
		if code, body := req("GET", "/", host, "", ""); code != http.StatusMisdirectedRequest || strings.Contains(body, token) {
			t.Errorf("GET / with Host %s = %d, want 421 without the token", host, code)
		}
		if code, _ := req("POST", "/api/v1/ps/stop", host, "", token); code != http.StatusMisdirectedRequest {
			t.Errorf("POST with Host %s = %d, want 421", host, code)
		}
	}
	for _, c := range []struct{ origin, token, why string }{
		{"http://evil.example", token, "a foreign Origin, even with the token"},
		{"null", token, "Origin null"},
		{"", "", "no token"},
		{"", "0123abcd", "a wrong token"},
		{dash[:len(dash)-1], "", "the right Origin but no token"},
	} {
		if code, body := req("POST", "/api/v1/ps/stop", "", c.origin, c.token); code != http.StatusForbidden {
			t.Errorf("POST with %s = %d %s, want 403", c.why, code, body)
		}
	}
	for _, loopback := range []string{"localhost:" + du.Port(), "[::1]:" + du.Port()} {
		if code, _ := req("GET", "/api/v1/ps", loopback, "", ""); code != 200 {
			t.Errorf("GET with Host %s = %d, want 200", loopback, code)
		}
	}
	if got := ps(t, verb).Dynos[0]; got.PID != before || got.State != "up" {
		t.Fatalf("a refused request changed worker.1: %+v", got)
	}

	// In the browser: a page of another origin tries a no-cors POST, a
	// form POST, a fetch with a guessed token, and to read the page.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>evil</title>
<iframe name="sink" style="display:none"></iframe>
<form id="f" method="POST" action="%[1]sapi/v1/ps/stop" enctype="text/plain" target="sink"><input name='{"type":"worker","x":"' value='"}'></form>
<script>
window.results = {};
const dash = %[1]q;
(async () => {
  const r = window.results;
  try { const res = await fetch(dash + "api/v1/ps/stop", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: '{"type":"worker"}'}); r.nocors = res.type; } catch (e) { r.nocors = "error: " + e; }
  try { await fetch(dash + "api/v1/ps/stop", {method: "POST", headers: {"X-Dynobox-Token": "guess", "Content-Type": "application/json"}, body: '{"type":"worker"}'}); r.preflight = "sent"; } catch (e) { r.preflight = "blocked"; }
  try { const t = await (await fetch(dash)).text(); r.read = t.length ? "read the page" : "empty"; } catch (e) { r.read = "blocked"; }
  try { const t = await (await fetch(dash + "api/v1/info")).text(); r.readAPI = "read the API"; } catch (e) { r.readAPI = "blocked"; }
  // Done only once the form POST was answered (the sink frame loads its
  // answer), so the check of worker.1 below sees its effect, if it had any.
  const answered = new Promise(res => document.querySelector("iframe[name=sink]").addEventListener("load", res, {once: true}));
  document.getElementById("f").submit();
  await answered;
  r.done = true;
})();
</script>`, dash)
	}))
	defer evil.Close()
	ctx := newBrowser(t, chromedp.Flag("host-resolver-rules", "MAP rebind.test 127.0.0.1"))
	browse(t, ctx, "open the other origin's page", chromedp.Navigate(evil.URL))
	waitJS(t, ctx, "the other origin's attempts", `window.results && window.results.done`, 10*time.Second)
	results := eval[map[string]any](t, ctx, `window.results`)
	t.Logf("cross-origin attempts: %v", results)
	if results["preflight"] != "blocked" || results["read"] != "blocked" || results["readAPI"] != "blocked" {
		t.Errorf("a page of another origin got through: %v", results)
	}
	// DNS rebinding: a name of the attacker's that resolves to 127.0.0.1.
	browse(t, ctx, "open the dashboard under a rebound name", chromedp.Navigate("http://rebind.test:"+du.Port()+"/"))
	body := eval[string](t, ctx, `document.body.innerText`)
	if !strings.Contains(body, "refusing a request for host") || strings.Contains(eval[string](t, ctx, `document.documentElement.outerHTML`), token) {
		t.Errorf("the dashboard under a rebound name answered:\n%s", body)
	}
	if got := ps(t, verb).Dynos[0]; got.PID != before || got.State != "up" {
		t.Errorf("a cross-origin request changed worker.1: %+v", got)
	}
}

// With a dyno printing 10,000 lines a second the log view stays
// responsive, keeps a bounded number of lines, and pauses at once.
func TestDashboardLogFloodStaysResponsive(t *testing.T) {
	browserTest(t)
	// The flood runs only while the file "flood" exists: only while measured.
	app := dashboardApp(t, map[string]string{
		"Procfile": "flood: while true; do if [ -f flood ]; then seq -f 'flood line %g: a dyno printing ten thousand lines a second' 1 1000; fi; sleep 0.1; done\n" +
			"quiet: echo quiet dyno; exec sleep 1000\n",
	})
	ctx := newBrowser(t)
	browse(t, ctx, "load the dashboard", chromedp.Navigate(app.dash+"#logs"))
	waitJS(t, ctx, "the quiet dyno's line", `document.getElementById('log-lines').textContent.includes("quiet dyno")`, 15*time.Second)
	flood := filepath.Join(app.dir, "flood")
	if err := os.WriteFile(flood, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(flood)
	waitJS(t, ctx, "flood lines", `document.getElementById('log-lines').textContent.includes("flood line")`, 15*time.Second)
	// Measure how late timers fire and how many frames are drawn for 3s.
	eval[bool](t, ctx, `(() => {
		window.probe = {Lag: 0, Frames: 0, MaxLines: 0, Lags: []};
		let last = performance.now();
		const iv = setInterval(() => { const now = performance.now(); window.probe.Lags.push(Math.round(now - last - 50)); window.probe.Lag = Math.max(window.probe.Lag, now - last - 50); last = now;
			window.probe.MaxLines = Math.max(window.probe.MaxLines, document.querySelectorAll('#log-lines .ll').length); }, 50);
		const frame = () => { window.probe.Frames++; if (!window.probe.done) requestAnimationFrame(frame); };
		requestAnimationFrame(frame);
		setTimeout(() => { window.probe.done = true; clearInterval(iv); }, 3000);
		return true;
	})()`)
	waitJS(t, ctx, "the probe", `window.probe.done`, 10*time.Second)
	probe := eval[struct {
		Lag, Frames, MaxLines float64
		Lags                  []float64
	}](t, ctx, `window.probe`)
	rate := eval[string](t, ctx, `document.getElementById('log-stat').textContent`)
	t.Logf("under the flood: %s; longest timer delay %.0f ms, %v frames in 3 s, at most %v lines in the page; timer delays %v", rate, probe.Lag, probe.Frames, probe.MaxLines, probe.Lags)
	// The figures (timer delays, frames, lines/s) are measurements, logged
	// above for the notes; what is asserted is the behaviour: the page
	// keeps running its timers and drawing frames under the flood, and
	// keeps a bounded number of lines. A view that drew every line hangs.
	if len(probe.Lags) == 0 || probe.Frames == 0 {
		t.Errorf("the page stopped under the flood: %v timer ticks, %v frames in 3 s", len(probe.Lags), probe.Frames)
	}
	if probe.MaxLines > 1600 {
		t.Errorf("%v lines in the page, want at most 1600", probe.MaxLines)
	}
	m := regexp.MustCompile(`([\d,]+) lines/s`).FindStringSubmatch(rate)
	if m == nil {
		t.Fatalf("no rate in %q", rate)
	}
	if n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", "")); n == 0 {
		t.Errorf("the page shows no lines arriving under the flood: %q", rate)
	}
	screenshot(t, ctx, "logs-flood")

	// Pause: the view stops; resume: it follows again.
	browse(t, ctx, "pause", chromedp.Click(chromedp.CSS("#log-pause")))
	waitJS(t, ctx, "the pause", `document.getElementById('log-pause').textContent.startsWith("Resume")`, 5*time.Second)
	lastLine := `(() => { const ls = document.querySelectorAll('#log-lines .ll'); return ls.length ? ls[ls.length - 1].textContent : ""; })()`
	before := eval[string](t, ctx, lastLine)
	// Lines counted while paused prove the flood went on meanwhile.
	waitJS(t, ctx, "new lines counted while paused", `/Resume \([\d,]+ new\)/.test(document.getElementById('log-pause').textContent)`, 5*time.Second)
	if after := eval[string](t, ctx, lastLine); after != before {
		t.Errorf("the view changed while paused: %q → %q", before, after)
	}
	browse(t, ctx, "resume", chromedp.Click(chromedp.CSS("#log-pause")))
	waitJS(t, ctx, "the view following again", lastLine+` !== `+strconv.Quote(before), 5*time.Second)
}

// A failed build shows where people look: the overview (not only Releases
// → Builds), ps and info — the dynos run an older release than the code.
func TestDashboardOverviewShowsAFailedBuild(t *testing.T) {
	browserTest(t)
	app := dashboardApp(t, map[string]string{
		"Procfile": "worker: exec sleep 1000\n",
		"build.sh": "if [ -e broken ]; then echo 'main.go:7: syntax error: unexpected }'; exit 2; fi; echo built\n",
	}, "--build", "sh build.sh")
	waitFor(t, "worker.1 up", func() bool { return upCount(ps(t, app.verb), "worker") == 1 })
	ctx := newBrowser(t)
	browse(t, ctx, "load the dashboard", chromedp.Navigate(app.dash))
	show(t, ctx, "overview")
	waitJS(t, ctx, "the overview's tiles", `document.querySelector("#ov-tiles .tile") !== null`, 10*time.Second)
	if !eval[bool](t, ctx, `document.getElementById("ov-build").hidden`) {
		t.Fatal("a build banner shows before any build failed")
	}

	if err := os.WriteFile(filepath.Join(app.dir, "broken"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := app.verb("deploy"); code != 1 || !strings.Contains(stderr, "build failed") {
		t.Fatalf("deploy of a broken build: exit %d %s", code, stderr)
	}
	waitJS(t, ctx, "the failed build on the overview",
		`(() => { const b = document.getElementById("ov-build"); return !b.hidden && b.textContent.includes("Build b2 failed") && b.textContent.includes("keep running v2"); })()`, 10*time.Second)
	if !eval[bool](t, ctx, `document.querySelector("#ov-tiles .tile").classList.contains("bad")`) {
		t.Error("the Release tile is not marked bad after a failed build")
	}
	screenshot(t, ctx, "overview-failed-build")
	// Clicked in the page: the banner is redrawn as the overview refreshes,
	// so a node found a moment before may be gone by the click.
	waitJS(t, ctx, "a click on the banner's output link",
		`(() => { const a = document.querySelector('#ov-build a[data-build="b2"]'); if (!a) return false; a.click(); return true; })()`, 10*time.Second)
	waitJS(t, ctx, "the failed build's output", `(() => { const o = document.getElementById("build-output"); return !o.hidden && o.textContent.includes("syntax error: unexpected }"); })()`, 10*time.Second)

	// ps and info say it too.
	if out, _, _ := app.verb("ps"); !strings.Contains(out, "=== Build b2 failed") || !strings.Contains(out, "dynobox builds b2") {
		t.Errorf("ps does not show the failed build:\n%s", out)
	}
	if out, _, _ := app.verb("info"); !regexp.MustCompile(`Build +b2 failed`).MatchString(out) {
		t.Errorf("info does not show the failed build:\n%s", out)
	}

	// Fixed and deployed: the banner goes.
	os.Remove(filepath.Join(app.dir, "broken"))
	if _, stderr, code := app.verb("deploy"); code != 0 {
		t.Fatalf("deploy of the fixed build: %s", stderr)
	}
	show(t, ctx, "overview")
	waitJS(t, ctx, "the banner gone", `document.getElementById("ov-build").hidden`, 10*time.Second)
	app.stop()
}
