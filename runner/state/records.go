package state

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The smaller records: builds, dyno events, add-ons and log history.

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
