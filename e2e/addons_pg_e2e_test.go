package e2e

import (
	"encoding/json"
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

// End-to-end tests of the Postgres add-on as Heroku apps use it: SSL from
// node-postgres, several databases, pg:psql NAME, destroy, crash restart.

// nodePg returns the path of testdata/nodepg's script, failing in CI (and
// skipping elsewhere) when node or its node_modules are missing.
func nodePg(t *testing.T) string {
	t.Helper()
	script, _ := filepath.Abs(filepath.Join("testdata", "nodepg", "ssl.js"))
	_, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(filepath.Dir(script), "node_modules", "pg"))
	}
	if err != nil {
		msg := "node-postgres is not installed (cd e2e/testdata/nodepg && npm ci): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal("CI must run this test: " + msg)
		}
		t.Skip(msg)
	}
	return script
}

func TestPostgresAddonLikeHeroku(t *testing.T) {
	t.Parallel()
	script := nodePg(t)
	p, dir, verb := runningApp(t, map[string]string{
		"app.json": `{"addons": ["heroku-postgresql"]}`,
		"Procfile": "worker: exec sleep 1000\n",
	})
	p.waitOutputWithin("State changed from starting to up", 2*time.Minute) // initdb: 20–80 s on a busy machine

	// node-postgres with the ssl option Heroku documents for Node.
	out, stderr, code := verb("run", "node", script)
	if code != 0 || out != "ssl=true user=u_heroku_postgresql\n" {
		t.Fatalf("node-postgres with ssl: exit %d %q %s", code, out, stderr)
	}
	// psql with sslmode=require, as Rails' and Django's settings ask.
	out, stderr, code = verb("run", `psql "$DATABASE_URL?sslmode=require" -XAtc "select ssl from pg_stat_ssl where pid = pg_backend_pid()"`)
	if code != 0 || out != "t\n" {
		t.Fatalf("psql sslmode=require: exit %d %q %s", code, out, stderr)
	}

	// A second heroku-postgresql without --as gets its own color var.
	out, stderr, code = verb("addons:create", "heroku-postgresql")
	if code != 0 || !strings.Contains(out, "heroku-postgresql-2") {
		t.Fatalf("second heroku-postgresql: exit %d %s %s", code, out, stderr)
	}
	config := map[string]string{}
	js, _, _ := verb("config", "--json")
	if err := json.Unmarshal([]byte(js), &config); err != nil {
		t.Fatalf("config --json: %v\n%s", err, js)
	}
	var colors []string
	for k, v := range config {
		if strings.HasPrefix(k, "HEROKU_POSTGRESQL_") && strings.HasSuffix(k, "_URL") && v != config["DATABASE_URL"] {
			colors = append(colors, k)
		}
	}
	if len(colors) != 1 || !strings.HasSuffix(config[colors[0]], "/heroku_postgresql_2") || !strings.HasSuffix(config["DATABASE_URL"], "/heroku_postgresql") {
		t.Fatalf("config vars of two databases: %v", config)
	}

	// pg:psql NAME opens NAME's database, not the primary.
	if _, stderr, code := verb("pg:psql", "heroku-postgresql-2", "-c", "create table only_second (n int)"); code != 0 {
		t.Fatalf("pg:psql heroku-postgresql-2: %s", stderr)
	}
	count := func(args ...string) string {
		t.Helper()
		// After "--" all goes to psql but a leading add-on name.
		out, stderr, code := verb(append(append([]string{"pg:psql", "--"}, args...), "-XAt", "-c", "select count(*) from pg_tables where tablename = 'only_second'")...)
		if code != 0 {
			t.Fatalf("pg:psql %v: exit %d %s", args, code, stderr)
		}
		return strings.TrimSpace(out)
	}
	if got := count(); got != "0" {
		t.Errorf("the primary database has the second one's table (%s)", got)
	}
	if got := count("heroku-postgresql-2"); got != "1" {
		t.Errorf("pg:psql heroku-postgresql-2 sees %s tables", got)
	}

	// addons:destroy deletes the data; re-creating starts empty.
	if out, stderr, code := verb("addons:destroy", "heroku-postgresql-2", "--confirm", "heroku-postgresql-2"); code != 0 {
		t.Fatalf("addons:destroy: exit %d %s %s", code, out, stderr)
	}
	if out, stderr, code := verb("addons:create", "heroku-postgresql"); code != 0 || !strings.Contains(out, "heroku-postgresql-2") {
		t.Fatalf("addons:create again: exit %d %s %s", code, out, stderr)
	}
	if got := count("heroku-postgresql-2"); got != "0" {
		t.Errorf("the destroyed database's table came back")
	}

	// The shared server's lines carry its own name.
	if !regexp.MustCompile(`app\[postgres-server\] +\| .*database system is ready to accept connections`).MatchString(p.out.String()) {
		t.Errorf("no server lines labelled postgres-server:\n%s", p.out)
	}
	if regexp.MustCompile(`app\[heroku-postgresql(-2)?\] +\| .*LOG: `).MatchString(p.out.String()) {
		t.Errorf("server lines labelled with a database's name:\n%s", p.out)
	}

	// kill -9 of the postmaster: noticed, logged, restarted, data kept.
	if _, stderr, code := verb("pg:psql", "-c", "create table kept (n int); insert into kept values (5)"); code != 0 {
		t.Fatalf("pg:psql: %s", stderr)
	}
	pidFile := filepath.Join(dir, ".dynobox", "addons", "postgres-server", "data", "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pm, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err := syscall.Kill(pm, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.waitOutput("exited unexpectedly")
	p.waitOutputWithin("postgres is up again", 60*time.Second)
	var status []struct{ Name, State string }
	listing, _, _ := verb("addons", "--json")
	if err := json.Unmarshal([]byte(listing), &status); err != nil || len(status) != 2 {
		t.Fatalf("addons --json: %v %s", err, listing)
	}
	for _, s := range status {
		if s.State != "up" {
			t.Errorf("after the restart: %+v", s)
		}
	}
	out, stderr, code = verb("pg:psql", "--", "-XAt", "-c", "select n from kept")
	if code != 0 || strings.TrimSpace(out) != "5" {
		t.Errorf("data after the restart: exit %d %q %s", code, out, stderr)
	}
	stopApp(t, p)

	// Destroyed while dynobox is not running: the database goes too. The
	// harness run starts the remaining add-on; dynobox's own superuser
	// looks for the database.
	if out, stderr, code := verb("addons:destroy", "heroku-postgresql-2", "--confirm", "heroku-postgresql-2"); code != 0 {
		t.Fatalf("addons:destroy offline: exit %d %s %s", code, out, stderr)
	}
	out, stderr, code = verb("run", "--", "sh", "-c",
		`psql "postgres://dynobox:$(cat .dynobox/addons/postgres-server/password)@${DATABASE_URL#*@}" -XAtc "select count(*) from pg_database where datname like 'heroku_postgresql%'"`)
	if code != 0 || out != "1\n" {
		t.Errorf("databases after an offline destroy: exit %d %q %s", code, out, stderr)
	}
}
