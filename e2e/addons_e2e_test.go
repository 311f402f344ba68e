package e2e

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// End-to-end tests of add-ons: real Postgres, Redis and Kafka servers
// started by the built binary, used through real clients.

const allAddons = `{"addons": ["heroku-postgresql", "heroku-redis:mini", {"plan": "heroku-kafka"}]}`

func TestAddonsReadyBeforeDynosAndSeenByRun(t *testing.T) {
	t.Parallel()
	p, dir, verb := runningApp(t, map[string]string{
		"app.json": allAddons,
		"Procfile": "worker: echo \"db=${DATABASE_URL%%://*} redis=${REDIS_URL%%://*} kafka=${KAFKA_URL%%://*}\"; exec sleep 1000\n",
	})
	p.waitOutput("| db=postgres redis=redis kafka=kafka+ssl\n")
	out := p.out.String()
	if ready, starting := strings.Index(out, "Add-ons ready in"), strings.Index(out, "Starting process with command"); ready < 0 || starting < ready {
		t.Fatalf("a dyno started before the add-ons were ready:\n%s", out)
	}
	if !strings.Contains(out, "app[postgres-server]") {
		t.Errorf("no add-on log lines on the bus:\n%s", out)
	}

	// A one-off dyno uses the running add-ons, with real clients.
	script := `psql "$DATABASE_URL" -qAtc "create table t(x int); insert into t values (41); select x+1 from t" &&
redis-cli -u "$REDIS_URL" --no-auth-warning SET k v >/dev/null && redis-cli -u "$REDIS_URL" --no-auth-warning GET k &&
test -n "$KAFKA_CLIENT_CERT" && exit 4`
	stdout, stderr, code := verb("run", script)
	if code != 4 || stdout != "42\nv\n" {
		t.Fatalf("run against the running add-ons: exit %d, %q, %s", code, stdout, stderr)
	}
	// The running app's log shows the one-off dyno's lifecycle, as Heroku's does.
	p.waitOutput("Process exited with status 4")
	if !regexp.MustCompile(`heroku\[run\.\d{4}\] +\| Starting process with command `).MatchString(p.out.String()) {
		t.Errorf("the app's log has no heroku[run.N] lines:\n%s", p.out)
	}
	// Without a password, Redis refuses.
	var status []struct {
		Name    string            `json:"name"`
		State   string            `json:"state"`
		Addr    string            `json:"address"`
		Config  map[string]string `json:"config_vars"`
		Backend string            `json:"backend"`
	}
	listing, _, _ := verb("addons", "--json")
	if err := json.Unmarshal([]byte(listing), &status); err != nil || len(status) != 3 {
		t.Fatalf("addons --json: %v\n%s", err, listing)
	}
	for _, s := range status {
		if s.State != "up" || s.Addr == "" {
			t.Errorf("add-on %+v", s)
		}
		for k, v := range s.Config {
			if strings.Contains(v, "@") && !strings.Contains(v, ":********@") {
				t.Errorf("addons shows the secret of %s: %s", k, v)
			}
		}
		// Redis says which backend serves: redis-server when installed.
		if want := wantRedisBackend(); s.Name == "heroku-redis" && s.Backend != want {
			t.Errorf("heroku-redis backend %q, want %q", s.Backend, want)
		}
	}
	if out, _, _ := verb("addons", "--reveal"); !strings.Contains(out, "REDIS_URL:") || strings.Contains(out, "********@") ||
		!regexp.MustCompile(`Backend: +(redis-server \d|embedded)`).MatchString(out) {
		t.Errorf("addons --reveal:\n%s", out)
	}
	if out, _, code := verb("pg:psql", "-c", "select count(*) from t"); code != 0 || !strings.Contains(out, "1") {
		t.Errorf("pg:psql -c: exit %d %q", code, out)
	}
	if out, _, code := verb("redis:cli", "GET", "k"); code != 0 || out != "v\n" {
		t.Errorf("redis:cli GET k: exit %d %q", code, out)
	}
	if _, stderr, code := verb("kafka:topics:create", "events", "--partitions", "2"); code != 0 {
		t.Fatalf("kafka:topics:create: %s", stderr)
	}
	if _, stderr, code := verb("kafka:topics:write", "events", "hello kafka"); code != 0 {
		t.Fatalf("kafka:topics:write: %s", stderr)
	}
	if out, _, _ := verb("kafka:topics"); !strings.Contains(out, "events") {
		t.Errorf("kafka:topics:\n%s", out)
	}
	stopApp(t, p)
	if strings.Contains(p.out.String(), "heroku-postgresql") && !strings.Contains(p.out.String(), "database system is shut down") {
		t.Errorf("Postgres was not shut down cleanly:\n%s", p.out)
	}
	if strings.HasPrefix(wantRedisBackend(), "redis-server") && !strings.Contains(p.out.String(), "Redis is now ready to exit, bye bye") {
		t.Errorf("redis-server was not shut down cleanly:\n%s", p.out)
	}

	// Nothing running: run starts the add-ons itself (test harness mode),
	// with the same data, and stops them after.
	stdout, stderr, code = runDynobox(t, dir, "run", "--", "sh", "-c", `psql "$DATABASE_URL" -Atc "select x from t"; exit 5`)
	if code != 5 || stdout != "41\n" {
		t.Fatalf("harness run: exit %d %q %s", code, stdout, stderr)
	}
	stdout, _, code = runDynobox(t, dir, "run", "--ephemeral", "--", "sh", "-c", `psql "$DATABASE_URL" -Atc "select count(*) from pg_tables where tablename = 't'"`)
	if code != 0 || stdout != "0\n" {
		t.Fatalf("ephemeral run sees the app's data: exit %d %q", code, stdout)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".dynobox", "ephemeral-*")); len(m) > 0 {
		t.Fatalf("ephemeral data left behind: %v", m)
	}
}

func TestAddonFailureStartsNoDyno(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"app.json": `{"addons": ["heroku-redis", "heroku-postgresql"]}`,
		"Procfile": "worker: echo started; exec sleep 1000\n",
	})
	p := startDynoboxEnv(t, dir, []string{"DYNOBOX_PG_BIN_DIR=" + t.TempDir()}, "start", "-p", strconv.Itoa(freePort(t)))
	if code := p.wait(); code != 1 {
		t.Fatalf("exit %d, want 1\n%s\n%s", code, p.out, p.err)
	}
	if !strings.Contains(p.err.String(), "add-on heroku-postgresql:") || !strings.Contains(p.err.String(), "no dyno was started") {
		t.Fatalf("error does not name the add-on:\n%s", p.err)
	}
	if strings.Contains(p.out.String(), "Starting process") {
		t.Fatalf("a dyno started:\n%s", p.out)
	}
	// Redis started alongside and was stopped again.
	data, err := os.ReadFile(filepath.Join(dir, ".dynobox", "addons", "heroku-redis", "port"))
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.Dial("tcp", "127.0.0.1:"+strings.TrimSpace(string(data))); err == nil {
		c.Close()
		t.Fatal("Redis still listens after the failed start")
	}
}

func TestPostgresDataSurvivesKill9OfDynobox(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"app.json": `{"addons": ["heroku-postgresql"]}`,
		"Procfile": "worker: exec sleep 1000\n",
	})
	port := strconv.Itoa(freePort(t))
	p := startDynobox(t, dir, "start", "-p", port)
	// A first start runs initdb: 20–80 s seen on a busy 2-core machine.
	p.waitOutputWithin("State changed from starting to up", 2*time.Minute)
	if _, stderr, code := runDynobox(t, dir, "pg:psql", "-c", "create table t(x int); insert into t values (7)"); code != 0 {
		t.Fatalf("pg:psql: %s", stderr)
	}
	url1, _, _ := runDynobox(t, dir, "config:get", "DATABASE_URL")
	pidFile, err := os.ReadFile(filepath.Join(dir, ".dynobox", "addons", "postgres-server", "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	postmaster, _ := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])
	p.cmd.Process.Kill()
	p.cmd.Wait()
	// The server does not outlive dynobox: it shuts itself down.
	waitGone(t, []int{postmaster}, 10*time.Second)

	p2 := startDynobox(t, dir, "start", "-p", port)
	p2.waitOutputWithin("State changed from starting to up", 2*time.Minute)
	out, stderr, code := runDynobox(t, dir, "pg:psql", "-c", "select x from t")
	if code != 0 || !strings.Contains(out, "7") {
		t.Fatalf("after kill -9: exit %d %q %s\n%s", code, out, stderr, p2.out)
	}
	if url2, _, _ := runDynobox(t, dir, "config:get", "DATABASE_URL"); url2 != url1 {
		t.Errorf("DATABASE_URL changed across the crash: %q → %q", url1, url2)
	}
	stopApp(t, p2)
}

func TestAddonsCreateAndDestroyAtRuntime(t *testing.T) {
	t.Parallel()
	p, _, verb := runningApp(t, map[string]string{
		"Procfile": "worker: echo \"redis=[${CACHE_URL%%://*}]\"; exec sleep 1000\n",
	})
	p.waitOutput("| redis=[]\n")
	if _, stderr, code := verb("addons:create", "heroku-memcached"); code != 2 || !strings.Contains(stderr, "heroku-postgresql, heroku-redis, heroku-kafka") {
		t.Fatalf("unknown plan: exit %d %s", code, stderr)
	}
	out, stderr, code := verb("addons:create", "heroku-redis", "--as", "CACHE")
	if code != 0 || !strings.Contains(out, "done, v2") {
		t.Fatalf("addons:create: exit %d %s %s", code, out, stderr)
	}
	p.waitOutput("| redis=[redis]\n")
	if _, stderr, code := verb("addons:destroy", "cache"); code != 2 || !strings.Contains(stderr, "--confirm cache") {
		t.Fatalf("destroy without confirmation: exit %d %s", code, stderr)
	}
	if _, stderr, code := verb("config:set", "CACHE_URL=x"); code != 2 || !strings.Contains(stderr, "add-on") {
		t.Fatalf("setting an add-on var: exit %d %s", code, stderr)
	}
	out, _, code = verb("addons:destroy", "cache", "--confirm", "cache")
	if code != 0 || !strings.Contains(out, "done, v3") {
		t.Fatalf("addons:destroy: exit %d %s", code, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for strings.Count(p.out.String(), "| redis=[]\n") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("dynos not restarted without the add-on:\n%s", p.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, _, _ := verb("releases"); !strings.Contains(out, "Add cache") || !strings.Contains(out, "Remove cache") {
		t.Errorf("releases:\n%s", out)
	}
	p.cmd.Process.Signal(syscall.SIGINT)
	p.wait()
}

// wantRedisBackend is what `dynobox addons` should say serves heroku-redis
// here: the installed redis-server, unless DYNOBOX_REDIS says otherwise.
func wantRedisBackend() string {
	if os.Getenv("DYNOBOX_REDIS") == "embedded" {
		return "embedded"
	}
	out, err := exec.Command("redis-server", "--version").Output()
	m := regexp.MustCompile(`v=(\d+\.\d+\.\d+)`).FindSubmatch(out)
	if err != nil || m == nil {
		return "embedded"
	}
	return "redis-server " + string(m[1])
}
