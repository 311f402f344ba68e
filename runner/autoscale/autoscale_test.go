package autoscale

import (
	"strings"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	s := Settings{Min: 1, Max: 3, P95: 500 * time.Millisecond}
	full := time.Minute
	busy := func(n int, p95, mean time.Duration, span time.Duration) Window {
		return Window{Span: span, Full: full, Requests: n, P95: p95, Mean: mean}
	}
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		dynos  int
		s      Settings
		w      Window
		delta  int
		reason string
	}{
		{"over target adds one", 1, s, busy(600, 812*ms, 700*ms, full), +1, "p95 812ms > 500ms"},
		{"over target soon after a change adds one", 2, s, busy(50, 812*ms, 700*ms, 10*time.Second), +1, "p95 812ms > 500ms"},
		{"over target at max holds", 3, s, busy(600, 812*ms, 700*ms, full), 0, "maximum of 3"},
		{"too few requests to judge", 1, s, busy(3, 2000*ms, 2000*ms, full), 0, "holding"},
		{"at target holds", 2, s, busy(600, 500*ms, 300*ms, full), 0, "not well under"},
		{"under but not well under holds", 2, s, busy(600, 300*ms, 200*ms, full), 0, "not well under"},
		{"well under but not for a whole window holds", 2, s, busy(100, 100*ms, 100*ms, 30*time.Second), 0, "holding"},
		{"well under, one fewer holds the throughput: removes one", 3, s, busy(600, 120*ms, 100*ms, full), -1, "p95 120ms < 250ms"},
		// 10 req/s × 100 ms = 1 request in flight: one dyno would be at 100%.
		{"well under, one fewer would be overloaded: holds", 2, s, busy(600, 120*ms, 100*ms, full), 0, "in flight"},
		{"idle for a window removes one", 2, s, busy(0, 0, 0, full), -1, "no requests for 1m0s"},
		{"idle at min holds", 1, s, busy(0, 0, 0, full), 0, "holding"},
		{"below min adds one", 0, s, busy(0, 0, 0, full), +1, "below the minimum"},
		{"above max removes one, even under load", 5, s, busy(600, 900*ms, 900*ms, full), -1, "above the maximum"},
		{"min equals max never moves", 2, Settings{Min: 2, Max: 2, P95: s.P95}, busy(600, 900*ms, 900*ms, full), 0, "maximum of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.dynos, tc.s, tc.w)
			if d.Delta != tc.delta || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("Decide(%d, %+v, %+v) = %+v, want %+d with %q", tc.dynos, tc.s, tc.w, d, tc.delta, tc.reason)
			}
			if n := tc.dynos + d.Delta; d.Delta != 0 && (n < tc.s.Min && d.Delta < 0 || n > tc.s.Max && d.Delta > 0) {
				t.Errorf("stepped out of %d..%d to %d", tc.s.Min, tc.s.Max, n)
			}
		})
	}
}

func TestSettingsCheck(t *testing.T) {
	for _, s := range []Settings{{Min: 0, Max: 2, P95: time.Second}, {Min: 3, Max: 2, P95: time.Second}, {Min: 1, Max: 101, P95: time.Second}, {Min: 1, Max: 2}} {
		if s.Check() == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	if err := (Settings{Min: 1, Max: 1, P95: time.Millisecond}).Check(); err != nil {
		t.Error(err)
	}
}
