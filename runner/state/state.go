// Package state is dynobox's memory between runs: formation, config vars,
// releases, dyno events, add-on records and log history, in one SQLite
// database in the app's state directory. Nothing else in dynobox talks SQL.
//
// Its contract: Open creates the database or brings it up to date with
// the embedded migrations, and refuses a file it cannot read as one (an
// error that names it). A Store is safe for concurrent use, and several
// processes may use one database at once (WAL, a busy timeout): a
// stopped app's verbs read it while a dynobox starts. It never prints.
package state

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
	_ "github.com/mattn/go-sqlite3" // the SQLite driver, registered as "sqlite3"
)

//go:embed migrations/*.sql
var migrations embed.FS

// timeFormat keeps times sortable as text.
const timeFormat = time.RFC3339Nano

// Store is an open state database.
type Store struct {
	db   *sql.DB
	path string
}

// Open opens (creating if needed) the database at path and applies any
// migrations it lacks. A file that is not a readable dynobox database is
// an error naming the file — never a silent reset that would lose config vars.
func Open(path string) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, unreadable(path, err)
	}
	// Opening is one at a time across processes (and goroutines): the
	// first connection to a new database turns on WAL, which needs the
	// database to itself, and SQLite reports "database is locked" to a
	// connection that opens meanwhile, without waiting the busy timeout.
	// The lock is on the database's directory, so it adds no file.
	unlock, err := lockDir(filepath.Dir(abs))
	if err != nil {
		return nil, unreadable(path, err)
	}
	defer unlock()
	// The database, and the -wal and -shm files SQLite creates with the
	// database's mode, are the app's secrets: 0600 from the start. Only a
	// missing file is created here: closing a descriptor of a database this
	// process already has open would drop SQLite's POSIX locks on it (they
	// belong to the process, not the descriptor), and another connection
	// would then fail with "database is locked".
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Chmod(abs+suffix, 0o600)
	}
	// A file: URI with the path escaped: an app directory named "q?x" or
	// "a#b" must not cut the path short (the database would land outside
	// the state directory, shared with other apps).
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL&_foreign_keys=on"}
	db, err := sql.Open("sqlite3", u.String())
	if err != nil {
		return nil, unreadable(path, err)
	}
	db.SetMaxOpenConns(1) // one writer; WAL lets other processes read meanwhile
	s := &Store{db: db, path: path}
	if err := s.migrate(); err != nil {
		db.Close()
		if strings.Contains(err.Error(), "CGO_ENABLED=0") {
			return nil, errors.New("this dynobox was built without cgo, so it has no SQLite for its state; rebuild it with a C compiler installed (e.g. apt-get install gcc, then go build)")
		}
		return nil, unreadable(path, err)
	}
	return s, nil
}

// lockDir takes an exclusive flock on dir; unlock releases it. flock locks
// are apart from the POSIX locks SQLite takes on the database file, so the
// two never interfere.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := proc.Lock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() { f.Close() }, nil // closing releases the flock
}

func unreadable(path string, err error) error {
	return fmt.Errorf("state database %s is unreadable (%v); it holds the app's config vars and releases, so dynobox will not replace it: restore it from a backup, or move it aside to start with an empty state", path, err)
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// migrate applies the embedded migrations newer than PRAGMA user_version,
// each in its own transaction.
func (s *Store) migrate() error {
	var have int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&have); err != nil {
		return fmt.Errorf("read its schema version: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	if have > len(names) {
		return fmt.Errorf("it was written by a newer dynobox (schema %d, this one knows %d); upgrade dynobox", have, len(names))
	}
	if have == len(names) {
		return nil
	}
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	for i := have; i < len(names); i++ {
		if err := applyMigration(ctx, conn, i, names[i]); err != nil {
			return err
		}
	}
	return nil
}

// applyMigration applies migration i (file name) unless another process
// applied it meanwhile — a start and a verb reading the stopped app may
// open a new database at once: BEGIN IMMEDIATE takes the write lock
// (waiting the busy timeout) before user_version is read again.
func applyMigration(ctx context.Context, conn *sql.Conn, i int, name string) error {
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("migration %s: begin: %w", name, err)
	}
	fail := func(err error) error {
		conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	var have int
	if err := conn.QueryRowContext(ctx, "PRAGMA user_version").Scan(&have); err != nil {
		return fail(err)
	}
	if have > i {
		return fail(nil) // applied by the other process
	}
	if _, err := conn.ExecContext(ctx, string(body)); err != nil {
		return fail(fmt.Errorf("migration %s: %w", name, err))
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA user_version = "+strconv.Itoa(i+1)); err != nil {
		return fail(err)
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

// --- formation ---

// Formation returns the remembered dyno counts (empty before any scaling).
func (s *Store) Formation() (map[string]int, error) {
	rows, err := s.db.Query("SELECT type, quantity FROM formation")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var t string
		var n int
		if err := rows.Scan(&t, &n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, rows.Err()
}

// SetFormation remembers counts for the given types (others are kept).
func (s *Store) SetFormation(counts map[string]int) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	for t, n := range counts {
		if _, err := tx.Exec("INSERT INTO formation(type, quantity) VALUES(?, ?) ON CONFLICT(type) DO UPDATE SET quantity = excluded.quantity", t, n); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

// --- config vars and releases ---

// ConfigVars returns the config vars set through dynobox.
func (s *Store) ConfigVars() (map[string]string, error) {
	rows, err := s.db.Query("SELECT key, value FROM config_vars")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, rows.Err()
}

// Release is one numbered release.
type Release struct {
	Version     int               `json:"version"`
	Description string            `json:"description"`
	CreatedAt   time.Time         `json:"created_at"`
	Config      map[string]string `json:"-"`
	BuildID     string            `json:"build_id,omitempty"`
	Status      string            `json:"status"`
	// Phase is how its release phase went: "" (not run), "succeeded", "failed".
	Phase string `json:"release_phase,omitempty"`
}

// UpdateConfig sets and unsets config vars and records a release with
// description, atomically. It returns the new release.
func (s *Store) UpdateConfig(set map[string]string, unset []string, description string) (Release, error) {
	tx, err := s.db.Begin()
	if err != nil {
		return Release{}, err
	}
	defer tx.Rollback()
	for k, v := range set {
		if _, err := tx.Exec("INSERT INTO config_vars(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value", k, v); err != nil {
			return Release{}, err
		}
	}
	for _, k := range unset {
		if _, err := tx.Exec("DELETE FROM config_vars WHERE key = ?", k); err != nil {
			return Release{}, err
		}
	}
	rel, err := addRelease(tx, description, "")
	if err != nil {
		return Release{}, err
	}
	return rel, tx.Commit()
}

// SetConfigVars makes the config vars exactly cfg without a release (to
// undo a change whose release failed).
func (s *Store) SetConfigVars(cfg map[string]string) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec("DELETE FROM config_vars"); err != nil {
		return err
	}
	for k, v := range cfg {
		if _, err := tx.Exec("INSERT INTO config_vars(key, value) VALUES(?, ?)", k, v); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// ReplaceConfig makes the config vars exactly cfg (a rollback) and records
// a release running build buildID ("": the current build).
func (s *Store) ReplaceConfig(cfg map[string]string, description, buildID string) (Release, error) {
	tx, err := s.db.Begin()
	if err != nil {
		return Release{}, err
	}
	defer tx.Rollback()
	if _, err := tx.Exec("DELETE FROM config_vars"); err != nil {
		return Release{}, err
	}
	for k, v := range cfg {
		if _, err := tx.Exec("INSERT INTO config_vars(key, value) VALUES(?, ?)", k, v); err != nil {
			return Release{}, err
		}
	}
	rel, err := addRelease(tx, description, buildID)
	if err != nil {
		return Release{}, err
	}
	return rel, tx.Commit()
}

// AddRelease records a release of the current config (e.g. "Initial release").
func (s *Store) AddRelease(description, buildID string) (Release, error) {
	tx, err := s.db.Begin()
	if err != nil {
		return Release{}, err
	}
	defer tx.Rollback()
	rel, err := addRelease(tx, description, buildID)
	if err != nil {
		return Release{}, err
	}
	return rel, tx.Commit()
}

// addRelease records a release of the current config vars. A release
// without a build of its own (a config change) runs the build of the
// release before it, as a Heroku release reuses the slug.
func addRelease(tx *sql.Tx, description, buildID string) (Release, error) {
	if buildID == "" {
		err := tx.QueryRow("SELECT build_id FROM releases WHERE status = 'succeeded' ORDER BY version DESC LIMIT 1").Scan(&buildID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Release{}, err
		}
	}
	cfg := map[string]string{}
	rows, err := tx.Query("SELECT key, value FROM config_vars")
	if err != nil {
		return Release{}, err
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return Release{}, err
		}
		cfg[k] = v
	}
	rows.Close()
	blob, _ := json.Marshal(cfg)
	now := time.Now().UTC()
	res, err := tx.Exec("INSERT INTO releases(version, description, created_at, config, build_id) VALUES((SELECT COALESCE(MAX(version), 0) + 1 FROM releases), ?, ?, ?, ?)",
		description, now.Format(timeFormat), string(blob), buildID)
	if err != nil {
		return Release{}, err
	}
	id, _ := res.LastInsertId()
	return Release{Version: int(id), Description: description, CreatedAt: now, Config: cfg, BuildID: buildID, Status: "succeeded"}, nil
}

// Releases lists releases, newest first, at most limit (0: all).
func (s *Store) Releases(limit int) ([]Release, error) {
	q := "SELECT version, description, created_at, config, build_id, status, phase FROM releases ORDER BY version DESC"
	if limit > 0 {
		q += " LIMIT " + strconv.Itoa(limit)
	}
	rows, err := s.db.Query(q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Release
	for rows.Next() {
		var r Release
		var at, cfg string
		if err := rows.Scan(&r.Version, &r.Description, &at, &cfg, &r.BuildID, &r.Status, &r.Phase); err != nil {
			return nil, err
		}
		r.CreatedAt, _ = time.Parse(timeFormat, at)
		json.Unmarshal([]byte(cfg), &r.Config)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErrNoRelease is returned for a release version that does not exist.
var ErrNoRelease = errors.New("no such release")

// Release returns one release by version.
func (s *Store) Release(version int) (Release, error) {
	var r Release
	var at, cfg string
	err := s.db.QueryRow("SELECT version, description, created_at, config, build_id, status, phase FROM releases WHERE version = ?", version).
		Scan(&r.Version, &r.Description, &at, &cfg, &r.BuildID, &r.Status, &r.Phase)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("%w v%d", ErrNoRelease, version)
	}
	if err != nil {
		return r, err
	}
	r.CreatedAt, _ = time.Parse(timeFormat, at)
	json.Unmarshal([]byte(cfg), &r.Config)
	return r, nil
}

// SetReleaseOutcome records a release's status ("succeeded", "failed")
// and how its release phase went.
func (s *Store) SetReleaseOutcome(version int, status, phase string) error {
	_, err := s.db.Exec("UPDATE releases SET status = ?, phase = ? WHERE version = ?", status, phase, version)
	return err
}

// --- builds ---

// CurrentRelease is the newest release that succeeded: the one running.
// It returns ErrNoRelease when there is none.
func (s *Store) CurrentRelease() (Release, error) {
	var v int
	err := s.db.QueryRow("SELECT version FROM releases WHERE status = 'succeeded' ORDER BY version DESC LIMIT 1").Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return Release{}, ErrNoRelease
	}
	if err != nil {
		return Release{}, err
	}
	return s.Release(v)
}

// --- dyno events ---

// --- add-on records ---

// --- log history ---
