package addons

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
)

const (
	redisAddonName = "heroku-redis"
	redisDatabases = 16
	// redisExpireMin and redisExpireMax bound how often TTLs advance; see
	// expireLoop.
	redisExpireMin = 50 * time.Millisecond
	redisExpireMax = time.Second
)

// Redis is Heroku Key-Value Store (heroku-redis) on loopback: miniredis
// behind AUTH, on a plain and a TLS port, with real-time key expiry, an
// append-only log in Options.Dir (redis_aof.go), and the connection-time commands (HELLO,
// CLIENT, INFO, CONFIG, COMMAND) that clients and redis-cli send.
type Redis struct {
	opts Options

	mu      sync.Mutex // guards the lifecycle fields below
	running *redisServer
	env     map[string]string
	addr    string

	system *redisProc // the system backend (redis_server.go), when it serves
	// noDeathSig: tests simulate a redis-server that outlived dynobox.
	noDeathSig bool
	want       string // RedisSystem or RedisEmbedded: wins over RedisBackendEnv (tests)
	// stableAfter replaces redisStableAfter for the system backend (tests).
	stableAfter time.Duration
	// aofRewriteMin replaces redisRewriteMinSize (tests).
	aofRewriteMin int64
}

// NewRedis returns the add-on; Start runs it.
func NewRedis(opts Options) *Redis {
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	return &Redis{opts: opts}
}

// Name is "heroku-redis", or the attachment name.
func (r *Redis) Name() string {
	if r.opts.As != "" {
		return AttachmentName(r.opts.As)
	}
	return redisAddonName
}

// Plan is the add-on's plan.
func (r *Redis) Plan() string { return redisAddonName }

// Env returns REDIS_URL and REDIS_TLS_URL (NAME_URL, NAME_TLS_URL for an
// attachment --as NAME).
func (r *Redis) Env() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	env := make(map[string]string, len(r.env))
	for k, v := range r.env {
		env[k] = v
	}
	return env
}

// Addr is the plain (non-TLS) listen address.
func (r *Redis) Addr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// Start restores the last snapshot and listens; it returns once both
// ports accept connections.
func (r *Redis) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running != nil || r.system != nil {
		return errors.New("redis: already started")
	}
	bin, err := pickRedisBackend(ctx, r.want, r.opts.Log)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if bin != nil {
		return r.startSystem(ctx, *bin)
	}
	s, err := startRedisServer(ctx, r.opts, r.aofRewriteMin)
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	r.running = s
	r.addr = s.plainLn.Addr().String()
	prefix := envPrefix(r.opts.As, "REDIS")
	r.env = map[string]string{
		prefix + "_URL":     (&url.URL{Scheme: "redis", User: url.UserPassword("", s.password), Host: r.addr}).String(),
		prefix + "_TLS_URL": (&url.URL{Scheme: "rediss", User: url.UserPassword("", s.password), Host: s.tlsLn.Addr().String()}).String(),
	}
	return nil
}

// Stop closes client connections, writes a final snapshot and stops; it
// is idempotent and gives up waiting for clients when ctx ends.
func (r *Redis) Stop(ctx context.Context) error {
	r.mu.Lock()
	s, sys := r.running, r.system
	r.running, r.system = nil, nil
	r.mu.Unlock()
	var err error
	switch {
	case sys != nil:
		err = sys.stopServer(ctx)
	case s != nil:
		err = s.stop(ctx)
	default:
		return nil
	}
	if r.opts.Ephemeral {
		err = errors.Join(err, os.RemoveAll(r.opts.Dir))
	}
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// envPrefix is the config var prefix: def, or the attachment name
// upper-cased with dashes as underscores (--as cache → CACHE_URL).
func envPrefix(as, def string) string {
	if as == "" {
		return def
	}
	return strings.ToUpper(strings.ReplaceAll(as, "-", "_"))
}

// redisServer is one run of the add-on, from Start to Stop.
type redisServer struct {
	opts     Options
	mr       *miniredis.Miniredis
	table    *redisCommandTable
	password string
	token    string // marks our own connection preamble, see wrapConn
	runID    string
	started  time.Time
	plainLn  net.Listener
	tlsLn    net.Listener
	dumpPath string

	writeCmds map[string]bool // upper-case names of commands that change data
	handlers  map[string]redisHandler
	scripts   *redisScripts

	expiry  *redisExpiry
	heads   *redisListHeads // LPUSH onto long lists (redis_listhead.go)
	aof     *redisAOF       // nil when ephemeral
	aofPath string
	// writeMu is held while a write command runs and is logged, so the
	// log's order is the order miniredis ran them in.
	writeMu sync.Mutex
	effMu   sync.Mutex
	runs    [][][]string // write commands of the scripts run under writeMu
	rewrite redisRewriteStats

	clients sync.Map // *server.Peer → *redisClient
	// monitors are the connections that sent MONITOR (redis_monitor.go).
	monitors   sync.Map // *server.Peer → *redisClient
	monitoring atomic.Int64
	pending    sync.Map // connection id → net.Conn, until its preamble arrives
	active     sync.WaitGroup
	nextID     atomic.Int64

	changes   atomic.Int64 // data-changing commands run since start
	lastSave  atomic.Int64 // unix seconds
	commands  atomic.Int64
	connCount atomic.Int64

	configMu sync.Mutex
	config   map[string]string

	internal *redisInternalConn // reads an older dump.gob into the log at start

	serving bool // Start succeeded
	done    chan struct{}
	wg      sync.WaitGroup // accept and background loops
}

func startRedisServer(ctx context.Context, opts Options, rewriteMin int64) (_ *redisServer, err error) {
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", opts.Dir, err)
	}
	s := &redisServer{opts: opts, started: time.Now(), done: make(chan struct{}),
		dumpPath: filepath.Join(opts.Dir, "dump.gob")}
	s.rewrite.minSize = redisRewriteMinSize
	if rewriteMin > 0 {
		s.rewrite.minSize = rewriteMin
	}
	s.rewrite.lastTook.Store(-1)
	s.rewrite.lastErr.Store("")
	if s.password, err = loadOrCreateSecret(filepath.Join(opts.Dir, "password"), 32); err != nil {
		return nil, err
	}
	cert, err := selfSigned(opts.Dir, "tls", loopbackHosts)
	if err != nil {
		return nil, err
	}
	s.token, s.runID = randomHex(16), randomHex(20)
	s.mr = miniredis.NewMiniRedis()
	defer func() {
		if err != nil {
			s.stop(ctx) // not serving yet: closes without saving over the snapshot
		}
	}()
	if err := s.startMiniredis(); err != nil {
		return nil, err
	}
	if !opts.Ephemeral {
		if err := s.load(); err != nil {
			return nil, err
		}
	}
	s.scanTTLs()
	if err := s.listen(cert); err != nil {
		return nil, err
	}
	s.initConfig()
	s.background()
	s.serving = true
	s.logf("listening on 127.0.0.1:%d (TLS: 127.0.0.1:%d)", port(s.plainLn), port(s.tlsLn))
	return s, nil
}

// startMiniredis starts miniredis without a listener of its own: we accept
// connections and hand them over, so our hook is in place before the
// first client arrives.
func (s *redisServer) startMiniredis() error {
	c, err := s.mr.Dial() // starts the server, listener-less
	if err != nil {
		return fmt.Errorf("start miniredis: %w", err)
	}
	c.Close()
	table, err := redisCommands(func(name string) bool {
		return (s.mr.Server().IsRegisteredCommand(name) || isRedisOwnCommand(name)) && !redisLeftOut[name]
	})
	if err != nil {
		return err
	}
	s.table = table
	s.writeCmds = map[string]bool{}
	for name, c := range table.byName {
		s.writeCmds[strings.ToUpper(name)] = c.writes()
	}
	s.handlers = s.ownHandlers()
	s.scripts = newRedisScripts()
	s.expiry = newRedisExpiry()
	s.heads = newRedisListHeads(s.mr)
	s.mr.Server().SetPreHook(s.hook)
	s.internal = newRedisInternalConn(s.mr.Server())
	return nil
}

func (s *redisServer) listen(cert *certPair) error {
	plain, err := listenSticky(filepath.Join(s.opts.Dir, "port"), s.logf)
	if err != nil {
		return err
	}
	s.plainLn = plain
	tlsRaw, err := listenSticky(filepath.Join(s.opts.Dir, "tls-port"), s.logf)
	if err != nil {
		return err
	}
	s.tlsLn = tls.NewListener(tlsRaw, &tls.Config{
		Certificates: []tls.Certificate{cert.TLS()},
		MinVersion:   tls.VersionTLS12,
	})
	s.wg.Add(2)
	go s.acceptLoop(s.plainLn, false)
	go s.acceptLoop(s.tlsLn, true)
	return nil
}

func (s *redisServer) background() {
	s.wg.Add(1)
	go s.expireLoop()
	if s.aof != nil {
		s.wg.Add(1)
		go s.syncLoop()
	}
}

// acceptLoop hands each connection to miniredis, preceded by a preamble
// that tells our hook who it is (see wrapConn).
func (s *redisServer) acceptLoop(ln net.Listener, isTLS bool) {
	defer s.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.logf("accept: %v", err)
			select { // back off on e.g. EMFILE, as net/http does
			case <-s.done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		s.connCount.Add(1)
		s.active.Add(1)
		s.mr.Server().ServeConn(s.wrapConn(conn, isTLS))
	}
}

// stop closes the listeners and the clients, writes the final snapshot
// and closes miniredis.
func (s *redisServer) stop(ctx context.Context) error {
	close(s.done)
	for _, ln := range []net.Listener{s.plainLn, s.tlsLn} {
		if ln != nil {
			ln.Close()
		}
	}
	s.wg.Wait() // accept loops return at once; background loops at the next tick
	s.clients.Range(func(_, v any) bool {
		v.(*redisClient).conn.Close()
		return true
	})
	s.mr.CtxCancel() // wakes commands blocked in BLPOP & co, which ignore closed connections
	if err := waitCtx(ctx, &s.active); err != nil {
		s.logf("stop: clients still running commands: %v", err)
	}
	var err error
	if s.aof != nil {
		n := s.aof.unsynced()
		if cerr := s.aof.close(); cerr != nil {
			err = fmt.Errorf("final save failed, the last %d writes are lost: %w", n, cerr)
		}
	}
	if s.internal != nil {
		s.internal.close()
	}
	s.mr.Close()
	return err
}

// waitCtx waits for wg, or until ctx ends.
func waitCtx(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *redisServer) logf(format string, args ...any) {
	s.opts.Log(fmt.Sprintf(format, args...))
}

func port(ln net.Listener) int {
	if ln == nil {
		return 0
	}
	return ln.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// RedisCLI builds the command behind `dynobox redis:cli`: redis-cli
// against the Redis whose URL is env[urlVar] (REDIS_URL when urlVar is ""),
// passing the password through REDISCLI_AUTH so it is neither on the
// command line nor warned about. The caller wires Stdin/Stdout/Stderr.
func RedisCLI(ctx context.Context, env map[string]string, urlVar string, args ...string) (*exec.Cmd, error) {
	if urlVar == "" {
		urlVar = "REDIS_URL"
	}
	raw := env[urlVar]
	if raw == "" {
		return nil, fmt.Errorf("redis:cli: %s is not set; is the heroku-redis add-on running?", urlVar)
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") {
		return nil, fmt.Errorf("redis:cli: %s is not a redis:// URL", urlVar)
	}
	bin, err := exec.LookPath("redis-cli")
	if err != nil {
		return nil, errors.New("redis:cli: redis-cli not found in PATH; install it (Debian/Ubuntu: apt-get install redis-tools, macOS: brew install redis)")
	}
	argv := []string{"-h", u.Hostname(), "-p", u.Port()}
	if u.Scheme == "rediss" {
		argv = append(argv, "--tls", "--insecure") // self-signed, as on Heroku
	}
	if db := strings.Trim(u.Path, "/"); db != "" {
		argv = append(argv, "-n", db)
	}
	cmd := exec.CommandContext(ctx, bin, append(argv, args...)...)
	cmd.Env = os.Environ()
	if pw, ok := u.User.Password(); ok {
		cmd.Env = append(cmd.Env, "REDISCLI_AUTH="+pw)
	}
	return cmd, nil
}

var _ Addon = (*Redis)(nil)
