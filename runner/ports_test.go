package runner

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The 11th type's first port in foreman's pattern is public + 1000, the
// dashboard's: no dyno gets a port dynobox listens on.
func TestPlanSkipsReservedPorts(t *testing.T) {
	var pf strings.Builder
	counts := map[string]int{}
	for i := range 12 {
		fmt.Fprintf(&pf, "t%d: exec sleep 1000\n", i)
		counts[fmt.Sprint("t", i)] = 1
	}
	public := 40000
	all := func(int) bool { return true }
	slots, err := Plan(testProcfile(t, pf.String()), counts, public, all, public+1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if s.Port == public+1000 {
			t.Fatalf("%s got the dashboard's port %d", s.Name, s.Port)
		}
	}
	if slots[10].Port != public+1001 {
		t.Fatalf("t10.1 got %d, want the next port after the dashboard's", slots[10].Port)
	}
}

// A port search is bounded: no free port says so instead of spinning.
func TestFreePortIsBounded(t *testing.T) {
	none := func(int) bool { return false }
	if _, err := FreePort("web.1", 65000, map[int]bool{}, none); err == nil || !strings.Contains(err.Error(), "no free port for web.1 between 65000 and 65535") {
		t.Fatalf("got %v", err)
	}
	if _, err := FreePort("web.1", 20000, map[int]bool{}, none); err == nil || !strings.Contains(err.Error(), "no free port for web.1 among the 1000 ports from 20000") {
		t.Fatalf("got %v", err)
	}
}

// ps:scale of a type whose ports would pass 65535 fails with a clear
// error, and the supervisor still answers and stops.
func TestScaleOfTheSevenHundredthType(t *testing.T) {
	t.Parallel()
	var text strings.Builder
	for i := range 700 {
		fmt.Fprintf(&text, "t%d: exec sleep 1000\n", i)
	}
	pf := testProcfile(t, text.String())
	h := startSupervisor(t, nil, func(c *Config) { c.Procfile, c.PublicPort = pf, 5006 })
	err := h.sup.Scale("t699", 1)
	if err == nil || !strings.Contains(err.Error(), "no free port for t699.1 between 74906 and 65535") {
		t.Fatalf("got %v", err)
	}
	h.sup.Stop()
}

// A web dyno restarted behind the router (preboot) gets the next free port
// after its own, not one below the public port, nor the dashboard's.
func TestPrebootPortFollowsThePattern(t *testing.T) {
	t.Parallel()
	pf := testProcfile(t, "web: exec sleep 1000\n")
	public := freeTestPort(t)
	h := startSupervisor(t, []Slot{slot("web", 1, public+1, "exec sleep 1000")}, func(c *Config) {
		c.Procfile, c.PublicPort, c.Reserved = pf, public, []int{public + 2}
		c.BootTimeout = time.Second // sleep never binds: the replacement fails its boot quickly
	})
	h.waitLog("web.1", "State changed from down to starting")
	if _, err := h.sup.Restart(Select{Type: "web"}); err != nil {
		t.Fatal(err)
	}
	line := h.waitLog("web.1", "Restarting with preboot")
	// public+3 unless another test's process holds it right then: the
	// next free one after it.
	var port int
	if _, err := fmt.Sscanf(line.Text[strings.Index(line.Text, "starts on port "):], "starts on port %d,", &port); err != nil {
		t.Fatalf("%q: %v", line.Text, err)
	}
	if port < public+3 || port > public+100 {
		t.Fatalf("%q: want the next free port after %d (its own) and %d (reserved)", line.Text, public+1, public+2)
	}
}

// The router holds the public port: web.1 gets a port of its own when
// planned and when scaled up at runtime, never the public one.
func TestWebDynosLeaveThePublicPortToTheRouter(t *testing.T) {
	t.Parallel()
	pf := testProcfile(t, "web: exec sleep 1000\nworker: exec sleep 1000\n")
	public := freeTestPort(t)
	all := func(int) bool { return true }
	slots, err := Plan(pf, map[string]int{"web": 2, "worker": 1}, public, all)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(slots[0].Port-public, slots[1].Port-public, slots[2].Port-public)
	if got != "1 2 100" {
		t.Fatalf("web.1, web.2, worker.1 at public + %s, want public + 1 2 100", got)
	}

	h := startSupervisor(t, nil, func(c *Config) { c.Procfile, c.PublicPort = pf, public })
	if err := h.sup.Scale("web", 1); err != nil {
		t.Fatal(err)
	}
	h.waitLog("web.1", "State changed from down to starting")
	if d := h.sup.Dynos(); len(d) != 1 || d[0].Port == public {
		t.Fatalf("scaled-up web.1: %+v, want a port other than the public %d", d, public)
	}
}
