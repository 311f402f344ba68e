// Package autoscale decides, from the router's numbers, whether the web
// dynos should be one more or one fewer — Heroku's autoscaling for web
// dynos, on a p95 response-time target.
//
// Decide is a pure function of the formation, the settings and a window
// of router metrics, so that its rules are tested as a table; the runner
// calls it every interval and applies what it says like a ps:scale.
//
// The rules: a p95 over the target adds a dyno; a p95 well under it (half)
// for a whole window, when one fewer dyno would still carry the
// throughput, removes one; one step per decision; never outside min..max
// (a formation outside them moves one step towards them). The window
// starts no earlier than the last change, so a decision judges the
// formation it would change, not the one before.
package autoscale

import (
	"fmt"
	"time"
)

// Settings are what ps:autoscale:enable sets for a process type.
type Settings struct {
	Min           int           `json:"min"`
	Max           int           `json:"max"`
	P95           time.Duration `json:"-"`
	Notifications bool          `json:"notifications"`
}

// Check says what is wrong with s, as a user would fix it.
func (s Settings) Check() error {
	switch {
	case s.Min < 1:
		return fmt.Errorf("--min %d: autoscaling keeps at least 1 dyno", s.Min)
	case s.Max < s.Min:
		return fmt.Errorf("--max %d is under --min %d", s.Max, s.Min)
	case s.Max > 100:
		return fmt.Errorf("--max %d: at most 100 dynos of one type", s.Max)
	case s.P95 < time.Millisecond:
		return fmt.Errorf("--p95 must be a response time in milliseconds, at least 1")
	}
	return nil
}

// Window is the router's numbers since the last change (at most one
// autoscaling window back).
type Window struct {
	Span     time.Duration // how long the numbers cover
	Full     time.Duration // the autoscaling window: Span reaches it once the formation has been unchanged that long
	Requests int
	P95      time.Duration
	Mean     time.Duration // mean response time: with the throughput, how many requests are in the dynos at a time
}

// Decision is what to do: Delta is +1, −1 or 0; Reason says why, for
// the log line ("p95 812ms > 500ms").
type Decision struct {
	Delta  int
	Reason string
}

// MinRequests is how many requests a window needs before its p95 is
// trusted for a scale-up.
const MinRequests = 10

// Headroom is how busy the dynos left after a scale-down may be: the
// requests in flight (throughput × mean response time, Little's law) per
// remaining dyno must stay under it. Under 1, so a dyno serving one
// request at a time is not left with a queue.
const Headroom = 0.7

// Decide is one autoscaling decision for dynos running dynos.
func Decide(dynos int, s Settings, w Window) Decision {
	switch {
	case dynos < s.Min:
		return Decision{+1, fmt.Sprintf("%d below the minimum of %d", dynos, s.Min)}
	case dynos > s.Max:
		return Decision{-1, fmt.Sprintf("%d above the maximum of %d", dynos, s.Max)}
	}
	if w.Requests >= MinRequests && w.P95 > s.P95 {
		if dynos >= s.Max {
			return Decision{0, fmt.Sprintf("p95 %s > %s but already at the maximum of %d", ms(w.P95), ms(s.P95), s.Max)}
		}
		return Decision{+1, fmt.Sprintf("p95 %s > %s", ms(w.P95), ms(s.P95))}
	}
	if dynos <= s.Min || w.Span < w.Full {
		return Decision{0, "holding"}
	}
	if w.Requests > 0 && w.P95 >= s.P95/2 {
		return Decision{0, fmt.Sprintf("p95 %s not well under %s", ms(w.P95), ms(s.P95))}
	}
	inflight := float64(w.Requests) / w.Span.Seconds() * w.Mean.Seconds()
	if inflight > Headroom*float64(dynos-1) {
		return Decision{0, fmt.Sprintf("%.1f requests in flight need %d dynos", inflight, dynos)}
	}
	if w.Requests == 0 {
		return Decision{-1, fmt.Sprintf("no requests for %s", w.Span.Round(time.Second))}
	}
	return Decision{-1, fmt.Sprintf("p95 %s < %s", ms(w.P95), ms(s.P95/2))}
}

func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }
