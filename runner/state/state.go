// Package state is dynobox's memory between runs: formation, config vars,
// releases, dyno events, add-on records and log history, in one SQLite
// database in the app's state directory. Nothing else in dynobox talks SQL.
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
	// The database, and the -wal and -shm files SQLite creates with the
	// database's mode, are the app's secrets: 0600 from the start.
	if f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
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
		return err
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
		return err
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

// Build is a recorded build.
type Build struct {
	ID       string        `json:"id"`
	Started  time.Time     `json:"started_at"`
	Duration time.Duration `json:"duration"`
	Status   string        `json:"status"`
	Kind     string        `json:"kind"`
	Output   string        `json:"output,omitempty"`
}

// AddBuild records a build.
func (s *Store) AddBuild(b Build) error {
	_, err := s.db.Exec("INSERT INTO builds(id, started_at, duration_ms, status, kind, output) VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET status = excluded.status, output = excluded.output",
		b.ID, b.Started.UTC().Format(timeFormat), b.Duration.Milliseconds(), b.Status, b.Kind, b.Output)
	return err
}

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

// CurrentBuild is the build the current release runs ("" if none).
func (s *Store) CurrentBuild() (string, error) {
	r, err := s.CurrentRelease()
	if errors.Is(err, ErrNoRelease) {
		return "", nil
	}
	return r.BuildID, err
}

// Build returns one recorded build.
func (s *Store) Build(id string) (Build, error) {
	var b Build
	var at string
	var ms int64
	err := s.db.QueryRow("SELECT id, started_at, duration_ms, status, kind, output FROM builds WHERE id = ?", id).
		Scan(&b.ID, &at, &ms, &b.Status, &b.Kind, &b.Output)
	if errors.Is(err, sql.ErrNoRows) {
		return b, fmt.Errorf("no build %s is recorded", id)
	}
	b.Started, _ = time.Parse(timeFormat, at)
	b.Duration = time.Duration(ms) * time.Millisecond
	return b, err
}

// Builds lists builds, newest first, at most limit.
func (s *Store) Builds(limit int) ([]Build, error) {
	rows, err := s.db.Query("SELECT id, started_at, duration_ms, status, kind, output FROM builds ORDER BY started_at DESC LIMIT ?", limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Build
	for rows.Next() {
		var b Build
		var at string
		var ms int64
		if err := rows.Scan(&b.ID, &at, &ms, &b.Status, &b.Kind, &b.Output); err != nil {
			return nil, err
		}
		b.Started, _ = time.Parse(timeFormat, at)
		b.Duration = time.Duration(ms) * time.Millisecond
		out = append(out, b)
	}
	return out, rows.Err()
}

// --- dyno events ---

// DynoEvent is a state change of a dyno.
type DynoEvent struct {
	At         time.Time `json:"at"`
	Dyno       string    `json:"dyno"`
	Type       string    `json:"type"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	ExitStatus *int      `json:"exit_status,omitempty"`
}

// AddDynoEvent records a state change, keeping the table bounded.
func (s *Store) AddDynoEvent(e DynoEvent) error {
	_, err := s.db.Exec("INSERT INTO dyno_events(at, dyno, type, from_state, to_state, exit_status) VALUES(?, ?, ?, ?, ?, ?)",
		e.At.UTC().Format(timeFormat), e.Dyno, e.Type, e.From, e.To, e.ExitStatus)
	if err != nil {
		return err
	}
	_, err = s.db.Exec("DELETE FROM dyno_events WHERE id <= (SELECT MAX(id) FROM dyno_events) - 10000")
	return err
}

// DynoEvents returns the last n events of a dyno ("" for all), oldest first.
func (s *Store) DynoEvents(dyno string, n int) ([]DynoEvent, error) {
	rows, err := s.db.Query(`SELECT at, dyno, type, from_state, to_state, exit_status FROM
		(SELECT * FROM dyno_events WHERE ? = '' OR dyno = ? ORDER BY id DESC LIMIT ?) ORDER BY id`, dyno, dyno, n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DynoEvent
	for rows.Next() {
		var e DynoEvent
		var at string
		var st sql.NullInt64
		if err := rows.Scan(&at, &e.Dyno, &e.Type, &e.From, &e.To, &st); err != nil {
			return nil, err
		}
		e.At, _ = time.Parse(timeFormat, at)
		if st.Valid {
			v := int(st.Int64)
			e.ExitStatus = &v
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// --- add-on records ---

// AddonRecord is an add-on attached to the app.
type AddonRecord struct {
	Name      string          `json:"name"`
	Plan      string          `json:"plan"`
	As        string          `json:"as,omitempty"`
	Options   map[string]bool `json:"options,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
}

// Addons lists attached add-ons in creation order.
func (s *Store) Addons() ([]AddonRecord, error) {
	rows, err := s.db.Query("SELECT name, plan, as_name, options, created_at FROM addons ORDER BY created_at, name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AddonRecord
	for rows.Next() {
		var a AddonRecord
		var at, opts string
		if err := rows.Scan(&a.Name, &a.Plan, &a.As, &opts, &at); err != nil {
			return nil, err
		}
		json.Unmarshal([]byte(opts), &a.Options)
		a.CreatedAt, _ = time.Parse(timeFormat, at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// AddAddon records an add-on; the name must be new.
func (s *Store) AddAddon(a AddonRecord) error {
	opts, _ := json.Marshal(a.Options)
	if a.Options == nil {
		opts = []byte("{}")
	}
	_, err := s.db.Exec("INSERT INTO addons(name, plan, as_name, options, created_at) VALUES(?, ?, ?, ?, ?)", a.Name, a.Plan, a.As, string(opts), a.CreatedAt.UTC().Format(timeFormat))
	if err != nil && strings.Contains(err.Error(), "UNIQUE") {
		return fmt.Errorf("an add-on named %q exists already", a.Name)
	}
	return err
}

// RemoveAddon forgets an add-on; it reports whether it existed.
func (s *Store) RemoveAddon(name string) (bool, error) {
	res, err := s.db.Exec("DELETE FROM addons WHERE name = ?", name)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// --- log history ---

// LogLine is one stored log line.
type LogLine struct {
	At      time.Time
	Source  string
	Process string
	Text    string
}

// AppendLogs stores lines in one transaction and trims history to keep.
func (s *Store) AppendLogs(ctx context.Context, lines []LogLine, keep int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.Prepare("INSERT INTO logs(at, source, process, text) VALUES(?, ?, ?, ?)")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, l := range lines {
		if _, err := stmt.Exec(l.At.UTC().Format(timeFormat), l.Source, l.Process, l.Text); err != nil {
			return err
		}
	}
	if _, err := tx.Exec("DELETE FROM logs WHERE id <= (SELECT MAX(id) FROM logs) - ?", keep); err != nil {
		return err
	}
	return tx.Commit()
}

// RecentLogs returns the last n stored lines, oldest first.
func (s *Store) RecentLogs(n int) ([]LogLine, error) {
	rows, err := s.db.Query("SELECT at, source, process, text FROM (SELECT * FROM logs ORDER BY id DESC LIMIT ?) ORDER BY id", n)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []LogLine
	for rows.Next() {
		var l LogLine
		var at string
		if err := rows.Scan(&at, &l.Source, &l.Process, &l.Text); err != nil {
			return nil, err
		}
		l.At, _ = time.Parse(timeFormat, at)
		out = append(out, l)
	}
	return out, rows.Err()
}
