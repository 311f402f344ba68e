package addons

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/ports"
	"github.com/dynobox/dynobox/internal/proc"
)

// The server process: launching it on a port, supervising it (restarts
// after a crash), reading its log, and stopping it, or a leftover one.

// pgPortFree and pgFreePort are the shared helpers under the names
// redis_server.go still calls them by.
var (
	pgPortFree = ports.Available
	pgFreePort = ports.Pick
)

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
	s.cmd, s.done, s.logDone, s.exitErr = cmd, make(chan struct{}), make(chan struct{}), nil
	s.stopping.Store(false)
	s.tail.reset()
	ready := make(chan struct{})
	go func(logDone chan struct{}) {
		pgReadLog(r, &s.tail, s.log, ready)
		close(logDone)
	}(s.logDone)

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
		// The postmaster has exited, but its last lines ("database
		// system is shut down") may still be in the pipe: the log has
		// them all once the reader sees the end. A process that outlived
		// the postmaster and keeps the pipe open is not waited for long.
		select {
		case <-s.logDone:
		case <-ctx.Done():
		case <-time.After(pgLogDrain):
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

// pgLogDrain bounds how long stop waits for the server's output to end
// after the postmaster exited.
const pgLogDrain = 5 * time.Second

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
