package platform

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
)

func TestRequestsWithoutTheKeyGetHerokusUnauthorized(t *testing.T) {
	_, srv := newTestServer(t)
	for _, auth := range []string{"", "Bearer wrong", "Basic " + "eDp3cm9uZw=="} {
		req, _ := http.NewRequest("GET", srv.URL+"/apps/demo", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, resp.StatusCode)
		}
	}
	var e herokuError
	if code := call(t, srv, "GET", "/apps/demo", "", &e, "Authorization", "Bearer nope"); code != 401 || e.ID != "unauthorized" || e.Message == "" {
		t.Fatalf("wrong key: %d %+v, want 401 unauthorized", code, e)
	}
	// ~/.netrc gives the key as a Basic password.
	req, _ := http.NewRequest("GET", srv.URL+"/apps/demo", nil)
	req.SetBasicAuth("", testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("Basic with the key: %d, want 200", resp.StatusCode)
	}
}

// A DNS-rebinding page reaches 127.0.0.1 under its own name: refused.
func TestForeignHostIsRefused(t *testing.T) {
	_, srv := newTestServer(t)
	var e herokuError
	if code := call(t, srv, "GET", "/account", "", &e, "Host", "evil.example:80"); code != http.StatusMisdirectedRequest || e.ID == "" {
		t.Fatalf("foreign Host: %d %+v, want 421 with an error body", code, e)
	}
	if code := call(t, srv, "GET", "/account", "", nil, "Host", "localhost:1234"); code != 200 {
		t.Fatalf("localhost: %d", code)
	}
}

func TestOtherAppNamesAreNotFound(t *testing.T) {
	_, srv := newTestServer(t)
	var e herokuError
	if code := call(t, srv, "GET", "/apps/other/dynos", "", &e); code != 404 || e.ID != "not_found" || e.Resource != "app" {
		t.Fatalf("other app: %d %+v, want 404 not_found app", code, e)
	}
	var app appResource
	if code := call(t, srv, "GET", "/apps/demo", "", &app); code != 200 || app.Name != "demo" || app.WebURL != "http://127.0.0.1:5006/" {
		t.Fatalf("app: %d %+v", code, app)
	}
	// The app's id names it too.
	if code := call(t, srv, "GET", "/apps/"+app.ID, "", &app); code != 200 || app.Name != "demo" {
		t.Fatalf("app by id: %d %+v", code, app)
	}
}

func TestUnsupportedEndpointsNameWhatIsMissing(t *testing.T) {
	_, srv := newTestServer(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/apps/demo/pipeline-couplings"}, {"DELETE", "/apps/demo"}, {"POST", "/apps"}, {"GET", "/spaces/x"},
	} {
		var e herokuError
		code := call(t, srv, c.method, c.path, "", &e)
		if code != 404 || e.ID != "not_found" || !strings.Contains(e.Message, c.method+" "+c.path) {
			t.Errorf("%s %s: %d %+v, want 404 naming it", c.method, c.path, code, e)
		}
	}
	var e herokuError
	if code := call(t, srv, "POST", "/apps/demo/dynos", `{"command":"echo hi","attach":false}`, &e); code != 422 || !strings.Contains(e.Message, "dynobox run") {
		t.Errorf("run without a runner: %d %+v", code, e)
	}
}

// run:detached starts a one-off dyno through Config.Run; an attached
// heroku run is refused, naming dynobox run.
func TestRunDetached(t *testing.T) {
	var got []string
	var exit func()
	srv := httptest.NewServer(New(newFake(), Config{Name: "demo", Key: testKey, Run: func(command string, env map[string]string, exited func()) (string, func(), error) {
		got = append(got, command, env["COLUMNS"])
		exit = exited
		return "run.1234", func() {}, nil
	}}).Handler())
	defer srv.Close()
	var d dynoResource
	if code := call(t, srv, "POST", "/apps/demo/dynos", `{"command":"echo hi","attach":false,"env":{"COLUMNS":"80"}}`, &d); code != 201 || d.Name != "run.1234" || d.Type != "run" || d.Command != "echo hi" {
		t.Fatalf("run:detached: %d %+v", code, d)
	}
	if want := []string{"echo hi", "80"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Run got %q, want %q", got, want)
	}
	// ps lists it until it exits.
	var dynos []dynoResource
	call(t, srv, "GET", "/apps/demo/dynos", "", &dynos)
	if len(dynos) != 3 || dynos[2].Name != "run.1234" || dynos[2].Type != "run" || dynos[2].Command != "echo hi" {
		t.Fatalf("dynos while run.1234 runs: %+v", dynos)
	}
	exit()
	call(t, srv, "GET", "/apps/demo/dynos", "", &dynos)
	if len(dynos) != 2 {
		t.Fatalf("dynos after run.1234 exited: %+v", dynos)
	}
	var e herokuError
	if code := call(t, srv, "POST", "/apps/demo/dynos", `{"command":"bash","attach":true}`, &e); code != 422 || !strings.Contains(e.Message, "dynobox run") {
		t.Fatalf("attached run: %d %+v", code, e)
	}
	if code := call(t, srv, "POST", "/apps/demo/dynos", `{"command":" ","attach":false}`, &e); code != 422 || e.ID != "invalid_params" {
		t.Fatalf("empty command: %d %+v", code, e)
	}
}

// ps:stop and ps:restart of a detached one-off dyno (run.NNNN), or of
// them all (-p run), stop it; one that ended is not found.
func TestStopDetachedOneOff(t *testing.T) {
	f := newFake()
	stopped := map[string]int{}
	n := 0
	srv := httptest.NewServer(New(f, Config{Name: "demo", Key: testKey, Run: func(string, map[string]string, func()) (string, func(), error) {
		n++
		name := fmt.Sprintf("run.%d", 1000+n)
		return name, func() { stopped[name]++ }, nil
	}}).Handler())
	defer srv.Close()
	for range 3 {
		if code := call(t, srv, "POST", "/apps/demo/dynos", `{"command":"sleep 100","attach":false}`, nil); code != 201 {
			t.Fatalf("run:detached: %d", code)
		}
	}
	var e herokuError
	for _, c := range []struct{ method, path string }{
		{"POST", "/apps/demo/dynos/run.1001/actions/stop"}, // ps:stop run.1001
		{"DELETE", "/apps/demo/dynos/run.1002"},            // ps:restart run.1002
		{"POST", "/apps/demo/formations/run/actions/stop"}, // ps:stop -p run
	} {
		if code := call(t, srv, c.method, c.path, "", &e); code != http.StatusAccepted {
			t.Fatalf("%s %s: %d %+v", c.method, c.path, code, e)
		}
	}
	if want := map[string]int{"run.1001": 2, "run.1002": 2, "run.1003": 1}; !reflect.DeepEqual(stopped, want) {
		t.Fatalf("stops: %v, want %v", stopped, want)
	}
	if len(f.stopped)+len(f.restarted) != 0 {
		t.Fatalf("a one-off's stop reached the formation: stopped %v, restarted %v", f.stopped, f.restarted)
	}
	if code := call(t, srv, "POST", "/apps/demo/dynos/run.9999/actions/stop", "", &e); code != 404 || e.ID != "not_found" {
		t.Fatalf("ps:stop of no such one-off: %d %+v", code, e)
	}
}

// Lists come whole, never in pages: 250 releases without a Range are
// all there, in one 200 (Heroku would send 200 and a Next-Range, which a
// caller then follows); the CLI's releases -n N gets the newest N.
func TestReleasesAreAnsweredWhole(t *testing.T) {
	f, srv := newTestServer(t)
	f.mu.Lock()
	for len(f.releases) < 250 {
		f.releaseLocked("Set FOO config vars")
	}
	f.mu.Unlock()
	req, _ := http.NewRequest("GET", srv.URL+"/apps/demo/releases", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Next-Range") != "" {
		t.Fatalf("releases: %d, Next-Range %q; want 200 and none", resp.StatusCode, resp.Header.Get("Next-Range"))
	}
	var rels []releaseResource
	if code := call(t, srv, "GET", "/apps/demo/releases", "", &rels); code != 200 || len(rels) != 250 || rels[0].Version != 1 || rels[249].Version != 250 {
		t.Fatalf("releases without Range: %d, %d of 250", code, len(rels))
	}
	if code := call(t, srv, "GET", "/apps/demo/releases", "", &rels, "Range", "version ..; max=210, order=desc"); code != 200 || len(rels) != 210 || rels[0].Version != 250 || rels[209].Version != 41 {
		t.Fatalf("releases -n 210: %d, %d releases", code, len(rels))
	}
}

func TestDynosAndFormation(t *testing.T) {
	f, srv := newTestServer(t)
	var dynos []dynoResource
	if code := call(t, srv, "GET", "/apps/demo/dynos", "", &dynos); code != 200 || len(dynos) != 2 {
		t.Fatalf("dynos: %d %+v", code, dynos)
	}
	d := dynos[0]
	if d.Name != "web.1" || d.Type != "web" || d.Command != "run-web" || d.State != "up" || d.Size != "Basic" || d.Release.Version != 1 || d.UpdatedAt.IsZero() {
		t.Fatalf("dyno shape: %+v", d)
	}
	// ps:scale sends quantities as strings, with + and -.
	var form []formationResource
	code := call(t, srv, "PATCH", "/apps/demo/formation", `{"updates":[{"type":"web","quantity":"3"},{"type":"worker","quantity":"+1","size":"basic"}]}`, &form)
	if code != 200 || len(form) != 2 || form[0].Type != "web" || form[0].Quantity != 3 || form[1].Quantity != 2 {
		t.Fatalf("scale: %d %+v", code, form)
	}
	want := []runner.ScaleChange{{Type: "web", Op: "=", N: 3}, {Type: "worker", Op: "+", N: 1}}
	if !reflect.DeepEqual(f.scaled[0], want) {
		t.Fatalf("Scale got %+v, want %+v", f.scaled[0], want)
	}
	var one formationResource
	if code := call(t, srv, "PATCH", "/apps/demo/formation/web", `{"quantity":0}`, &one); code != 200 || one.Quantity != 0 || one.Type != "web" {
		t.Fatalf("scale one: %d %+v", code, one)
	}
	var e herokuError
	if code := call(t, srv, "PATCH", "/apps/demo/formation", `{"updates":[{"type":"clock","quantity":1}]}`, &e); code != 404 || e.ID != "not_found" {
		t.Fatalf("unknown type: %d %+v", code, e)
	}
	if code := call(t, srv, "PATCH", "/apps/demo/formation", `{"updates":[{"type":"web","quantity":"1","size":"performance-l"}]}`, &e); code != 422 || e.ID != "invalid_params" {
		t.Fatalf("other size: %d %+v", code, e)
	}
}

func TestRestartAndStopSelectWhatThePathNames(t *testing.T) {
	f, srv := newTestServer(t)
	for _, c := range []struct{ method, path string }{
		{"DELETE", "/apps/demo/dynos"}, {"DELETE", "/apps/demo/dynos/web.1"}, {"DELETE", "/apps/demo/formations/worker"},
	} {
		if code := call(t, srv, c.method, c.path, "", nil); code != 202 {
			t.Fatalf("%s %s: %d", c.method, c.path, code)
		}
	}
	if want := []runner.Select{{}, {Dyno: "web.1"}, {Type: "worker"}}; !reflect.DeepEqual(f.restarted, want) {
		t.Fatalf("restarted %+v, want %+v", f.restarted, want)
	}
	for _, p := range []string{"/apps/demo/dynos/web.1/actions/stop", "/apps/demo/formations/web/actions/stop"} {
		if code := call(t, srv, "POST", p, "", nil); code != 202 {
			t.Fatalf("POST %s: %d", p, code)
		}
	}
	if want := []runner.Select{{Dyno: "web.1"}, {Type: "web"}}; !reflect.DeepEqual(f.stopped, want) {
		t.Fatalf("stopped %+v, want %+v", f.stopped, want)
	}
	var e herokuError
	if code := call(t, srv, "DELETE", "/apps/demo/dynos/nope.1", "", &e); code != 404 || e.ID != "not_found" {
		t.Fatalf("unknown dyno: %d %+v", code, e)
	}
}

func TestConfigVarsSetUnsetAndReleases(t *testing.T) {
	f, srv := newTestServer(t)
	var cfg map[string]string
	if code := call(t, srv, "GET", "/apps/demo/config-vars", "", &cfg); code != 200 || cfg["FOO"] != "bar" || cfg["DATABASE_URL"] == "" {
		t.Fatalf("config: %d %v", code, cfg)
	}
	cfg = nil
	if code := call(t, srv, "PATCH", "/apps/demo/config-vars", `{"NEW":"1","FOO":null}`, &cfg); code != 200 || cfg["NEW"] != "1" || cfg["FOO"] != "" {
		t.Fatalf("patch: %d %v", code, cfg)
	}
	if _, ok := f.config["FOO"]; ok {
		t.Fatal("FOO: null did not unset it")
	}
	var e herokuError
	if code := call(t, srv, "PATCH", "/apps/demo/config-vars", `{"DATABASE_URL":"x"}`, &e); code != 422 || e.ID != "invalid_params" || !strings.Contains(e.Message, "add-on") {
		t.Fatalf("add-on var: %d %+v", code, e)
	}
	// config:set reads the newest release back this way.
	var rels []releaseResource
	if code := call(t, srv, "GET", "/apps/demo/releases", "", &rels, "Range", "version ..; order=desc,max=1"); code != 200 || len(rels) != 1 || rels[0].Version != 2 || !rels[0].Current {
		t.Fatalf("newest release: %d %+v", code, rels)
	}
	if code := call(t, srv, "GET", "/apps/demo/releases", "", &rels); code != 200 || len(rels) != 2 || rels[0].Version != 1 {
		t.Fatalf("releases without Range (oldest first): %d %+v", code, rels)
	}
	var rel releaseResource
	if code := call(t, srv, "GET", "/apps/demo/releases/2", "", &rel); code != 200 || rel.Version != 2 || rel.User.Email != accountEmail {
		t.Fatalf("release 2: %d %+v", code, rel)
	}
	if code := call(t, srv, "GET", "/apps/demo/releases/2/config-vars", "", &cfg); code != 200 || cfg["NEW"] != "1" {
		t.Fatalf("release 2 config: %d %v", code, cfg)
	}
	// releases:rollback posts the id of the release to go back to.
	var v1 releaseResource
	call(t, srv, "GET", "/apps/demo/releases/v1", "", &v1)
	if code := call(t, srv, "POST", "/apps/demo/releases", `{"release":"`+v1.ID+`"}`, &rel); code != 201 || rel.Version != 3 {
		t.Fatalf("rollback: %d %+v", code, rel)
	}
	if f.config["NEW"] != "" {
		t.Fatalf("rollback to v1 kept NEW: %v", f.config)
	}
	if code := call(t, srv, "POST", "/apps/demo/releases", `{"release":"v99"}`, &e); code != 404 || e.Resource != "release" {
		t.Fatalf("rollback to nothing: %d %+v", code, e)
	}
}

func TestAddonsAndAttachments(t *testing.T) {
	_, srv := newTestServer(t)
	var list []addonResource
	if code := call(t, srv, "GET", "/apps/demo/addons", "", &list); code != 200 || len(list) != 2 {
		t.Fatalf("addons: %d %+v", code, list)
	}
	a := list[0]
	if a.Name != "postgresql-1" || a.AddonService.Name != "heroku-postgresql" || a.Plan.Name != "heroku-postgresql:essential-0" || a.State != "provisioned" || a.App.Name != "demo" {
		t.Fatalf("addon shape: %+v", a)
	}
	var found []addonResource
	if code := call(t, srv, "POST", "/actions/addons/resolve", `{"addon":"postgresql-1","app":"demo"}`, &found); code != 200 || len(found) != 1 || found[0].ID != a.ID {
		t.Fatalf("resolve: %d %+v", code, found)
	}
	if code := call(t, srv, "POST", "/actions/addons/resolve", `{"addon":"DATABASE","app":"demo"}`, &found); code != 200 || len(found) != 1 {
		t.Fatalf("resolve by attachment: %d %+v", code, found)
	}
	// Attached under the shortest URL var's name: REDIS, not REDIS_TLS.
	if code := call(t, srv, "POST", "/actions/addons/resolve", `{"addon":"REDIS","app":"demo"}`, &found); code != 200 || len(found) != 1 || found[0].Name != "heroku-redis" || found[0].Plan.Name != "heroku-redis:dev" {
		t.Fatalf("resolve REDIS: %d %+v", code, found)
	}
	var atts []attachmentResource
	if code := call(t, srv, "GET", "/addons/"+a.ID+"/addon-attachments", "", &atts); code != 200 || len(atts) != 1 || atts[0].Name != "DATABASE" {
		t.Fatalf("attachments: %d %+v", code, atts)
	}
	var e herokuError
	if code := call(t, srv, "POST", "/actions/addons/resolve", `{"addon":"redis-9","app":"demo"}`, &e); code != 404 || e.Resource != "add_on" {
		t.Fatalf("resolve unknown: %d %+v", code, e)
	}
}

func TestAccountDomainsBuilds(t *testing.T) {
	_, srv := newTestServer(t)
	var acct accountResource
	if code := call(t, srv, "GET", "/account", "", &acct); code != 200 || acct.Email != accountEmail {
		t.Fatalf("account: %d %+v", code, acct)
	}
	var apps []appResource
	if code := call(t, srv, "GET", "/users/~/apps", "", &apps); code != 200 || len(apps) != 1 || apps[0].Name != "demo" || apps[0].Owner.Email != accountEmail {
		t.Fatalf("apps: %d %+v", code, apps)
	}
	var doms []domainResource
	if code := call(t, srv, "GET", "/apps/demo/domains", "", &doms); code != 200 || len(doms) != 1 || doms[0].Hostname != "127.0.0.1:5006" || doms[0].Kind != "heroku" {
		t.Fatalf("domains: %d %+v", code, doms)
	}
	var builds []buildResource
	if code := call(t, srv, "GET", "/apps/demo/builds", "", &builds); code != 200 || len(builds) != 2 || builds[0].ID != "b1" || builds[1].Status != "failed" {
		t.Fatalf("builds (oldest first): %d %+v", code, builds)
	}
}

// logs: a session's URL streams Logplex lines as server-sent events, with
// no Authorization (EventSource sends none); --tail follows new lines.
func TestLogSessionsStreamLogplexLines(t *testing.T) {
	f, srv := newTestServer(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC)
	f.hub.WriteBatch(&logbus.Batch{Time: at, Source: "app", Process: "web.1", Data: []byte("one\ntwo\n")})
	f.hub.WriteBatch(&logbus.Batch{Time: at, Source: "heroku", Process: "worker.1", Data: []byte("State changed from starting to up\n")})
	var sess logSessionResource
	if code := call(t, srv, "POST", "/apps/demo/log-sessions", `{"dyno":"web","lines":1,"tail":false}`, &sess); code != 201 || sess.LogplexURL == "" {
		t.Fatalf("log session: %d %+v", code, sess)
	}
	resp, err := http.Get(sess.LogplexURL)
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			data = append(data, d)
		}
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	if want := []string{"2026-01-02T03:04:05.123456+00:00 app[web.1]: two"}; !reflect.DeepEqual(data, want) {
		t.Fatalf("streamed %q, want %q", data, want)
	}

	call(t, srv, "POST", "/apps/demo/log-sessions", `{"dyno":"worker.1","source":"app","lines":0,"tail":true}`, &sess)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", sess.LogplexURL, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				lines <- d
			}
		}
		close(lines)
	}()
	// The stream subscribes before it answers: a line written now comes.
	f.hub.WriteBatch(&logbus.Batch{Time: at, Source: "heroku", Process: "worker.1", Data: []byte("filtered out\n")})
	f.hub.WriteBatch(&logbus.Batch{Time: at, Source: "app", Process: "worker.1", Data: []byte("tick\n")})
	select {
	case got := <-lines:
		if !strings.HasSuffix(got, "app[worker.1]: tick") {
			t.Fatalf("tail got %q, want worker.1's app line", got)
		}
	case <-ctx.Done():
		t.Fatal("tail did not stream the new line")
	}

	var e herokuError
	resp2, err := http.Get(srv.URL + logStreamPath + "0000")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != 404 {
		t.Fatalf("unknown session: %d %+v", resp2.StatusCode, e)
	}
}

func TestKeyIsKeptOwnerOnly(t *testing.T) {
	dir := t.TempDir()
	k1, err := Key(dir)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := Key(dir)
	if err != nil || k1 != k2 || len(k1) < 24 {
		t.Fatalf("second Key %q (%v), want the first %q", k2, err, k1)
	}
	fi, err := os.Stat(filepath.Join(dir, keyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", fi.Mode(), err)
	}
	if _, ok := Published(dir); ok {
		t.Fatal("Published before Publish")
	}
	unpublish, err := Publish(dir, Address{URL: "http://127.0.0.1:1", App: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := Published(dir); !ok || a.URL != "http://127.0.0.1:1" || a.Key != k1 || a.App != "demo" {
		t.Fatalf("Published: %+v %v", a, ok)
	}
	unpublish()
	if _, ok := Published(dir); ok {
		t.Fatal("Published after unpublish")
	}
}
