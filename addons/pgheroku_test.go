package addons

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Tests of what Heroku Postgres promises apps: SSL, a database-owner role
// that is no superuser, the allowed extensions, pg_stat_statements, and a
// server that comes back after a crash.

// pgTestSSL reports whether the connection behind dsn uses SSL, as the
// server sees it.
func pgTestSSL(t *testing.T, dsn string) string {
	t.Helper()
	return pgTestQuery(t, dsn, "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
}

func TestPostgresSSL(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	dir := t.TempDir()
	p, _ := newTestPostgres(t, Options{Dir: dir})
	pgTestStart(t, p)
	dsn := p.Env()["DATABASE_URL"]
	if strings.Contains(dsn, "sslmode") {
		t.Errorf("DATABASE_URL carries sslmode, unlike Heroku's: %s", dsn)
	}
	// pgx: require and prefer (the default of libpq and pgx) use SSL,
	// disable does not, and all three work.
	for mode, want := range map[string]string{"require": "true", "prefer": "true", "disable": "false"} {
		if got := pgTestSSL(t, dsn+"?sslmode="+mode); got != want {
			t.Errorf("sslmode=%s: ssl = %s, want %s", mode, got, want)
		}
	}
	if got := pgTestSSL(t, dsn); got != "true" {
		t.Errorf("DATABASE_URL as it is: ssl = %s", got)
	}
	// The certificate comes from the app's own CA, for 127.0.0.1.
	ca := filepath.Join(dir, "tls", "ca.pem")
	if got := pgTestSSL(t, dsn+"?sslmode=verify-full&sslrootcert="+ca); got != "true" {
		t.Errorf("verify-full against the app's CA: ssl = %s", got)
	}

	// psql "$DATABASE_URL?sslmode=require", as Rails and Django users do.
	psql, err := pgFindPsql(p.bindir)
	if err != nil {
		needed(t, "%v", err)
	}
	out, err := exec.Command(psql, "-X", "-Atc", "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", dsn+"?sslmode=require").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "t" {
		t.Errorf("psql sslmode=require: %v: %s", err, out)
	}
}

func TestPostgresAppRoleIsNoSuperuser(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	server := t.TempDir()
	p, _ := newTestPostgres(t, Options{Dir: t.TempDir()})
	p.ServerDir = server
	other, _ := newTestPostgres(t, Options{Dir: t.TempDir(), As: "OTHER"})
	other.ServerDir = server
	pgTestStart(t, p)
	pgTestStart(t, other)
	dsn := p.Env()["DATABASE_URL"]

	if got := pgTestQuery(t, dsn, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user"); got != "false" {
		t.Fatalf("the app's role is a superuser: rolsuper = %s", got)
	}
	// It owns its database, as on Heroku, and can do what an owner does.
	if got := pgTestQuery(t, dsn, "SELECT (pg_get_userbyid(datdba) = current_user)::text FROM pg_database WHERE datname = current_database()"); got != "true" {
		t.Errorf("the app's role does not own its database")
	}
	pgTestExec(t, dsn, "CREATE SCHEMA app", "CREATE TABLE app.t (id serial PRIMARY KEY, v text)", "INSERT INTO app.t (v) VALUES ('x')")

	// A file only root may read: neither the role nor the server itself
	// (no capability) reads it.
	secretDir := t.TempDir()
	secret := filepath.Join(secretDir, "secret")
	if err := os.WriteFile(secret, []byte("root only\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := pgTestConnect(t, dsn)
	ctx := context.Background()
	for _, q := range []string{
		"SELECT pg_read_file('" + secret + "')",
		"CREATE TEMP TABLE leak (l text); COPY leak FROM PROGRAM 'cat " + secret + "'",
		"CREATE TEMP TABLE leak2 (l text); COPY leak2 FROM '" + secret + "'",
		"SELECT pg_ls_dir('/')",
		"ALTER SYSTEM SET fsync = off",
		"CREATE ROLE intruder LOGIN SUPERUSER",
	} {
		if _, err := conn.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "denied") && !strings.Contains(err.Error(), "superuser") {
			t.Errorf("%s: %v, want permission denied", q, err)
		}
	}
	// Another add-on's database on the same server is out of reach.
	otherURL := other.Env()["OTHER_URL"]
	u := strings.Replace(otherURL, other.Role()+":"+other.password, p.Role()+":"+p.password, 1)
	if c, err := pgx.Connect(ctx, u); err == nil {
		c.Close(ctx)
		t.Errorf("the app's role connects to another add-on's database")
	}

	if os.Geteuid() != 0 {
		return
	}
	// As root: the server runs as another account with no capability.
	pm, _ := pgTestPostmaster(p)
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pm) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		for _, c := range []string{"CapInh:", "CapPrm:", "CapEff:", "CapAmb:"} {
			if strings.HasPrefix(line, c) && strings.Trim(strings.TrimPrefix(line, c), "\t 0") != "" {
				t.Errorf("postmaster %d has capabilities: %s", pm, line)
			}
		}
	}
	admin := pgTestAdminURL(p)
	var body string
	err = pgTestConnect(t, admin).QueryRow(ctx, "SELECT pg_read_file('"+secret+"')").Scan(&body)
	if err == nil || !strings.Contains(err.Error(), "Permission denied") {
		t.Errorf("the server reads a root-only file: %q, %v", body, err)
	}
}

// pgTestAdminURL is dynobox's own superuser connection to p's database.
func pgTestAdminURL(p *Postgres) string {
	return "postgres://" + pgAdmin + ":" + p.srv.password + "@127.0.0.1:" + strconv.Itoa(p.srv.port) + "/" + p.Database() + "?sslmode=disable"
}

func TestPostgresExtensions(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	p, _ := newTestPostgres(t, Options{Dir: t.TempDir()})
	pgTestStart(t, p)
	conn := pgTestConnect(t, p.Env()["DATABASE_URL"])
	ctx := context.Background()
	// Heroku's allow-list that PostgreSQL's trusted extensions cover.
	exts := []string{"hstore", "citext", "pgcrypto", "uuid-ossp", "pg_trgm", "btree_gin", "btree_gist",
		"fuzzystrmatch", "unaccent", "tablefunc", "ltree", "intarray", "cube"}
	for _, e := range exts {
		if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS "`+e+`"`); err != nil {
			t.Errorf("CREATE EXTENSION %s: %v", e, err)
		}
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT length(uuid_generate_v4()::text) + levenshtein('kitten', 'sitting')").Scan(&n); err != nil || n != 39 {
		t.Errorf("extension functions: %d, %v", n, err)
	}
	// The rest of Heroku's list, which PostgreSQL does not trust, through
	// pgextwlist (Heroku's own mechanism); the role stays no superuser, and
	// extensions off the list are refused.
	if !pgHasLibrary(p.bindir, "pgextwlist") {
		needed(t, "pgextwlist not installed with %s (apt-get install postgresql-15-pgextwlist)", p.bindir)
	} else {
		for _, e := range []string{"earthdistance", "pgrowlocks", "pgstattuple", "postgres_fdw", "dblink", "moddatetime", "sslinfo", "amcheck", "bloom"} {
			if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS "`+e+`"`); err != nil {
				t.Errorf("CREATE EXTENSION %s (on Heroku's list): %v", e, err)
			}
		}
		if err := conn.QueryRow(ctx, "SELECT round(earth_distance(ll_to_earth(0, 0), ll_to_earth(0, 1)))::int").Scan(&n); err != nil || n != 111320 { // one degree on earthdistance's sphere (radius 6378168 m)
			t.Errorf("earthdistance: %d, %v", n, err)
		}
		for _, e := range []string{"file_fdw", "adminpack", "pageinspect"} {
			if _, err := conn.Exec(ctx, `CREATE EXTENSION "`+e+`"`); err == nil {
				t.Errorf("CREATE EXTENSION %s (off Heroku's list) succeeded for the app's role", e)
			}
		}
		var super bool
		if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || super {
			t.Errorf("the app's role is a superuser after creating extensions: %v %v", super, err)
		}
		if _, err := conn.Exec(ctx, "SELECT pg_read_file('/etc/hostname')"); err == nil {
			t.Error("pg_read_file works for the app's role")
		}
	}
	// pg_stat_statements is preloaded and readable, as on Heroku.
	var calls int64
	err := conn.QueryRow(ctx, "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE query LIKE '%levenshtein%'").Scan(&calls)
	if err != nil || calls < 1 {
		t.Errorf("pg_stat_statements: calls %d, %v", calls, err)
	}
}

// TestPostgresMigratesSuperuserData: a data directory of a dynobox from
// before roles — the database and its tables owned by the admin, which
// apps connected as — is handed to the app's role on start.
func TestPostgresMigratesSuperuserData(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	dir := t.TempDir()
	p, _ := newTestPostgres(t, Options{Dir: dir})
	pgTestStart(t, p)
	db := p.Database()
	admin := pgTestAdminURL(p)
	pgTestExec(t, strings.Replace(admin, "/"+db+"?", "/postgres?", 1),
		"DROP DATABASE "+db, "DROP ROLE "+p.Role(), "CREATE DATABASE "+db)
	pgTestExec(t, admin,
		"CREATE TABLE notes (id serial PRIMARY KEY, body text)",
		"INSERT INTO notes (body) VALUES ('old')",
		"CREATE TABLE ids (id int GENERATED ALWAYS AS IDENTITY, n int)",
		"CREATE SEQUENCE counter",
		"CREATE VIEW v AS SELECT body FROM notes",
		"CREATE MATERIALIZED VIEW mv AS SELECT count(*) AS n FROM notes",
		"CREATE TYPE mood AS ENUM ('ok', 'sad')",
		"CREATE DOMAIN posint AS int CHECK (VALUE > 0)",
		"CREATE FUNCTION twice(int) RETURNS int LANGUAGE sql AS 'SELECT $1 * 2'",
		"CREATE SCHEMA reports",
		"CREATE TABLE reports.r (n int)")
	pgTestStop(t, p)
	os.Remove(filepath.Join(dir, pgRolePasswordFile))

	pgTestStart(t, p)
	dsn := p.Env()["DATABASE_URL"]
	pgTestExec(t, dsn,
		"INSERT INTO notes (body) VALUES ('new')",
		"INSERT INTO ids (n) VALUES (1)",
		"SELECT nextval('counter')",
		"REFRESH MATERIALIZED VIEW mv",
		"ALTER TYPE mood ADD VALUE 'glad'",
		"ALTER DOMAIN posint DROP CONSTRAINT IF EXISTS x",
		"CREATE OR REPLACE FUNCTION twice(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + $1'",
		"CREATE TABLE reports.r2 (n int)",
		"DROP TABLE reports.r",
		"ALTER TABLE notes ADD COLUMN at timestamptz")
	if got := pgTestQuery(t, dsn, "SELECT string_agg(body, ',' ORDER BY id) || twice(2) FROM v JOIN notes USING (body)"); got != "old,new4" {
		t.Errorf("after migration: %q", got)
	}
	if got := pgTestQuery(t, dsn, "SELECT rolsuper::text FROM pg_roles WHERE rolname = current_user"); got != "false" {
		t.Errorf("rolsuper = %s", got)
	}
}

// TestPostgresRestartsAfterCrash: a postmaster killed with SIGKILL is
// noticed at once, logged, shown as crashed and restarted with its data;
// a second crash soon after waits before the restart.
func TestPostgresRestartsAfterCrash(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	p, log := newTestPostgres(t, Options{Dir: t.TempDir()})
	// The second crash in a row waits long enough to be seen crashed.
	p.restartDelay = func(crash int) time.Duration {
		if crash <= 1 {
			return 0
		}
		return 3 * time.Second
	}
	// In a Set, as dynobox runs add-ons: its List is what `dynobox addons`
	// and the dashboard show.
	set := NewSet(p)
	defer runSet(t, set)()
	shown := func() string { return set.List()[0].State }
	dsn := p.Env()["DATABASE_URL"]
	pgTestExec(t, dsn, "CREATE TABLE kept (n int)", "INSERT INTO kept VALUES (11)")

	waitUp := func(old int) int {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			p.srv.mu.Lock()
			pid := 0
			if p.srv.running() {
				pid = p.srv.cmd.Process.Pid
			}
			p.srv.mu.Unlock()
			if pid != 0 && pid != old && p.State() == StateUp {
				return pid
			}
			if time.Now().After(deadline) {
				t.Fatalf("not restarted; state %s", p.State())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	first, _ := pgTestPostmaster(p)
	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	second := waitUp(first)
	if !log.has("exited unexpectedly") || !log.has("postgres is up again") {
		t.Errorf("crash and restart not logged:\n%s", log)
	}
	if got := pgTestQuery(t, dsn, "SELECT n::text FROM kept"); got != "11" {
		t.Errorf("after the restart: %q", got)
	}

	syscall.Kill(second, syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for shown() != StateCrashed {
		if time.Now().After(deadline) {
			t.Fatalf("a second crash is not shown: state %s", shown())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := pgx.Connect(context.Background(), dsn); err == nil {
		t.Error("connected while crashed")
	}
	waitUp(second)
	if shown() != StateUp {
		t.Errorf("shown as %s after the restart", shown())
	}
	if !log.has("restarting postgres in 3s") {
		t.Errorf("no backoff logged:\n%s", log)
	}
	if got := pgTestQuery(t, dsn, "SELECT n::text FROM kept"); got != "11" {
		t.Errorf("after the second restart: %q", got)
	}
	// A stop is no crash: nothing restarts it.
	pgTestStop(t, p)
	if p.State() != StateStopped {
		t.Errorf("state after stop: %s", p.State())
	}
}

// TestPostgresDestroy: the database and its role go; the server's other
// databases stay; a new add-on of the same name starts empty.
func TestPostgresDestroy(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	server, dir := t.TempDir(), t.TempDir()
	keep, _ := newTestPostgres(t, Options{Dir: t.TempDir()})
	keep.ServerDir = server
	gone, _ := newTestPostgres(t, Options{Dir: dir, As: "ANALYTICS"})
	gone.ServerDir = server
	pgTestStart(t, keep)
	pgTestStart(t, gone)
	pgTestExec(t, keep.Env()["DATABASE_URL"], "CREATE TABLE stays (n int)")
	old := gone.Env()["ANALYTICS_URL"]
	pgTestExec(t, old, "CREATE TABLE old (n int)")
	client := pgTestConnect(t, old) // an app still connected

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := gone.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Exec(ctx, "SELECT 1"); err == nil {
		t.Error("a client of the destroyed database is still served")
	}
	admin := strings.Replace(pgTestAdminURL(keep), "/"+keep.Database()+"?", "/postgres?", 1)
	if got := pgTestQuery(t, admin, "SELECT count(*)::text FROM pg_database WHERE datname = 'analytics'"); got != "0" {
		t.Error("database left after Destroy")
	}
	if got := pgTestQuery(t, admin, "SELECT count(*)::text FROM pg_roles WHERE rolname = 'u_analytics'"); got != "0" {
		t.Error("role left after Destroy")
	}
	pgTestQuery(t, keep.Env()["DATABASE_URL"], "SELECT count(*)::text FROM stays")

	// dynobox removes the add-on's directory; a new one of that name is new.
	os.RemoveAll(dir)
	again, _ := newTestPostgres(t, Options{Dir: dir, As: "ANALYTICS"})
	again.ServerDir = server
	pgTestStart(t, again)
	var pgErr *pgconn.PgError
	conn := pgTestConnect(t, again.Env()["ANALYTICS_URL"])
	if _, err := conn.Exec(ctx, "SELECT * FROM old"); !errors.As(err, &pgErr) || pgErr.Code != "42P01" {
		t.Errorf("the old table came back: %v", err)
	}
}

// TestPostgresServerLogLabel: the shared server's lines go to its own log,
// whichever add-on started it; the add-ons' logs get only their own lines.
func TestPostgresServerLogLabel(t *testing.T) {
	t.Parallel()
	pgTestNeedBinaries(t)
	slowServer(t)
	server := t.TempDir()
	srvLog, aLog, bLog := &pgTestLog{}, &pgTestLog{}, &pgTestLog{}
	a, _ := newTestPostgres(t, Options{Dir: t.TempDir(), Log: aLog.add})
	a.ServerDir, a.ServerLog = server, srvLog.add
	b, _ := newTestPostgres(t, Options{Dir: t.TempDir(), As: "B", Log: bLog.add})
	b.ServerDir, b.ServerLog = server, srvLog.add
	pgTestStart(t, b)
	pgTestStart(t, a)
	pgTestStop(t, b)
	pgTestStop(t, a)
	if !srvLog.has("ready to accept connections") || !srvLog.has("database system is shut down") {
		t.Errorf("server log:\n%s", srvLog)
	}
	if aLog.has("LOG:") || bLog.has("LOG:") {
		t.Errorf("server lines in an add-on's log:\na: %s\nb: %s", aLog, bLog)
	}
}
