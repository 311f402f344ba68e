package addons

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// pgColors are the names Heroku gives Postgres add-ons
// (HEROKU_POSTGRESQL_<COLOR>_URL).
var pgColors = []string{
	"AMBER", "AQUA", "BLACK", "BLUE", "BRONZE", "BROWN", "CHARCOAL", "COBALT",
	"COPPER", "CRIMSON", "CYAN", "GOLD", "GRAY", "GREEN", "IVORY", "JADE",
	"LIME", "MAROON", "MAUVE", "NAVY", "OLIVE", "ONYX", "ORANGE", "PINK",
	"PUCE", "PURPLE", "RED", "ROSE", "SILVER", "TEAL", "VIOLET", "WHITE", "YELLOW",
}

// Postgres is the heroku-postgresql add-on: a real PostgreSQL server on
// 127.0.0.1, its data in the add-on's directory.
//
// Exported fields are settings; set them before Start.
type Postgres struct {
	// BinDir holds initdb and postgres (a --pg-bin-dir flag); "" means
	// $DYNOBOX_PG_BIN_DIR, then embedded-postgres' binaries (cached, or
	// downloaded), then a system installation.
	BinDir string
	// NoDownload keeps embedded-postgres from downloading binaries; its
	// cache is still used.
	NoDownload bool
	// NoSystem skips system installations.
	NoSystem bool
	// CacheDir replaces the caches of embedded-postgres archives
	// (~/.embedded-postgres-go) and of their extracted binaries.
	CacheDir string
	// ServerDir is where the server's data, port and password live;
	// "" means Options.Dir. Add-ons with the same ServerDir share one
	// server, each with its own database. Ephemeral add-ons get a
	// throwaway server (ServerDir/ephemeral) and never touch ServerDir/data.
	ServerDir string
	// PlanName is what Plan returns; "" means "heroku-postgresql".
	PlanName string
	// Secondary marks a database that is not the app's first one: like
	// Heroku, it sets only HEROKU_POSTGRESQL_<COLOR>_URL, not DATABASE_URL.
	Secondary bool
	// AddonName is the add-on's name ("heroku-postgresql-2" for a second
	// one without --as); "" derives it from Options.As.
	AddonName string
	// ServerLog receives the shared server's own lines (labelled with the
	// server's name, not a database's); nil sends them to Options.Log.
	ServerLog func(line string)

	opts         Options
	deathSig     syscall.Signal          // sent to the server if dynobox dies; tests set 0
	restartDelay func(int) time.Duration // nil: pgRestartDelay; tests shorten it

	mu    sync.Mutex
	srv   *pgServer
	color string
	env   map[string]string
	// Copies of the server's settings at Start (another add-on sharing it
	// may restart it). password is the add-on role's.
	port             int
	password, bindir string
}

// pgServerName labels the shared server's log lines (app[postgres-server]),
// after its directory.
const pgServerName = "postgres-server"

// NewPostgres returns the add-on; nothing happens until Start.
func NewPostgres(opts Options) *Postgres {
	return &Postgres{opts: opts, deathSig: syscall.SIGINT}
}

var _ Addon = (*Postgres)(nil)

// Name is "heroku-postgresql", or the attachment name in lower case with
// dashes ("PRIMARY_DB" → "primary-db").
func (p *Postgres) Name() string {
	if p.AddonName != "" {
		return p.AddonName
	}
	if p.opts.As == "" {
		return "heroku-postgresql"
	}
	return strings.ReplaceAll(strings.ToLower(p.opts.As), "_", "-")
}

// Plan is what was asked for.
func (p *Postgres) Plan() string {
	if p.PlanName != "" {
		return p.PlanName
	}
	return "heroku-postgresql"
}

// Database is the name of the add-on's database, derived from Name.
func (p *Postgres) Database() string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, p.Name())
}

// Start starts the server (or joins a running one it shares) and creates
// the add-on's database; it returns once that database accepts
// connections. On failure nothing is left running.
func (p *Postgres) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv != nil {
		return nil
	}
	s, err := pgAcquire(ctx, p)
	if err != nil {
		return fmt.Errorf("%s: %w", p.Name(), err)
	}
	password, err := p.rolePassword()
	var color string
	if err == nil {
		color, err = p.claimColor()
	}
	if err == nil {
		err = s.ensureDatabase(ctx, p.Database(), p.Role(), password)
	}
	if err != nil {
		// Roll back: ctx may be what failed, so the stop gets its own time.
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		s.release(stopCtx)
		return fmt.Errorf("%s: %w", p.Name(), err)
	}
	p.srv, p.color = s, color
	p.port, p.password, p.bindir = s.port, password, s.bin.dir
	p.env = p.makeEnv(p.url(p.port, p.password))
	return nil
}

// Stop releases the server; the last add-on using it stops it (fast
// shutdown, then immediate shutdown and SIGKILL when ctx ends first). An
// ephemeral server's data goes with it. Stop is idempotent.
func (p *Postgres) Stop(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.srv
	if s == nil {
		return nil
	}
	p.srv = nil
	if err := s.release(ctx); err != nil {
		return fmt.Errorf("%s: %w", p.Name(), err)
	}
	return nil
}

// Env is DATABASE_URL and HEROKU_POSTGRESQL_<COLOR>_URL; with --as NAME,
// NAME_URL alone (Heroku names an attachment's var after it, and the color
// var is the name of the default attachment).
func (p *Postgres) Env() map[string]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	env := make(map[string]string, len(p.env))
	for k, v := range p.env {
		env[k] = v
	}
	return env
}

// Addr is "127.0.0.1:PORT".
func (p *Postgres) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.srv == nil {
		return ""
	}
	return "127.0.0.1:" + strconv.Itoa(p.port)
}

func (p *Postgres) makeEnv(url string) map[string]string {
	if p.opts.As != "" {
		return map[string]string{strings.ToUpper(strings.ReplaceAll(p.opts.As, "-", "_")) + "_URL": url}
	}
	env := map[string]string{"HEROKU_POSTGRESQL_" + p.color + "_URL": url}
	if !p.Secondary {
		env["DATABASE_URL"] = url
	}
	return env
}

// url is shaped as Heroku's: no sslmode (clients default to prefer, and
// the server offers SSL).
func (p *Postgres) url(port int, password string) string {
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s", p.Role(), password, port, p.Database())
}

// Role is the database's owner role, the user in DATABASE_URL.
func (p *Postgres) Role() string { return pgRoleName(p.Database()) }

// rolePassword reads the add-on role's password from the add-on's
// directory, creating a random one on first use.
func (p *Postgres) rolePassword() (string, error) {
	if err := os.MkdirAll(p.opts.Dir, 0o700); err != nil {
		return "", err
	}
	return pgSecret(filepath.Join(p.opts.Dir, pgRolePasswordFile))
}

// pgRolePasswordFile holds an add-on role's password in its directory
// (the server directory's "password" is the admin role's).
const pgRolePasswordFile = "role-password"

// State is the server's state: up, crashed (waiting to be restarted),
// starting (being restarted) or stopped.
func (p *Postgres) State() string {
	p.mu.Lock()
	s := p.srv
	p.mu.Unlock()
	if s == nil {
		return StateStopped
	}
	return s.state()
}

// Destroy deletes the add-on's database and role, then stops it as Stop
// does (addons:destroy: "Detach an add-on and delete its data"). It
// starts the server when it is not running here and has data.
func (p *Postgres) Destroy(ctx context.Context) error {
	p.mu.Lock()
	running := p.srv != nil
	p.mu.Unlock()
	if !running {
		_, dataDir, err := p.serverPaths(false)
		if err != nil {
			return nil // never started: nothing to delete
		}
		if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); err != nil {
			return nil
		}
		if err := p.Start(ctx); err != nil {
			return err
		}
	}
	p.mu.Lock()
	s := p.srv
	p.mu.Unlock()
	s.mu.Lock()
	err := s.dropDatabase(ctx, p.Database(), p.Role())
	s.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("%s: delete its database: %w", p.Name(), err)
	}
	return errors.Join(err, p.Stop(ctx))
}

func (p *Postgres) serverLog() func(string) {
	if p.ServerLog != nil {
		return p.ServerLog
	}
	return p.logf
}

// claimColor returns the add-on's color: the one kept in its directory, or
// a new one it then keeps, so env vars stay the same from run to run. A
// color belongs to one add-on of the app: the add-ons in the directory that
// holds Options.Dir never keep the same one, whether they run or not (a
// Set starts them at once; an add-on created in an earlier run may start
// after a new one chose). Choices in this process take turns, each writing
// its color before the next reads.
func (p *Postgres) claimColor() (string, error) {
	pgColorMu.Lock()
	defer pgColorMu.Unlock()
	taken, err := pgSiblingColors(p.opts.Dir)
	if err != nil {
		return "", fmt.Errorf("read the app's colors: %w", err)
	}
	path := filepath.Join(p.opts.Dir, "color")
	kept := ""
	if b, err := os.ReadFile(path); err == nil {
		kept = strings.TrimSpace(string(b))
	}
	if kept != "" && taken[kept] == "" {
		return kept, nil
	}
	h := fnv.New32a()
	h.Write([]byte(p.Name()))
	start := int(h.Sum32() % uint32(len(pgColors)))
	color := ""
	for i := range pgColors {
		if c := pgColors[(start+i)%len(pgColors)]; taken[c] == "" {
			color = c
			break
		}
	}
	if color == "" {
		return "", fmt.Errorf("no free color: the app's add-ons keep all %d", len(pgColors))
	}
	if err := os.MkdirAll(p.opts.Dir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(color+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save color: %w", err)
	}
	if kept != "" {
		// Two add-ons kept one color (an older dynobox let them): one
		// var hid the other's.
		p.logf(fmt.Sprintf("color %s is also %s's; this add-on's is now %s", kept, taken[kept], color))
	}
	return color, nil
}

// pgColorMu makes the color choices of this process take turns.
var pgColorMu sync.Mutex

// pgSiblingColors maps the colors kept by the add-ons beside dir (its
// siblings) to their directory names.
func pgSiblingColors(dir string) (map[string]string, error) {
	parent, self := filepath.Split(filepath.Clean(dir))
	entries, err := os.ReadDir(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	taken := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == self {
			continue
		}
		b, err := os.ReadFile(filepath.Join(parent, e.Name(), "color"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c := strings.TrimSpace(string(b)); c != "" {
			taken[c] = e.Name()
		}
	}
	return taken, nil
}

// logf sends one of our own lines to the log bus.
func (p *Postgres) logf(line string) {
	if p.opts.Log != nil {
		p.opts.Log(line)
	}
}

func (p *Postgres) finder() pgFinder {
	explicit := p.BinDir
	if explicit == "" {
		explicit = os.Getenv(PgBinDirEnv)
	}
	return pgFinder{explicit: explicit, noDownload: p.NoDownload, noSystem: p.NoSystem, cacheDir: p.CacheDir, log: p.logf}
}

// serverPaths returns the server directory and its data directory, with
// symlinks resolved (a postgres process is recognised by its working
// directory, which the kernel reports resolved). create makes the server
// directory.
func (p *Postgres) serverPaths(create bool) (dir, dataDir string, err error) {
	dir = p.ServerDir
	if dir == "" {
		dir = p.opts.Dir
	}
	if dir == "" {
		return "", "", errors.New("no state directory for postgres")
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return "", "", err
	}
	if create {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", "", fmt.Errorf("create %s: %w", dir, err)
		}
	}
	if dir, err = filepath.EvalSymlinks(dir); err != nil {
		return "", "", err
	}
	if p.opts.Ephemeral {
		return dir, filepath.Join(dir, "ephemeral", "data"), nil
	}
	return dir, filepath.Join(dir, "data"), nil
}

// PsqlCommand prepares psql connected to the add-on's database, for
// `dynobox pg:psql`; args go to psql (e.g. "-c", "SELECT 1"). It works
// whether this process started the server or another dynobox did (it then
// reads the port and password from the state directory). The password goes
// in the environment, not on the command line where ps would show it. The
// caller wires Stdin, Stdout and Stderr.
func PsqlCommand(pg *Postgres, args ...string) (*exec.Cmd, error) {
	port, password, bindir, err := pg.conninfo()
	if err != nil {
		return nil, err
	}
	psql, err := pgFindPsql(bindir)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(psql, args...)
	cmd.Env = append(pgServerEnv(),
		"PGHOST=127.0.0.1",
		"PGPORT="+strconv.Itoa(port),
		"PGUSER="+pg.Role(),
		"PGPASSWORD="+password,
		"PGDATABASE="+pg.Database(),
		"PGAPPNAME=dynobox pg:psql")
	return cmd, nil
}

// conninfo returns where the add-on's server listens, from memory when it
// runs here, else from its state directory.
func (p *Postgres) conninfo() (port int, password, bindir string, err error) {
	p.mu.Lock()
	running := p.srv != nil
	port, password, bindir = p.port, p.password, p.bindir
	p.mu.Unlock()
	if running {
		return port, password, bindir, nil
	}
	dir, _, err := p.serverPaths(false)
	if err != nil {
		return 0, "", "", fmt.Errorf("%s has not been started; run dynobox start first", p.Name())
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return strings.TrimSpace(string(b))
	}
	port, _ = strconv.Atoi(read("port"))
	b, _ := os.ReadFile(filepath.Join(p.opts.Dir, pgRolePasswordFile))
	password = strings.TrimSpace(string(b))
	if port == 0 || password == "" {
		return 0, "", "", fmt.Errorf("%s has not been started; run dynobox start first", p.Name())
	}
	return port, password, read("bindir"), nil
}

// pgFindPsql prefers the psql next to the server (same version), then PATH.
func pgFindPsql(bindir string) (string, error) {
	if bindir != "" {
		if p := filepath.Join(bindir, "psql"); pgExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("psql"); err == nil {
		return p, nil
	}
	return "", errors.New("psql not found; install the PostgreSQL client " +
		"(Debian/Ubuntu: apt-get install postgresql-client; macOS: brew install libpq) or put psql on PATH")
}

func pgExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode().Perm()&0o111 != 0
}
