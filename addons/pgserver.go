package addons

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/dynobox/dynobox/internal/proc"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lib/pq"
)

const (
	// pgAdmin is the superuser dynobox keeps for itself (creating
	// databases and roles); apps get a database-owner role each
	// (pgRoleName), never this one. Data directories of dynobox versions
	// before roles existed had apps connect as it: migrateOwner.
	pgAdmin = "dynobox"
	// pgReadyLine is what the postmaster logs (with lc_messages=C) once
	// it accepts connections: readiness without polling.
	pgReadyLine = "database system is ready to accept connections"
	// pgStartLimit bounds a start whose ctx has no deadline.
	pgStartLimit = 2 * time.Minute
	// pgSockMax is the longest unix socket path (sun_path less its NUL).
	pgSockMax = 107
)

// pgServer is one PostgreSQL server: a data directory and a postmaster that
// dynobox supervises as its own child. Add-ons whose ServerDir is the same
// share it, each with its own database (pgAcquire/release).
type pgServer struct {
	dir       string // port, password, bindir files; data/ and run/ inside
	dataDir   string
	ephemeral bool
	deathSig  syscall.Signal

	mu      sync.Mutex // serialises start, stop and refs
	refs    int
	removed bool // out of the registry: pgAcquire must make a new one

	// Set by start, read-only while running.
	bin      pgBinaries
	run      *pgRunAs
	port     int
	password string
	sockDir  string
	tmpSock  bool // sockDir is ours under /tmp, removed at stop
	log      func(string)
	cmd      *exec.Cmd
	done     chan struct{} // closed once the postmaster has exited
	exitErr  error         // valid after done
	stopping atomic.Bool
	tail     pgTail

	// Supervision: a postmaster that exits on its own is restarted with
	// backoff until the last add-on releases the server.
	phase        atomic.Value  // string: StateUp, StateCrashed, StateStarting
	quit         chan struct{} // closed by stop: no more restarts
	upSince      time.Time
	crashes      int // in a row, each within pgStableUptime of its start
	restartDelay func(crash int) time.Duration
	preload      bool // pg_stat_statements is in shared_preload_libraries
	extwlist     bool // pgextwlist is too: the app's role creates Heroku's extensions
}

// pgStableUptime is how long a server must run for its next crash to be
// restarted at once again (Heroku's cool-off resets the same way).
const pgStableUptime = time.Minute

// pgRestartDelay is the wait before restart number crash (1-based) of a
// row: the first at once, then 1 s, 2 s, 4 s … up to 30 s.
func pgRestartDelay(crash int) time.Duration {
	if crash <= 1 {
		return 0
	}
	d := time.Second << min(crash-2, 5)
	return min(d, 30*time.Second)
}

var pgServers = struct {
	sync.Mutex
	m map[string]*pgServer // by data directory
}{m: map[string]*pgServer{}}

// pgAcquire returns the running server for p, starting it (or restarting
// it, if it died) when needed. Each success must be paired with release.
func pgAcquire(ctx context.Context, p *Postgres) (*pgServer, error) {
	dir, dataDir, err := p.serverPaths(true)
	if err != nil {
		return nil, err
	}
	for {
		pgServers.Lock()
		s := pgServers.m[dataDir]
		if s == nil {
			s = &pgServer{dir: dir, dataDir: dataDir, ephemeral: p.opts.Ephemeral, deathSig: p.deathSig,
				log: p.serverLog(), restartDelay: p.restartDelay}
			if s.restartDelay == nil {
				s.restartDelay = pgRestartDelay
			}
			pgServers.m[dataDir] = s
		}
		pgServers.Unlock()

		s.mu.Lock()
		if s.removed {
			s.mu.Unlock()
			continue
		}
		if !s.running() {
			if err := s.start(ctx, p); err != nil {
				if s.refs == 0 {
					s.forget()
				}
				s.mu.Unlock()
				return nil, err
			}
		}
		s.refs++
		s.mu.Unlock()
		return s, nil
	}
}

// release drops one user; the last one stops the server.
func (s *pgServer) release(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refs--; s.refs > 0 {
		return nil
	}
	s.forget()
	return s.stop(ctx)
}

// forget takes s out of the registry; s.mu is held.
func (s *pgServer) forget() {
	s.removed = true
	pgServers.Lock()
	if pgServers.m[s.dataDir] == s {
		delete(pgServers.m, s.dataDir)
	}
	pgServers.Unlock()
}

// ephemeralRoot holds an ephemeral server's data directory; the persistent
// one (dir/data) is never touched by an ephemeral run.
func (s *pgServer) ephemeralRoot() string { return filepath.Join(s.dir, "ephemeral") }

func (s *pgServer) running() bool {
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// start brings the server up: recover from an earlier run, find binaries,
// initdb if new, pick the port, run postgres, wait for readiness.
func (s *pgServer) start(ctx context.Context, p *Postgres) error {
	if err := pgStopLeftover(s.dataDir, filepath.Join(s.dir, "run"), s.log); err != nil {
		return err
	}
	if s.ephemeral {
		// Throwaway data: whatever an earlier ephemeral run left goes.
		if err := os.RemoveAll(s.ephemeralRoot()); err != nil {
			return fmt.Errorf("remove old ephemeral data: %w", err)
		}
		if err := os.MkdirAll(s.ephemeralRoot(), 0o700); err != nil {
			return err
		}
	}
	want, err := pgDataMajor(s.dataDir)
	if err != nil {
		return err
	}
	recorded, _ := os.ReadFile(filepath.Join(s.dir, "bindir"))
	if s.bin, err = p.finder().find(ctx, want, strings.TrimSpace(string(recorded))); err != nil {
		return err
	}
	if s.run, err = pgPickRunAs(s.dataDir, s.log); err != nil {
		return err
	}
	if s.password, err = pgSecret(filepath.Join(s.dir, "password")); err != nil {
		return err
	}
	if want == "" {
		if err := s.initdb(ctx); err != nil {
			return err
		}
	} else if err := s.ensureOwner(); err != nil {
		return err
	}
	if !s.ephemeral {
		if err := os.WriteFile(filepath.Join(s.dir, "bindir"), []byte(s.bin.dir+"\n"), 0o600); err != nil {
			return err
		}
	}
	if err := s.writeTLS(); err != nil {
		return err
	}
	s.preload = pgHasLibrary(s.bin.dir, "pg_stat_statements")
	if !s.preload {
		s.log("pg_stat_statements is not installed with these binaries (PostgreSQL's contrib); it stays off")
	}
	s.extwlist = pgHasLibrary(s.bin.dir, "pgextwlist")
	if !s.extwlist {
		s.log("pgextwlist is not installed with these binaries (Debian: postgresql-" + s.bin.major + "-pgextwlist): the app's role creates PostgreSQL's trusted extensions only")
	}
	if err := s.makeSockDir(); err != nil {
		return err
	}
	s.quit, s.crashes = make(chan struct{}), 0
	if err := s.launchWithPort(ctx); err != nil {
		if s.tmpSock {
			os.RemoveAll(s.sockDir)
		}
		return err
	}
	return nil
}

// pgDataMajor returns the major version of the cluster in dataDir, or ""
// when there is none yet. It never deletes anything: a directory that is
// neither empty nor a cluster is an error.
func pgDataMajor(dataDir string) (string, error) {
	v, err := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
	if err == nil {
		return strings.TrimSpace(string(v)), nil
	}
	entries, derr := os.ReadDir(dataDir)
	if errors.Is(derr, os.ErrNotExist) || (derr == nil && len(entries) == 0) {
		os.Remove(dataDir)
		return "", nil
	}
	return "", fmt.Errorf("%s is not a PostgreSQL data directory (no PG_VERSION); move it away", dataDir)
}

// pgSecret reads the server's password, creating a random one (0600).
func pgSecret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 16)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	pw := hex.EncodeToString(buf) // URL-safe as it is
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save postgres password: %w", err)
	}
	return pw, nil
}

// initdb creates the cluster in a scratch directory and renames it into
// place, so an interrupted initdb never leaves a half-made data directory.
func (s *pgServer) initdb(ctx context.Context) error {
	began := time.Now()
	tmp := s.dataDir + ".initdb"
	pwfile := s.dataDir + ".pw"
	defer os.Remove(pwfile)
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(pwfile, []byte(s.password+"\n"), 0o600); err != nil {
		return err
	}
	if err := errors.Join(pgChown(tmp, s.run), pgChown(pwfile, s.run)); err != nil {
		return err
	}
	auth := "scram-sha-256"
	if s.bin.major == "9.6" {
		auth = "md5"
	}
	initdb := func(locale string) ([]byte, error) {
		dataArg, pwArg := tmp, pwfile
		cmd := s.command(ctx, "initdb")
		if s.viaFD() {
			files, err := pgOpenAll(tmp, pwfile)
			if err != nil {
				return nil, err
			}
			defer pgCloseAll(files)
			cmd.ExtraFiles = files
			dataArg, pwArg = "/proc/self/fd/3", "/proc/self/fd/4"
		}
		cmd.Args = append(cmd.Args, "-D", dataArg, "-U", pgAdmin, "--pwfile="+pwArg, "--auth="+auth, "--encoding=UTF8",
			// Without fsync initdb takes under a second instead of many on slow
			// disks; the kernel writes the files back within seconds anyway.
			"--no-sync", "--locale="+locale)
		return cmd.CombinedOutput()
	}
	out, err := initdb("C.UTF-8")
	if err != nil && strings.Contains(string(out), "invalid locale") {
		os.RemoveAll(tmp)
		if err := errors.Join(os.Mkdir(tmp, 0o700), pgChown(tmp, s.run)); err != nil {
			return err
		}
		out, err = initdb("C")
	}
	if err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("initdb (PostgreSQL %s in %s, as %s): %v: %s", s.bin.version, s.bin.dir, s.runName(), err, pgLastLines(string(out), 5))
	}
	if err := os.Rename(tmp, s.dataDir); err != nil {
		return err
	}
	s.log(fmt.Sprintf("created a PostgreSQL %s database cluster in %s (%s binaries in %s) in %s",
		s.bin.version, s.dataDir, s.bin.source, s.bin.dir, time.Since(began).Round(time.Millisecond)))
	return nil
}

// ensureOwner gives a root-owned data directory (copied in, say) to the
// account that runs the server; PostgreSQL insists on owning it.
func (s *pgServer) ensureOwner() error {
	if s.run == nil {
		return nil
	}
	st, err := os.Stat(s.dataDir)
	if err != nil {
		return err
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Uid == s.run.uid {
		return nil
	}
	s.log("giving " + s.dataDir + " to user " + s.run.name)
	return pgChownTree(s.dataDir, s.run)
}

func (s *pgServer) runName() string {
	if s.run == nil {
		return "the current user"
	}
	return "user " + s.run.name
}

// command prepares a PostgreSQL program to run as the server's account,
// dying with dynobox.
func (s *pgServer) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.bin.dir, name), args...)
	cmd.Env = pgServerEnv()
	cmd.Dir = pgCwd
	cmd.SysProcAttr = pgSysProcAttr(s.run, syscall.SIGKILL)
	return cmd
}

// pgCwd is where PostgreSQL programs start: a directory every account may
// enter. They find their own executable by changing to their working
// directory and back, and log "could not change directory … Permission
// denied" when it is dynobox's (the app's, private to root).
const pgCwd = "/"

// pgServerEnv is dynobox's environment without what would redirect
// PostgreSQL programs (PGDATA, PGPORT …) or mark them as a dyno: the
// runner's session sweep would SIGTERM the server (a "smart" shutdown that
// waits for clients) after a crash of dynobox.
func pgServerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "DYNOBOX_SESSION=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// makeSockDir prepares the unix socket directory: run/ in the server's
// directory, or a private directory under /tmp when that path would be too
// long for a unix socket.
func (s *pgServer) makeSockDir() error {
	s.sockDir, s.tmpSock = filepath.Join(s.dir, "run"), false
	if len(s.sockDir+"/.s.PGSQL.65535") > pgSockMax || strings.ContainsAny(s.sockDir, ", \"") {
		dir, err := os.MkdirTemp("", "dynobox-pg-")
		if err != nil {
			return err
		}
		s.sockDir, s.tmpSock = dir, true
	} else if err := os.MkdirAll(s.sockDir, 0o700); err != nil {
		return err
	}
	return pgChown(s.sockDir, s.run)
}

// launchWithPort starts postgres on the remembered port, or on a new one
// when another process holds it (now, or by the time postgres binds).
func (s *pgServer) launchWithPort(ctx context.Context) error {
	portFile := filepath.Join(s.dir, "port")
	old := 0
	if b, err := os.ReadFile(portFile); err == nil {
		old, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	s.port = old
	for attempt := 0; ; attempt++ {
		if s.port <= 0 || !pgPortFree(s.port) {
			p, err := pgFreePort()
			if err != nil {
				return err
			}
			if s.port > 0 {
				s.log(fmt.Sprintf("port %d is in use by another process; using port %d (DATABASE_URL changes)", s.port, p))
			}
			s.port = p
		}
		if s.port != old {
			if err := os.WriteFile(portFile, []byte(strconv.Itoa(s.port)+"\n"), 0o600); err != nil {
				return err
			}
			old = s.port
		}
		err := s.launch(ctx)
		if err == nil || attempt == 2 || !s.tail.contains("could not create any TCP/IP sockets") {
			return err
		}
		s.port = 0 // taken between our check and postgres' bind
	}
}

func pgPortFree(port int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func pgFreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// launch runs the postmaster and waits until it accepts connections.
func (s *pgServer) launch(ctx context.Context) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	dataArg, sockArg := s.dataDir, s.sockDir
	var files []*os.File
	if s.viaFD() {
		if files, err = pgOpenAll(s.dataDir, s.sockDir); err != nil {
			r.Close()
			w.Close()
			return err
		}
		defer pgCloseAll(files)
		dataArg, sockArg = "/proc/self/fd/3", "/proc/self/fd/4"
	}
	args := []string{
		"-D", dataArg,
		"-p", strconv.Itoa(s.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + sockArg,
		"-c", "lc_messages=C", // pgReadyLine must be English
		"-c", "log_destination=stderr",
		"-c", "logging_collector=off",
		"-c", "log_line_prefix=[%p] ", // the log bus adds the time
		"-c", "cluster_name=dynobox",
		// Heroku Postgres requires SSL; here it is offered (sslmode
		// prefer and require use it) and not forced (disable works). The
		// files are in the data directory (writeTLS), where relative
		// paths point.
		"-c", "ssl=on",
		"-c", "ssl_cert_file=" + pgCertFile,
		"-c", "ssl_key_file=" + pgKeyFile,
	}
	var preload []string
	if s.preload {
		// As on Heroku: apps and tools read pg_stat_statements.
		preload = append(preload, "pg_stat_statements")
	}
	if s.extwlist {
		// As on Heroku, which uses the same module: the app's role, no
		// superuser, creates the extensions of Heroku's list, trusted by
		// PostgreSQL or not (earthdistance, postgres_fdw, postgis…).
		preload = append(preload, "pgextwlist")
		args = append(args, "-c", "extwlist.extensions="+strings.Join(herokuExtensions, ","))
	}
	if len(preload) > 0 {
		args = append(args, "-c", "shared_preload_libraries="+strings.Join(preload, ","))
	}
	cmd := exec.Command(filepath.Join(s.bin.dir, "postgres"), args...)
	cmd.ExtraFiles = files
	cmd.Dir = pgCwd
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = pgServerEnv()
	cmd.SysProcAttr = pgSysProcAttr(s.run, s.deathSig)
	s.cmd, s.done, s.exitErr = cmd, make(chan struct{}), nil
	s.stopping.Store(false)
	s.tail.reset()
	ready := make(chan struct{})
	go pgReadLog(r, &s.tail, s.log, ready)

	started := make(chan error, 1)
	go s.supervise(cmd, s.done, ready, started)
	err = <-started
	w.Close() // the children hold their own copies
	if err != nil {
		return fmt.Errorf("start postgres (%s) as %s: %w", s.bin.dir, s.runName(), err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pgStartLimit)
		defer cancel()
	}
	select {
	case <-ready:
		s.phase.Store(StateUp)
		s.upSince = time.Now()
		return nil
	case <-s.done:
		return fmt.Errorf("postgres exited during startup (%v): %s", s.exitErr, s.tail.String())
	case <-ctx.Done():
		s.kill()
		return fmt.Errorf("postgres did not accept connections: %w; last log lines: %s", ctx.Err(), s.tail.String())
	}
}

// supervise starts the postmaster and waits for it. Pdeathsig fires when
// the thread that forked the child exits, not the process, so the
// goroutine keeps its thread for the child's lifetime.
func (s *pgServer) supervise(cmd *exec.Cmd, done, ready chan struct{}, started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Through the process-wide reaper: dynobox reaps orphans as a child
	// subreaper, and must leave the postmaster's exit status to this Wait.
	if err := proc.StartChild(func() (int, error) {
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		return cmd.Process.Pid, nil
	}); err != nil {
		started <- err
		close(done)
		return
	}
	started <- nil
	err := cmd.Wait()
	proc.ChildDone(cmd.Process.Pid)
	s.exitErr = err
	// Only a server that was up is restarted here; one failing its
	// startup is its starter's error to report (or retry).
	crashed := false
	if !s.stopping.Load() {
		s.log(fmt.Sprintf("postgres (pid %d) exited unexpectedly: %v", cmd.Process.Pid, err))
		select {
		case <-ready:
			crashed = true
			s.phase.Store(StateCrashed)
		default:
		}
	}
	close(done)
	if crashed {
		go s.restart()
	}
}

// restart brings a crashed server back, as dynos are: at once after a
// crash that followed a stable run, then with a growing delay. It gives
// up only when the server is released (stop closes quit).
func (s *pgServer) restart() {
	s.mu.Lock()
	quit := s.quit
	if s.upSince.IsZero() || time.Since(s.upSince) >= pgStableUptime {
		s.crashes = 0
	}
	s.mu.Unlock()
	for {
		s.mu.Lock()
		s.crashes++
		delay := s.restartDelay(s.crashes)
		s.mu.Unlock()
		if delay > 0 {
			s.log(fmt.Sprintf("restarting postgres in %s", delay))
		} else {
			s.log("restarting postgres")
		}
		select {
		case <-quit:
			return
		case <-time.After(delay):
		}
		s.mu.Lock()
		if s.removed || s.running() || s.quit != quit {
			s.mu.Unlock()
			return
		}
		s.phase.Store(StateStarting)
		ctx, cancel := context.WithTimeout(context.Background(), pgStartLimit)
		err := pgStopLeftover(s.dataDir, s.sockDir, s.log)
		if err == nil {
			err = s.launchWithPort(ctx)
		}
		cancel()
		if err == nil {
			s.log(fmt.Sprintf("postgres is up again (pid %d) on port %d", s.cmd.Process.Pid, s.port))
			s.mu.Unlock()
			return
		}
		s.phase.Store(StateCrashed)
		s.mu.Unlock()
		s.log("restart of postgres failed: " + err.Error())
	}
}

// state is the server's state as `dynobox addons` shows it.
func (s *pgServer) state() string {
	if v, ok := s.phase.Load().(string); ok {
		return v
	}
	return StateStarting
}

// pgReadLog passes the server's output on, one line per call, and notices
// readiness.
func pgReadLog(r io.ReadCloser, tail *pgTail, log func(string), ready chan struct{}) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	isReady := false
	for {
		line, err := br.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			tail.add(line)
			log(line)
			if !isReady && strings.Contains(line, pgReadyLine) {
				isReady = true
				close(ready)
			}
		}
		if err != nil {
			return
		}
	}
}

// stop shuts the server down: SIGINT is a fast shutdown (clients are
// disconnected, a checkpoint is written). When ctx ends first: SIGQUIT
// (immediate shutdown), then SIGKILL. Ephemeral data goes afterwards.
func (s *pgServer) stop(ctx context.Context) error {
	var err error
	if s.quit != nil {
		select {
		case <-s.quit:
		default:
			close(s.quit)
		}
	}
	s.phase.Store(StateStopped)
	if s.running() {
		s.stopping.Store(true)
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
		case <-ctx.Done():
			s.log("postgres did not stop in time; forcing it")
			s.kill()
			err = fmt.Errorf("stop postgres: %w", ctx.Err())
		}
	}
	if s.tmpSock {
		os.RemoveAll(s.sockDir)
	}
	if s.ephemeral {
		if rerr := os.RemoveAll(s.ephemeralRoot()); rerr != nil && err == nil {
			err = fmt.Errorf("remove ephemeral data: %w", rerr)
		}
	}
	return err
}

// kill ends the postmaster without a checkpoint: SIGQUIT makes it take
// its backends down with it; SIGKILL if even that hangs, then any backend
// it left.
func (s *pgServer) kill() {
	s.stopping.Store(true)
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.done:
	case <-time.After(3 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	for _, pid := range pgServerProcs(s.dataDir) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		pgWaitGone(pid, 2*time.Second)
	}
}

// pgStopLeftover makes sure nothing of a server from an earlier run (dynobox
// killed with -9, a crash) still works in dataDir, then clears the lock
// files that would make PostgreSQL refuse to start: it trusts a pid in
// them that now belongs to a zombie or to an unrelated process.
func pgStopLeftover(dataDir, sockDir string, log func(string)) error {
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return nil // shut down cleanly, or never started
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(first))
	if pgServerProc(pid, dataDir) {
		log(fmt.Sprintf("stopping PostgreSQL (pid %d) left running by an earlier dynobox", pid))
		if err := pgTerminate(pid); err != nil {
			return err
		}
	}
	// Backends of a postmaster that was SIGKILLed live on, attached to
	// the old shared memory.
	for _, bpid := range pgServerProcs(dataDir) {
		log(fmt.Sprintf("killing PostgreSQL process %d left behind by a crashed server", bpid))
		_ = syscall.Kill(bpid, syscall.SIGKILL)
		if !pgWaitGone(bpid, 5*time.Second) {
			return fmt.Errorf("PostgreSQL process %d of an earlier run in %s does not exit", bpid, dataDir)
		}
	}
	if !pgStalePid(pid, dataDir) {
		return nil // cannot tell: PostgreSQL's own checks decide
	}
	if err := os.Remove(pidFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale %s: %w", pidFile, err)
	}
	locks, _ := filepath.Glob(filepath.Join(sockDir, ".s.PGSQL.*"))
	for _, l := range locks {
		os.Remove(l)
	}
	return nil
}

// pgTerminate stops a postmaster that is not our child: fast shutdown,
// then immediate, then SIGKILL.
func pgTerminate(pid int) error {
	steps := []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 10 * time.Second}, {syscall.SIGQUIT, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}}
	for _, st := range steps {
		if err := syscall.Kill(pid, st.sig); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return nil
			}
			return fmt.Errorf("stop PostgreSQL left running (pid %d): %w", pid, err)
		}
		if pgWaitGone(pid, st.wait) {
			return nil
		}
	}
	return fmt.Errorf("PostgreSQL left running (pid %d) does not stop", pid)
}

// connect opens a connection pool to one of the server's databases.
func (s *pgServer) connect(db string) (*sql.DB, error) {
	conn, err := pq.NewConnector(fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=10",
		pgAdmin, s.password, s.port, db))
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

// pgTail keeps the last lines of the server's log for error messages.
type pgTail struct {
	mu    sync.Mutex
	lines []string
}

func (t *pgTail) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 10 {
		t.lines = slices.Delete(t.lines, 0, 1)
	}
	t.lines = append(t.lines, line)
}

func (t *pgTail) reset() {
	t.mu.Lock()
	t.lines = nil
	t.mu.Unlock()
}

func (t *pgTail) contains(s string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.ContainsFunc(t.lines, func(l string) bool { return strings.Contains(l, s) })
}

func (t *pgTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return "(no output)"
	}
	return strings.Join(t.lines, " | ")
}

func pgLastLines(out string, n int) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// The server's certificate and key, in the data directory.
const (
	pgCertFile = "server.crt"
	pgKeyFile  = "server.key"
)

// writeTLS puts the server certificate in the data directory: issued for
// 127.0.0.1 and localhost by the app's own certificate authority (kept in
// tls/ of the server directory, as the Kafka add-on keeps its own), so a
// client may verify it with sslrootcert=tls/ca.pem. PostgreSQL wants the
// key owned by the account that runs it, and private.
func (s *pgServer) writeTLS() error {
	dir := filepath.Join(s.dir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	ca, err := loadOrCreateCA(dir, "dynobox Postgres CA")
	if err != nil {
		return err
	}
	pair, err := ca.issue(dir, "server", keyECDSA, x509.ExtKeyUsageServerAuth, loopbackHosts)
	if err != nil {
		return err
	}
	// The chain (server, then CA) lets clients that know only the CA's
	// name see where the certificate comes from.
	chain := append(append([]byte{}, pair.certPEM...), ca.certPEM...)
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{{pgCertFile, chain, 0o644}, {pgKeyFile, pair.keyPEM, 0o600}} {
		// Copies, rewritten at every start: no fsync needed.
		path := filepath.Join(s.dataDir, f.name)
		os.Remove(path) // a key left by another owner or mode
		if err := os.WriteFile(path, f.data, f.perm); err != nil {
			return err
		}
		if err := pgChown(path, s.run); err != nil {
			return err
		}
	}
	return nil
}

// viaFD reports whether the server's directories are handed over as open
// files because its account cannot reach them by path (pgRunAs.viaFD).
func (s *pgServer) viaFD() bool { return s.run != nil && s.run.viaFD }

// pgOpenAll opens paths for a child's ExtraFiles: they become fds 3, 4 …
func pgOpenAll(paths ...string) ([]*os.File, error) {
	var files []*os.File
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			pgCloseAll(files)
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func pgCloseAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// pgHasLibrary reports whether a server module is installed beside the
// binaries in binDir (Debian: ../lib/; the embedded-postgres and source
// builds: ../lib/postgresql/). Preloading a missing one would keep the
// server from starting.
func pgHasLibrary(binDir, name string) bool {
	for _, dir := range []string{"lib", filepath.Join("lib", "postgresql")} {
		for _, ext := range []string{".so", ".dylib", ".dll"} {
			if _, err := os.Stat(filepath.Join(binDir, "..", dir, name+ext)); err == nil {
				return true
			}
		}
	}
	return false
}

// herokuExtensions are the extensions Heroku Postgres lets an app create
// (Heroku Dev Center, "Extensions, Modules and Other Languages"): with
// pgextwlist the app's role creates these whether or not PostgreSQL calls
// them trusted. Those not installed on this machine fail as on any server
// without them. Tools that read the server's files or pages (file_fdw,
// adminpack, pageinspect, pg_surgery) are not on the list.
var herokuExtensions = []string{
	"address_standardizer", "address_standardizer_data_us", "amcheck", "autoinc", "bloom",
	"btree_gin", "btree_gist", "citext", "cube", "dblink", "dict_int", "dict_xsyn",
	"earthdistance", "fuzzystrmatch", "hstore", "insert_username", "intagg", "intarray",
	"isn", "lo", "ltree", "moddatetime", "pg_partman", "pg_stat_statements", "pg_trgm",
	"pgcrypto", "pgrouting", "pgrowlocks", "pgstattuple", "plpgsql", "plv8", "postgis",
	"postgis_raster", "postgis_sfcgal", "postgis_tiger_geocoder", "postgis_topology",
	"postgres_fdw", "refint", "seg", "sslinfo", "tablefunc", "tcn", "tsm_system_rows",
	"tsm_system_time", "unaccent", "uuid-ossp", "vector",
}
