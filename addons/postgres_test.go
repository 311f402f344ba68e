package addons

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/dynobox/dynobox/internal/ports"
)

func TestPostgresConnectPgxAndPsql(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	dir := t.TempDir()
	p, log := newTestPostgres(t, Options{Dir: dir})
	pgTestStart(t, p)
	if !log.has("] LOG:  database system is ready to accept connections") ||
		slices.ContainsFunc(log.snapshot(), func(l string) bool { return strings.ContainsAny(l, "\r\n") }) {
		t.Errorf("server log lines not passed on one by one:\n%s", log)
	}

	env := p.Env()
	dbURL := env["DATABASE_URL"]
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme != "postgres" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.User.Username() != "u_heroku_postgresql" || u.RawQuery != "" {
		t.Fatalf("DATABASE_URL = %q", dbURL)
	}
	if p.Addr() != u.Host {
		t.Errorf("Addr() = %q, URL host %q", p.Addr(), u.Host)
	}
	var colorVars []string
	for k, v := range env {
		if strings.HasPrefix(k, "HEROKU_POSTGRESQL_") && strings.HasSuffix(k, "_URL") && v == dbURL {
			colorVars = append(colorVars, k)
		}
	}
	if len(env) != 2 || len(colorVars) != 1 {
		t.Errorf("env = %v, want DATABASE_URL and one HEROKU_POSTGRESQL_<COLOR>_URL", env)
	}
	if p.Name() != "heroku-postgresql" || p.Plan() != "heroku-postgresql" {
		t.Errorf("Name, Plan = %q, %q", p.Name(), p.Plan())
	}

	pgTestExec(t, dbURL, "CREATE TABLE notes (body text)", "INSERT INTO notes VALUES ('from pgx')")
	if got := pgTestQuery(t, dbURL, "SHOW listen_addresses"); got != "127.0.0.1" {
		t.Errorf("listen_addresses = %q", got)
	}
	if got := pgTestQuery(t, dbURL, "SELECT current_database()"); got != "heroku_postgresql" {
		t.Errorf("database = %q", got)
	}

	cmd, err := PsqlCommand(p, "-X", "-tAc", "INSERT INTO notes VALUES ('from psql'); SELECT string_agg(body, ',' ORDER BY body) FROM notes")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "from pgx,from psql") {
		t.Fatalf("psql: %v: %s", err, out)
	}

	st, err := os.Stat(filepath.Join(dir, "password"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("password file: %v %v", st.Mode(), err)
	}

	// Stop and Start again, and a new add-on on the same directory (the
	// next dynobox run): same data, same port, same config vars.
	pgTestStop(t, p)
	pgTestStop(t, p) // idempotent
	pgTestStart(t, p)
	if got := pgTestQuery(t, dbURL, "SELECT count(*)::text FROM notes"); got != "2" {
		t.Errorf("after restart: %s rows", got)
	}
	pgTestStop(t, p)
	p2, _ := newTestPostgres(t, Options{Dir: dir})
	pgTestStart(t, p2)
	if fmt.Sprint(p2.Env()) != fmt.Sprint(env) {
		t.Errorf("env changed between runs:\n%v\n%v", env, p2.Env())
	}
	if got := pgTestQuery(t, dbURL, "SELECT count(*)::text FROM notes"); got != "2" {
		t.Errorf("next run: %s rows", got)
	}
}

// TestPostgresKill9 kills the process running the add-on with SIGKILL, as
// a crash or kill -9 of dynobox would, and starts it again.
func TestPostgresKill9(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	for _, tc := range []struct {
		name       string
		keepServer bool
	}{
		// Pdeathsig: the server shuts itself down when dynobox dies.
		{"server stops with dynobox", false},
		// No Pdeathsig (or it was lost): the server is left running
		// with our port and data directory; the next start stops it.
		{"server left running", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			helper, dsn, pmPid := pgTestHelper(t, dir, tc.keepServer)
			pgTestExec(t, dsn, "CREATE TABLE survived (n int)", "INSERT INTO survived VALUES (42)")
			client := pgTestConnect(t, dsn) // an app still connected

			helper.Process.Signal(syscall.SIGKILL)
			helper.Wait()
			if tc.keepServer {
				if !pgProcAlive(pmPid) {
					t.Fatal("the server should have been left running")
				}
			} else {
				if !pgWaitGone(pmPid, 30*time.Second) {
					t.Fatal("the server did not stop when its parent died")
				}
				if _, err := os.Stat(filepath.Join(dir, "data", "postmaster.pid")); !os.IsNotExist(err) {
					t.Errorf("no clean shutdown: postmaster.pid still there (%v)", err)
				}
			}
			client.Close(context.Background())

			p, log := newTestPostgres(t, Options{Dir: dir})
			pgTestStart(t, p)
			if p.Env()["DATABASE_URL"] != dsn {
				t.Errorf("DATABASE_URL changed: %s → %s", dsn, p.Env()["DATABASE_URL"])
			}
			if got := pgTestQuery(t, dsn, "SELECT n::text FROM survived"); got != "42" {
				t.Errorf("row = %s", got)
			}
			if tc.keepServer && !log.has("left running by an earlier dynobox") {
				t.Errorf("no log line about the server left running:\n%s", log)
			}
			if pgProcAlive(pmPid) {
				t.Errorf("old postmaster %d still running", pmPid)
			}
		})
	}
}

// TestPostgresPostmasterSIGKILL kills the postmaster itself while a backend
// is busy: that backend lives on, attached to the old shared memory, and
// PostgreSQL refuses to start until it is gone.
func TestPostgresPostmasterSIGKILL(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	dir := t.TempDir()
	p, log := newTestPostgres(t, Options{Dir: dir})
	pgTestStart(t, p)
	dsn := p.Env()["DATABASE_URL"]
	pgTestExec(t, dsn, "CREATE TABLE survived (n int)", "INSERT INTO survived VALUES (7)")

	busy := pgTestConnect(t, dsn)
	go busy.Exec(context.Background(), "SELECT count(*) FROM generate_series(1, 100000000000)")
	watch := pgTestConnect(t, dsn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		watch.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%generate_series%' AND pid <> pg_backend_pid()").Scan(&n)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("busy query did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	pm, done := pgTestPostmaster(p)
	dataDir := p.srv.dataDir
	syscall.Kill(pm, syscall.SIGKILL)
	<-done
	if len(pgServerProcs(dataDir)) == 0 {
		t.Log("no backend outlived the postmaster; the sweep is not exercised")
	}

	// The supervisor's restart must clear the orphan and recover the data.
	deadline = time.Now().Add(60 * time.Second)
	for !log.has("postgres is up again") {
		if time.Now().After(deadline) {
			t.Fatalf("not restarted:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := pgTestQuery(t, dsn, "SELECT n::text FROM survived"); got != "7" {
		t.Errorf("row = %s", got)
	}
	if !log.has("left behind by a crashed server") {
		t.Errorf("orphaned backend not reported:\n%s", log)
	}
}

func TestPostgresTwoAtOnce(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	a, _ := newTestPostgres(t, Options{Dir: t.TempDir()})
	b, _ := newTestPostgres(t, Options{Dir: t.TempDir()})
	// Started at once; the errors are checked on the test's goroutine
	// (t.Fatal elsewhere would not stop the test).
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []*Postgres{a, b} {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			errs[i] = p.Start(ctx)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start of server %d: %v", i+1, err)
		}
	}
	if a.Addr() == b.Addr() {
		t.Fatalf("both on %s", a.Addr())
	}
	pgTestExec(t, a.Env()["DATABASE_URL"], "CREATE TABLE only_a (n int)")
	got := pgTestQuery(t, b.Env()["DATABASE_URL"], "SELECT count(*)::text FROM pg_tables WHERE tablename = 'only_a'")
	if got != "0" {
		t.Error("the two add-ons share data")
	}
}

// TestPostgresSharedServer runs two add-ons as two databases of one server.
func TestPostgresSharedServer(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	server := t.TempDir()
	main, _ := newTestPostgres(t, Options{Dir: t.TempDir()})
	main.ServerDir = server
	other, _ := newTestPostgres(t, Options{Dir: t.TempDir(), As: "ANALYTICS_DB"})
	other.ServerDir = server
	pgTestStart(t, main)
	pgTestStart(t, other)

	if main.Addr() != other.Addr() {
		t.Fatalf("not shared: %s, %s", main.Addr(), other.Addr())
	}
	if other.Name() != "analytics-db" {
		t.Errorf("Name() = %q", other.Name())
	}
	env := other.Env()
	if len(env) != 1 || env["ANALYTICS_DB_URL"] == "" {
		t.Fatalf("--as env = %v", env)
	}
	if got := pgTestQuery(t, env["ANALYTICS_DB_URL"], "SELECT current_database()"); got != "analytics_db" {
		t.Errorf("database = %q", got)
	}
	if main.color == other.color {
		// other has no color var, but an app's add-ons never share a color
		t.Errorf("both %s", main.color)
	}

	pgTestStop(t, main)
	if got := pgTestQuery(t, env["ANALYTICS_DB_URL"], "SELECT 'still up'"); got != "still up" {
		t.Error(got)
	}
	port, _ := strconv.Atoi(strings.TrimPrefix(other.Addr(), "127.0.0.1:"))
	pgTestStop(t, other)
	if !ports.Available(port) {
		t.Error("server still listening after the last add-on stopped")
	}
}

func TestPostgresColorsDiffer(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	app := t.TempDir() // as the registry lays out an app's add-ons
	server := filepath.Join(app, "postgres-server")
	first, _ := newTestPostgres(t, Options{Dir: filepath.Join(app, "heroku-postgresql")})
	first.ServerDir = server
	second, _ := newTestPostgres(t, Options{Dir: filepath.Join(app, "heroku-postgresql-2")})
	second.ServerDir = server
	second.Secondary = true
	pgTestStart(t, first)
	pgTestStart(t, second)
	if first.color == second.color {
		t.Fatalf("both %s", first.color)
	}
	if _, ok := second.Env()["DATABASE_URL"]; ok || len(second.Env()) != 1 {
		t.Errorf("secondary env = %v, want only its color var", second.Env())
	}
}

func TestPostgresPortTaken(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	dir := t.TempDir()
	p, log := newTestPostgres(t, Options{Dir: dir})
	pgTestStart(t, p)
	old := p.Addr()
	pgTestStop(t, p)

	// Take the old port; if another process got it first, it is just as taken.
	if l, err := net.Listen("tcp", old); err == nil {
		defer l.Close()
	}
	pgTestStart(t, p)
	if p.Addr() == old {
		t.Fatal("same port although it is taken")
	}
	if !log.has("is in use by another process; using port") {
		t.Errorf("port change not logged:\n%s", log)
	}
	pgTestQuery(t, p.Env()["DATABASE_URL"], "SELECT 'ok'")
	b, _ := os.ReadFile(filepath.Join(dir, "port"))
	if "127.0.0.1:"+strings.TrimSpace(string(b)) != p.Addr() {
		t.Errorf("new port not kept: %s", b)
	}
}

func TestPostgresEphemeral(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	dir := t.TempDir()
	keep, _ := newTestPostgres(t, Options{Dir: dir})
	pgTestStart(t, keep)
	pgTestExec(t, keep.Env()["DATABASE_URL"], "CREATE TABLE kept (n int)")
	pgTestStop(t, keep)

	eph, _ := newTestPostgres(t, Options{Dir: dir, Ephemeral: true})
	pgTestStart(t, eph)
	dsn := eph.Env()["DATABASE_URL"]
	if got := pgTestQuery(t, dsn, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'kept'"); got != "0" {
		t.Error("ephemeral run sees persistent data")
	}
	pgTestExec(t, dsn, "CREATE TABLE throwaway (n int)")
	pgTestStop(t, eph)
	if _, err := os.Stat(filepath.Join(dir, "ephemeral")); !os.IsNotExist(err) {
		t.Errorf("ephemeral data left: %v", err)
	}

	pgTestStart(t, keep)
	if got := pgTestQuery(t, keep.Env()["DATABASE_URL"], "SELECT count(*)::text FROM pg_tables WHERE tablename IN ('kept', 'throwaway')"); got != "1" {
		t.Errorf("persistent data damaged: %s tables", got)
	}
}

// TestPostgresLongDir: a unix socket path cannot exceed 107 bytes.
func TestPostgresLongDir(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	dir := filepath.Join(t.TempDir(), strings.Repeat("state-directory-", 6))
	p, _ := newTestPostgres(t, Options{Dir: dir})
	pgTestStart(t, p)
	sock := p.srv.sockDir
	if strings.HasPrefix(sock, dir) || !p.srv.tmpSock {
		t.Fatalf("socket dir %s", sock)
	}
	if _, err := os.Stat(filepath.Join(sock, ".s.PGSQL."+strings.TrimPrefix(p.Addr(), "127.0.0.1:"))); err != nil {
		t.Fatalf("no socket: %v", err)
	}
	pgTestQuery(t, p.Env()["DATABASE_URL"], "SELECT 'ok'")
	pgTestStop(t, p)
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket dir left: %v", err)
	}
}

func TestPostgresMissingBinaries(t *testing.T) {
	empty := t.TempDir()
	t.Run("DYNOBOX_PG_BIN_DIR empty", func(t *testing.T) {
		t.Setenv(PgBinDirEnv, empty)
		dir := t.TempDir()
		p, _ := newTestPostgres(t, Options{Dir: dir})
		err := p.Start(context.Background())
		if err == nil || !strings.Contains(err.Error(), PgBinDirEnv+"="+empty) || !strings.Contains(err.Error(), "no initdb") {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "data")); !os.IsNotExist(err) {
			t.Errorf("data dir created: %v", err)
		}
	})
	t.Run("nothing installed", func(t *testing.T) {
		p, _ := newTestPostgres(t, Options{Dir: t.TempDir()})
		p.NoSystem = true
		p.CacheDir = empty
		err := p.Start(context.Background())
		t.Log(err)
		for _, want := range []string{"no PostgreSQL server binaries found", "apt-get install postgresql", "brew install", PgBinDirEnv} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error lacks %q: %v", want, err)
			}
		}
	})
}

func TestPostgresPsqlMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	p := NewPostgres(Options{Dir: t.TempDir()})
	if _, err := PsqlCommand(p); err == nil || !strings.Contains(err.Error(), "has not been started") {
		t.Errorf("not started: %v", err)
	}
	os.WriteFile(filepath.Join(p.opts.Dir, "port"), []byte("5432\n"), 0o600)
	os.WriteFile(filepath.Join(p.opts.Dir, pgRolePasswordFile), []byte("x\n"), 0o600)
	if _, err := PsqlCommand(p); err == nil || !strings.Contains(err.Error(), "apt-get install postgresql-client") {
		t.Errorf("no psql: %v", err)
	}
}

func TestPostgresParseVersion(t *testing.T) {
	for out, want := range map[string]string{
		"postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n": "15.18 15",
		"postgres (PostgreSQL) 17.5\n":                           "17.5 17",
		"postgres (PostgreSQL) 9.6.24\n":                         "9.6.24 9.6",
		"postgres (PostgreSQL) 18beta1\n":                        "18 18",
	} {
		v, m, err := pgParseVersion(out)
		if err != nil || v+" "+m != want {
			t.Errorf("%q → %q %q %v, want %s", out, v, m, err, want)
		}
	}
	if _, _, err := pgParseVersion("bash: postgres: not found"); err == nil {
		t.Error("garbage parsed")
	}
}

// TestPostgresAsNormalUser runs the main tests again as "nobody" when the
// suite runs as root, so both ways of running the server are covered.
func TestPostgresAsNormalUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		needed(t, "runs as root only: as a normal user the other tests already run the server that way")
	}
	pgTestNeedBinaries(t)
	slowServer(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		needed(t, "no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	home, err := os.MkdirTemp("", "dynobox-pg-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	bin := filepath.Join(home, "addons.test")
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(os.Chown(home, uid, gid), os.Chown(bin, uid, gid)); err != nil {
		t.Fatal(err)
	}

	tests := []string{"TestPostgresConnectPgxAndPsql", "TestPostgresKill9", "TestPostgresPostmasterSIGKILL"}
	cmd := exec.Command(bin, "-test.run=^("+strings.Join(tests, "|")+")$", "-test.v", "-test.count=1")
	cmd.Dir = home
	cmd.Env = []string{"HOME=" + home, "TMPDIR=" + home, "USER=nobody", "PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody: %v\n%s", err, out)
	}
	for _, name := range tests {
		if !strings.Contains(string(out), "--- PASS: "+name) {
			t.Errorf("%s did not pass as nobody:\n%s", name, out)
		}
	}
}

// TestPostgresRootKeepsDataOwner: as root, a data directory that belongs
// to a normal user (dynobox ran without root before) is run as that user.
func TestPostgresRootKeepsDataOwner(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		needed(t, "needs root")
	}
	pgTestNeedBinaries(t)
	slowServer(t)
	nobody, err := user.Lookup("nobody")
	if err != nil {
		needed(t, "no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	dir := t.TempDir()
	p, _ := newTestPostgres(t, Options{Dir: dir})
	pgTestStart(t, p)
	pgTestExec(t, p.Env()["DATABASE_URL"], "CREATE TABLE mine (n int)")
	pgTestStop(t, p)
	if err := pgChownTree(filepath.Join(dir, "data"), &pgRunAs{uid: uint32(uid), gid: uint32(gid)}); err != nil {
		t.Fatal(err)
	}

	pgTestStart(t, p)
	if p.srv.run == nil || p.srv.run.uid != uint32(uid) {
		t.Errorf("runs as %+v, want uid %d", p.srv.run, uid)
	}
	pm, _ := pgTestPostmaster(p)
	st, _ := os.Stat(fmt.Sprintf("/proc/%d", pm))
	if st.Sys().(*syscall.Stat_t).Uid != uint32(uid) {
		t.Errorf("postmaster uid %d", st.Sys().(*syscall.Stat_t).Uid)
	}
	pgTestQuery(t, p.Env()["DATABASE_URL"], "SELECT count(*)::text FROM mine")
}

// TestPostgresStopForced: when ctx ends before the fast shutdown does, the
// server is taken down hard, and the next start recovers.
func TestPostgresStopForced(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	p, _ := newTestPostgres(t, Options{Dir: t.TempDir()})
	pgTestStart(t, p)
	dsn := p.Env()["DATABASE_URL"]
	pgTestExec(t, dsn, "CREATE TABLE t (n int)", "INSERT INTO t VALUES (1)")
	srv := p.srv
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Stop(ctx); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("Stop(canceled) = %v", err)
	}
	if srv.running() || len(pgServerProcs(srv.dataDir)) > 0 {
		t.Fatal("server processes left after a forced stop")
	}
	pgTestStart(t, p)
	if got := pgTestQuery(t, dsn, "SELECT n::text FROM t"); got != "1" {
		t.Errorf("row = %s", got)
	}
}
