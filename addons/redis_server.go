package addons

// The system backend of heroku-redis: a real redis-server, run and
// supervised by dynobox as a dyno is — its own child in its own process
// group, ready once it answers PING, its log on the log bus, restarted with
// backoff when it dies, stopped with SIGTERM (which flushes and fsyncs the
// append-only file). It hands out the same ports, password, certificate and
// config vars as the embedded backend, from the same files in the add-on's
// directory; its data lives in server/ there.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
)

const (
	// redisStartLimit bounds a start whose ctx has no deadline (loading a
	// large append-only file takes a while).
	redisStartLimit = 2 * time.Minute
	// redisStopKill is how long a stop waits after SIGKILL.
	redisStopKill = 5 * time.Second
	// redisBackoffFirst, redisBackoffMax and redisStableAfter are the
	// crash-restart policy of dynos (README "Restarts"): at once, then
	// 1, 2, 4 … 30 s, reset after 10 s up.
	redisBackoffFirst = time.Second
	redisBackoffMax   = 30 * time.Second
	redisStableAfter  = 10 * time.Second
)

// redisProc is one supervised redis-server, from Start to Stop.
type redisProc struct {
	bin      redisBinary
	opts     Options
	dataDir  string // opts.Dir/server: redis.conf, appendonlydir, redis.pid
	confPath string
	password string
	port     int
	tlsPort  int
	deathSig syscall.Signal // sent to redis-server if dynobox dies
	// stableAfter: a crash after this long up restarts at once again
	// (redisStableAfter; tests that crash it twice make it longer).
	stableAfter time.Duration

	tail pgTail // last log lines, for errors

	mu       sync.Mutex
	cur      *redisRun // the running process, nil between runs
	stopping bool
	stop     chan struct{} // closed by Stop: no more restarts
	done     chan struct{} // closed when supervise returns
}

// redisRun is one process of redisProc.
type redisRun struct {
	cmd     *exec.Cmd
	pid     int
	started time.Time
	exited  chan struct{} // closed once Wait returned and its output is read
	err     error         // Wait's result, valid after exited
}

func newRedisProc(bin redisBinary, opts Options) *redisProc {
	// redis-server runs in its data directory: every path it is given must
	// be absolute (the state directory may be given relative).
	if abs, err := filepath.Abs(opts.Dir); err == nil {
		opts.Dir = abs
	}
	return &redisProc{bin: bin, opts: opts, dataDir: filepath.Join(opts.Dir, "server"),
		deathSig: syscall.SIGTERM, stableAfter: redisStableAfter, stop: make(chan struct{}), done: make(chan struct{})}
}

// backend names what serves, for `dynobox addons`.
func (p *redisProc) backend() string { return "redis-server " + p.bin.version }

// start prepares the data directory and configuration, starts
// redis-server and returns once it answers PING; then it supervises it.
func (p *redisProc) start(ctx context.Context) (err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, redisStartLimit)
		defer cancel()
	}
	if err := os.MkdirAll(p.opts.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", p.opts.Dir, err)
	}
	if p.password, err = loadOrCreateSecret(filepath.Join(p.opts.Dir, "password"), 32); err != nil {
		return err
	}
	if _, err := selfSigned(p.opts.Dir, "tls", loopbackHosts); err != nil {
		return err
	}
	if err := redisStopLeftover(p.dataDir, p.logf); err != nil {
		return err
	}
	if p.opts.Ephemeral {
		if err := os.RemoveAll(p.dataDir); err != nil {
			return fmt.Errorf("remove old ephemeral data: %w", err)
		}
	}
	if err := os.MkdirAll(p.dataDir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", p.dataDir, err)
	}
	if _, err := os.Stat(filepath.Join(p.opts.Dir, "dump.gob")); err == nil {
		p.logf("note: the embedded Redis' data (dump.gob) is not loaded into redis-server; %s=%s serves it", RedisBackendEnv, RedisEmbedded)
	}
	p.confPath = filepath.Join(p.dataDir, "redis.conf")
	p.port, _ = readPort(filepath.Join(p.opts.Dir, "port"))
	p.tlsPort, _ = readPort(filepath.Join(p.opts.Dir, "tls-port"))
	for attempt := 0; ; attempt++ {
		if err := p.pickPorts(); err != nil {
			return err
		}
		if err := p.writeConfig(); err != nil {
			return err
		}
		run, err := p.launch()
		if err != nil {
			return err
		}
		err = p.waitReady(ctx, run)
		if err == nil {
			p.mu.Lock()
			p.cur = run
			p.mu.Unlock()
			go p.supervise(run)
			return nil
		}
		if attempt < 2 && p.tail.contains("Address already in use") {
			continue // taken between our check and redis-server's bind
		}
		return err
	}
}

// pickPorts keeps the remembered ports unless another process holds one,
// or both are one port (redis-server binds each: a server told so fails).
func (p *redisProc) pickPorts() error {
	for _, pp := range []struct {
		port *int
		file string
	}{{&p.port, "port"}, {&p.tlsPort, "tls-port"}} {
		sameAsPlain := pp.port == &p.tlsPort && p.tlsPort == p.port
		if *pp.port > 0 && pgPortFree(*pp.port) && !sameAsPlain {
			continue
		}
		n, err := pgFreePort()
		if err != nil {
			return err
		}
		if *pp.port > 0 {
			p.logf("port %d is in use by another process; using port %d (the URL changes)", *pp.port, n)
		}
		*pp.port = n
		if err := writeFileAtomic(filepath.Join(p.opts.Dir, pp.file), []byte(strconv.Itoa(n)+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}

func readPort(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// writeConfig writes redis.conf (0600: it holds the password). Everything
// redis-server reads is in the add-on's directory; no system config file.
func (p *redisProc) writeConfig() error {
	persist := [][2]string{
		// The append-only file, fsynced every second: a crash (kill -9)
		// loses at most the last second. Periodic RDB snapshots are off:
		// the AOF is what is loaded at start when it exists, and a second
		// copy of the data set every few minutes only costs forks and disk.
		{"appendonly", "yes"},
		{"appendfsync", "everysec"},
		{"appenddirname", "appendonlydir"},
		{"aof-use-rdb-preamble", "yes"},
		{"save", ""},
	}
	if p.opts.Ephemeral {
		persist = [][2]string{{"appendonly", "no"}, {"save", ""}}
	}
	lines := [][2]string{
		{"bind", "127.0.0.1"},
		{"protected-mode", "yes"},
		{"port", strconv.Itoa(p.port)},
		{"tls-port", strconv.Itoa(p.tlsPort)},
		{"tls-cert-file", filepath.Join(p.opts.Dir, "tls.pem")},
		{"tls-key-file", filepath.Join(p.opts.Dir, "tls.key")},
		{"tls-auth-clients", "no"}, // rediss:// with a password, as on Heroku
		{"requirepass", p.password},
		{"dir", p.dataDir},
		{"pidfile", filepath.Join(p.dataDir, "redis.pid")},
		{"dbfilename", "dump.rdb"},
		{"daemonize", "no"},
		{"supervised", "no"},
		{"logfile", ""}, // stdout, relayed to the log bus
		{"loglevel", "notice"},
		{"always-show-logo", "no"},
		// Redis' process title overwrites the memory of its environment,
		// the session marker (DYNOBOX_SESSION) in /proc/PID/environ too.
		{"set-proc-title", "no"},
		{"databases", strconv.Itoa(redisDatabases)},
	}
	var b strings.Builder
	b.WriteString("# Written by dynobox at every start of the heroku-redis add-on; edits are lost.\n")
	for _, kv := range append(lines, persist...) {
		fmt.Fprintf(&b, "%s %s\n", kv[0], redisQuote(kv[1]))
	}
	// REDIS_URL has an empty user name (redis://:PASSWORD@…, as Heroku's),
	// and redis-cli 7.0 -u sends that as AUTH "" PASSWORD, which only a
	// user named "" passes; it has the default user's password and rights.
	fmt.Fprintf(&b, "user \"\" on >%s ~* &* +@all\n", p.password)
	return writeFileAtomic(p.confPath, []byte(b.String()), 0o600)
}

// redisQuote quotes a redis.conf argument so spaces, quotes and empty
// values survive (redis-server splits lines as sdssplitargs does).
func redisQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// launch starts redis-server as the leader of its own process group.
// The goroutine that forks it keeps its thread until the process exits:
// Pdeathsig fires when that thread ends, so a kill -9 of dynobox sends
// SIGTERM, a clean shutdown that flushes the append-only file.
func (p *redisProc) launch() (*redisRun, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(p.bin.path, p.confPath)
	cmd.Dir = p.dataDir
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = redisServerEnv(p.opts.Session)
	cmd.SysProcAttr = pgSysProcAttr(nil, p.deathSig)
	run := &redisRun{cmd: cmd, exited: make(chan struct{})}
	p.tail.reset()
	logDone := make(chan struct{})
	go func() {
		redisReadLog(r, &p.tail, p.opts.Log)
		close(logDone)
	}()
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		// Through the process-wide reaper, which must leave this exit
		// status to our Wait.
		err := proc.StartChild(func() (int, error) {
			if err := cmd.Start(); err != nil {
				return 0, err
			}
			return cmd.Process.Pid, nil
		})
		if err != nil {
			started <- err
			close(run.exited)
			return
		}
		run.pid, run.started = cmd.Process.Pid, time.Now()
		started <- nil
		run.err = cmd.Wait()
		proc.ChildDone(run.pid)
		// Its last lines say why it exited; a grandchild holding the pipe
		// must not hold up noticing the exit, though.
		select {
		case <-logDone:
		case <-time.After(time.Second):
		}
		close(run.exited)
	}()
	err = <-started
	w.Close() // the child holds its own copy; EOF when it exits
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("start %s: %w", p.bin.path, err)
	}
	return run, nil
}

// redisServerEnv is dynobox's environment with the session marker, so the
// watchdog and the next start find a redis-server left behind.
func redisServerEnv(session string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DYNOBOX_SESSION=") {
			env = append(env, kv)
		}
	}
	if session != "" {
		env = append(env, "DYNOBOX_SESSION="+session)
	}
	return env
}

// waitReady waits until the server answers PING with our password, or
// exits, or ctx ends (then it is killed).
func (p *redisProc) waitReady(ctx context.Context, run *redisRun) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if last = redisPing(ctx, addr, p.password); last == nil {
			return nil
		}
		select {
		case <-run.exited:
			return fmt.Errorf("redis-server exited during startup (%s): %s", exitText(run.err), p.tail.String())
		case <-ctx.Done():
			p.kill(run)
			return fmt.Errorf("redis-server did not answer PING: %w (last: %v); last log lines: %s", ctx.Err(), last, p.tail.String())
		case <-tick.C:
		}
	}
}

// redisPing sends AUTH and PING on a fresh connection; a server still
// loading its data answers -LOADING, which is not ready.
func redisPing(ctx context.Context, addr, password string) error {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	req, want := "*1\r\n$4\r\nPING\r\n", []string{"+PONG"}
	if password != "" {
		req = fmt.Sprintf("*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password) + req
		want = []string{"+OK", "+PONG"}
	}
	if _, err := io.WriteString(c, req); err != nil {
		return err
	}
	br := bufio.NewReader(c)
	for _, want := range want {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if got := strings.TrimRight(line, "\r\n"); got != want {
			return errors.New(got)
		}
	}
	return nil
}
