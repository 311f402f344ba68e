package runner

import "time"

// Backoff is the crash-restart policy, Heroku's shape in developer-sized
// numbers: the first crash restarts at once, later ones wait First, then
// twice as long each time up to Max; a dyno that stayed up for StableAfter
// starts again from an immediate restart.
type Backoff struct {
	First       time.Duration
	Max         time.Duration
	StableAfter time.Duration
}

// DefaultBackoff waits 0, 1, 2, 4, 8, 16, 30, 30 … seconds.
var DefaultBackoff = Backoff{First: time.Second, Max: 30 * time.Second, StableAfter: 10 * time.Second}

// Delay returns the wait before restart number n (0 for the first crash).
func (b Backoff) Delay(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := b.First
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	return d
}
