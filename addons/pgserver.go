package addons

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/lib/pq"

	"github.com/dynobox/dynobox/internal/ports"
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
	logDone  chan struct{} // closed once its output is read to the end
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
		if s.port <= 0 || !ports.Available(s.port) {
			p, err := ports.Pick()
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

// connect opens a connection pool to one of the server's databases.
func (s *pgServer) connect(db string) (*sql.DB, error) {
	conn, err := pq.NewConnector(fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=10",
		pgAdmin, s.password, s.port, db))
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
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
