package addons

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Helpers of the Postgres add-on's tests: a started add-on, its log, SQL
// against it, and the test binary as a helper process.

// pgTestLog collects an add-on's log lines; they are printed if the test
// fails (t.Log cannot be called once a test has finished, and server lines
// arrive asynchronously).
type pgTestLog struct {
	mu    sync.Mutex
	lines []string
}

func newPgTestLog(t testing.TB) *pgTestLog {
	l := &pgTestLog{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("postgres log:\n%s", l.String())
		}
	})
	return l
}

func (l *pgTestLog) add(line string) {
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
}

func (l *pgTestLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func (l *pgTestLog) has(sub string) bool {
	return strings.Contains(l.String(), sub)
}

func (l *pgTestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// pgTestNeedBinaries skips when no PostgreSQL is installed (CI installs
// Debian's postgresql package).
func pgTestNeedBinaries(t testing.TB) {
	t.Helper()
	if _, err := (pgFinder{noDownload: true, log: func(string) {}}).find(context.Background(), "", ""); err != nil {
		needed(t, "no PostgreSQL binaries (apt-get install postgresql): %v", err)
	}
}

// newTestPostgres returns an add-on in dir that is stopped when the test ends.
func newTestPostgres(t testing.TB, opts Options) (*Postgres, *pgTestLog) {
	t.Helper()
	l := newPgTestLog(t)
	if opts.Log == nil {
		opts.Log = l.add
	}
	p := NewPostgres(opts)
	p.NoDownload = true // tests never download
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return p, l
}

func pgTestStart(t testing.TB, p *Postgres) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := p.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
}

// pgTestPostmaster is the running postmaster's pid and the channel closed
// when it exits, read under the server's lock: a restart replaces both.
func pgTestPostmaster(p *Postgres) (int, chan struct{}) {
	p.srv.mu.Lock()
	defer p.srv.mu.Unlock()
	return p.srv.cmd.Process.Pid, p.srv.done
}

func pgTestStop(t testing.TB, p *Postgres) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func pgTestConnect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func pgTestExec(t testing.TB, dsn string, sqls ...string) {
	t.Helper()
	conn := pgTestConnect(t, dsn)
	for _, q := range sqls {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	conn.Close(context.Background())
}

func pgTestQuery(t testing.TB, dsn, q string) string {
	t.Helper()
	conn := pgTestConnect(t, dsn)
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(context.Background(), q).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}

// runPgHelper is the dynobox that TestPostgresKill9 kills (run by TestMain).
func runPgHelper(dir string) {
	p := NewPostgres(Options{Dir: dir, Log: func(l string) { fmt.Fprintln(os.Stderr, l) }})
	p.NoDownload = true
	if os.Getenv("DYNOBOX_PG_TEST_NO_DEATHSIG") != "" {
		p.deathSig = 0 // as if dynobox had died where Pdeathsig does not exist
	}
	if err := p.Start(context.Background()); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("READY", p.Env()["DATABASE_URL"], p.srv.cmd.Process.Pid)
	io.Copy(io.Discard, os.Stdin) // until killed
	os.Exit(0)
}

// pgTestHelper starts a dynobox-like process running the add-on in dir and
// returns it, the URL and the postmaster's pid.
func pgTestHelper(t *testing.T, dir string, keepServer bool) (*exec.Cmd, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "DYNOBOX_PG_TEST_HELPER="+dir)
	if keepServer {
		cmd.Env = append(cmd.Env, "DYNOBOX_PG_TEST_NO_DEATHSIG=1")
	}
	stderr := &pgTestLog{}
	cmd.Stderr = pgLineWriter(stderr.add)
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("helper stderr:\n%s", stderr.String())
		}
	})
	line := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if f := strings.Fields(s.Text()); len(f) > 0 && (f[0] == "READY" || f[0] == "ERROR") {
				line <- s.Text()
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case l := <-line:
		f := strings.Fields(l)
		if f[0] != "READY" || len(f) != 3 {
			t.Fatalf("helper: %s", l)
		}
		pid, _ := strconv.Atoi(f[2])
		return cmd, f[1], pid
	case <-time.After(3 * time.Minute): // initdb alone took over a minute on a busy machine
		t.Fatal("helper did not start postgres")
	}
	return nil, "", 0
}

// pgLineWriter adapts a per-line function to an io.Writer.
type pgLineWriter func(string)

func (w pgLineWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w(l)
	}
	return len(b), nil
}
