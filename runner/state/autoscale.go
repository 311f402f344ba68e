package state

import (
	"database/sql"
	"errors"
	"time"
)

// Autoscale is a process type's autoscaling, as ps:autoscale:enable set it.
type Autoscale struct {
	Type          string
	Min, Max      int
	P95           time.Duration
	Notifications bool
}

// Autoscale returns the autoscaling of type t; ok is false when t is
// scaled by hand.
func (s *Store) Autoscale(t string) (a Autoscale, ok bool, err error) {
	var ms int64
	err = s.db.QueryRow("SELECT type, min, max, p95_ms, notifications FROM autoscale WHERE type = ?", t).
		Scan(&a.Type, &a.Min, &a.Max, &ms, &a.Notifications)
	if errors.Is(err, sql.ErrNoRows) {
		return Autoscale{}, false, nil
	}
	a.P95 = time.Duration(ms) * time.Millisecond
	return a, err == nil, err
}

// SetAutoscale remembers a type's autoscaling, replacing what it had.
func (s *Store) SetAutoscale(a Autoscale) error {
	_, err := s.db.Exec(`INSERT INTO autoscale(type, min, max, p95_ms, notifications) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT(type) DO UPDATE SET min = excluded.min, max = excluded.max, p95_ms = excluded.p95_ms, notifications = excluded.notifications`,
		a.Type, a.Min, a.Max, a.P95.Milliseconds(), a.Notifications)
	return err
}

// DeleteAutoscale returns type t to scaling by hand; ok is false if it was.
func (s *Store) DeleteAutoscale(t string) (ok bool, err error) {
	res, err := s.db.Exec("DELETE FROM autoscale WHERE type = ?", t)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}
