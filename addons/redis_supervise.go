package addons

// Supervision of the system backend's redis-server (redis_server.go):
// restarts with backoff, stop, and its log lines.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
)

// supervise waits for the running process to exit and, unless stopping,
// restarts it with backoff. It owns the restart count.
func (p *redisProc) supervise(run *redisRun) {
	defer close(p.done)
	crashes := 0
	for {
		select {
		case <-run.exited:
		case <-p.stop:
			<-run.exited // Stop signals the process
			return
		}
		p.mu.Lock()
		stopping := p.stopping
		p.cur = nil
		p.mu.Unlock()
		if stopping {
			return
		}
		if time.Since(run.started) >= p.stableAfter {
			crashes = 0
		}
		delay := redisBackoff(crashes)
		crashes++
		when := "at once"
		if delay > 0 {
			when = "in " + delay.String()
		}
		p.logf("redis-server (pid %d) exited unexpectedly (%s); restarting %s", run.pid, exitText(run.err), when)
		next, ok := p.restart(delay)
		if !ok {
			return
		}
		run = next
	}
}

// restart waits delay, then starts the server again until it answers
// PING; a failed attempt waits the next backoff step. It returns false
// when Stop came first.
func (p *redisProc) restart(delay time.Duration) (*redisRun, bool) {
	for attempt := 1; ; attempt++ {
		select {
		case <-p.stop:
			return nil, false
		case <-time.After(delay):
		}
		run, err := p.relaunch()
		if err == nil {
			p.logf("redis-server is up again (pid %d)", run.pid)
			return run, true
		}
		if errors.Is(err, errRedisStopping) {
			return nil, false
		}
		delay = redisBackoff(attempt)
		p.logf("restart failed: %v; trying again in %s", err, delay)
	}
}

var errRedisStopping = errors.New("stopping")

// relaunch is one restart attempt; Stop meanwhile kills the new process.
// It keeps the ports: the dynos have the URLs in their environment, so a
// port taken meanwhile fails the attempt (the log says so) until it is free.
func (p *redisProc) relaunch() (*redisRun, error) {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return nil, errRedisStopping
	}
	run, err := p.launch()
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.cur = run
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), redisStartLimit)
	defer cancel()
	go func() {
		select {
		case <-p.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := p.waitReady(ctx, run); err != nil {
		p.mu.Lock()
		p.cur = nil
		stopping := p.stopping
		p.mu.Unlock()
		if stopping {
			<-run.exited
			return nil, errRedisStopping
		}
		p.kill(run)
		return nil, err
	}
	return run, nil
}

// exitText describes how a process ended, as Wait reported it.
func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// redisBackoff is the wait before restart number n (0: the first crash).
func redisBackoff(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := redisBackoffFirst
	for i := 1; i < n && d < redisBackoffMax; i++ {
		d *= 2
	}
	return min(d, redisBackoffMax)
}

// stopServer stops the server: SIGTERM makes redis-server flush and fsync
// the append-only file and exit 0. When ctx ends first it is killed. An
// exit other than 0 is reported: the last writes may not be on disk.
//
// redis-server exits 0 even when that final flush fails (a full disk):
// what it acknowledged before the failure was known is then lost. It
// refuses writes with MISCONF while its last write failed, and retries
// the write every second, so a failed write status just before the stop
// means the final flush has nothing better to go on: that is reported as a
// failed final save, as the embedded backend reports its own.
func (p *redisProc) stopServer(ctx context.Context) error {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return nil
	}
	p.stopping = true
	run := p.cur
	close(p.stop)
	p.mu.Unlock()
	var err error
	if run != nil {
		infoCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		status, infoErr := redisInfoField(infoCtx, net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)), p.password, "persistence", "aof_last_write_status")
		cancel()
		_ = run.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-run.exited:
			switch {
			case run.err != nil:
				err = fmt.Errorf("redis-server did not shut down cleanly (%v): %s", run.err, p.tail.String())
			case infoErr == nil && status != "ok":
				err = fmt.Errorf("final save failed, the last writes are lost: redis-server could not write its append-only file (aof_last_write_status:%s; is the disk full?): %s", status, p.tail.String())
			}
		case <-ctx.Done():
			p.logf("redis-server did not stop in time; killing it")
			p.kill(run)
			err = fmt.Errorf("stop redis-server: %w", ctx.Err())
		}
	}
	<-p.done
	return err
}

// kill ends the process group at once.
func (p *redisProc) kill(run *redisRun) {
	proc.SignalGroup(run.pid, syscall.SIGKILL)
	select {
	case <-run.exited:
	case <-time.After(redisStopKill):
	}
}

// pid is the running server's process id (0 between runs), for tests.
func (p *redisProc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.pid
}

func (p *redisProc) logf(format string, args ...any) {
	p.opts.Log(fmt.Sprintf(format, args...))
}

// redisLogRE matches redis-server's line prefix, "1234:M 03 Dec 2026
// 15:36:38.007 * ": the log bus adds its own time.
var redisLogRE = regexp.MustCompile(`^(\d+:[A-Z]) \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2}\.\d{3} `)

// redisReadLog passes the server's output on, one line per call.
func redisReadLog(r io.ReadCloser, tail *pgTail, log func(string)) {
	defer r.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line = strings.TrimRight(line, "\r\n"); line != "" {
			line = redisLogRE.ReplaceAllString(line, "$1 ")
			tail.add(line)
			log(line)
		}
		if err != nil {
			return
		}
	}
}

// redisStopLeftover stops a redis-server still working in dataDir from an
// earlier run (dynobox killed where Pdeathsig does not reach): SIGTERM, so
// it flushes its append-only file, then SIGKILL.
func redisStopLeftover(dataDir string, logf func(string, ...any)) error {
	b, err := os.ReadFile(filepath.Join(dataDir, "redis.pid"))
	if err != nil {
		return nil
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !redisServerProc(pid, dataDir) {
		return nil
	}
	logf("stopping redis-server (pid %d) left running by an earlier dynobox", pid)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		if err := syscall.Kill(pid, sig); err != nil {
			if errors.Is(err, syscall.ESRCH) {
				return nil
			}
			return fmt.Errorf("stop redis-server left running (pid %d): %w", pid, err)
		}
		if pgWaitGone(pid, 10*time.Second) {
			return nil
		}
	}
	return fmt.Errorf("redis-server left running (pid %d) in %s does not stop", pid, dataDir)
}

// redisServerProc reports whether pid is alive and works in dataDir
// (redis-server changes to its dir at start).
func redisServerProc(pid int, dataDir string) bool {
	if !pgProcAlive(pid) {
		return false
	}
	cwd, ok := proc.Cwd(pid)
	return ok && cwd == dataDir
}

// startSystem runs the add-on on redis-server; r.mu is held.
func (r *Redis) startSystem(ctx context.Context, bin redisBinary) error {
	p := newRedisProc(bin, r.opts)
	if r.noDeathSig {
		p.deathSig = 0
	}
	if r.stableAfter > 0 {
		p.stableAfter = r.stableAfter
	}
	if err := p.start(ctx); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	r.system = p
	r.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
	prefix := envPrefix(r.opts.As, "REDIS")
	// The same URLs as the embedded backend's (redis.go).
	r.env = map[string]string{
		prefix + "_URL":     (&url.URL{Scheme: "redis", User: url.UserPassword("", p.password), Host: r.addr}).String(),
		prefix + "_TLS_URL": (&url.URL{Scheme: "rediss", User: url.UserPassword("", p.password), Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p.tlsPort))}).String(),
	}
	p.logf("%s (%s) listening on %s (TLS: 127.0.0.1:%d), data in %s", p.backend(), bin.path, r.addr, p.tlsPort, p.dataDir)
	return nil
}

// Backend says what serves the add-on: "redis-server 7.0.15" or
// "embedded" ("" when stopped).
func (r *Redis) Backend() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.system != nil:
		return r.system.backend()
	case r.running != nil:
		return RedisEmbedded
	}
	return ""
}

// redisInfoField asks a running server for one field of an INFO section,
// on a fresh connection (with AUTH when there is a password).
func redisInfoField(ctx context.Context, addr, password, section, field string) (string, error) {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	req := fmt.Sprintf("*2\r\n$4\r\nINFO\r\n$%d\r\n%s\r\n", len(section), section)
	if password != "" {
		req = fmt.Sprintf("*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password) + req
	}
	if _, err := io.WriteString(c, req); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	if password != "" {
		if line, err := br.ReadString('\n'); err != nil {
			return "", err
		} else if !strings.HasPrefix(line, "+OK") {
			return "", errors.New(strings.TrimSpace(line))
		}
	}
	head, err := br.ReadString('\n')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if !strings.HasPrefix(head, "$") || err != nil || n < 0 {
		return "", fmt.Errorf("INFO %s: unexpected reply %q", section, strings.TrimSpace(head))
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(br, body); err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(body), "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO %s has no %s", section, field)
}
