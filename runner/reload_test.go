package runner

import (
	"reflect"
	"testing"
	"time"
)

// pid is the pid of the named dyno (0 if none).
func (h *harness) pid(name string) int {
	for _, d := range h.sup.Dynos() {
		if d.Name == name {
			return d.PID
		}
	}
	return 0
}

func TestDiffProcfiles(t *testing.T) {
	t.Parallel()
	old := testProcfile(t, "web: a\nworker: b\nclock: c\nrelease: r\n")
	new := testProcfile(t, "web: a\nworker: b2\nmailer: m\nrelease: r2\n")
	got := DiffProcfiles(old, new)
	want := ProcfileDiff{Added: []string{"mailer"}, Removed: []string{"clock"}, Changed: []string{"worker"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("diff %+v, want %+v (a changed release command is no dyno change)", got, want)
	}
	if s := got.String(); s != "added mailer; removed clock; changed worker" {
		t.Fatalf("String() = %q", s)
	}
	if !DiffProcfiles(old, old).Empty() {
		t.Fatal("a Procfile differs from itself")
	}
}

// A reloaded Procfile stops removed types, restarts changed ones on their
// new command and starts added ones; unchanged dynos keep running.
func TestApplyProcfileStartsStopsAndRestartsTypes(t *testing.T) {
	t.Parallel()
	pf := testProcfile(t, "keep: echo keep up; exec sleep 100\nchange: echo old command; exec sleep 100\ngone: echo gone up; exec sleep 100\n")
	public := freeTestPort(t)
	slots, err := Plan(pf, DefaultFormation(pf, nil), public, func(int) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	h := startSupervisor(t, slots, func(c *Config) { c.Procfile, c.PublicPort = pf, public })
	h.waitApp("keep.1", "keep up")
	h.waitApp("change.1", "old command")
	h.waitApp("gone.1", "gone up")
	keepPID := h.pid("keep.1")

	next := testProcfile(t, "keep: echo keep up; exec sleep 100\nchange: echo new command; exec sleep 100\nadded: echo added up; exec sleep 100\n")
	diff := h.sup.ApplyProcfile(next, DefaultFormation(next, nil))
	if !reflect.DeepEqual(diff, ProcfileDiff{Added: []string{"added"}, Removed: []string{"gone"}, Changed: []string{"change"}}) {
		t.Fatalf("diff %+v", diff)
	}
	h.waitApp("change.1", "new command")
	h.waitApp("added.1", "added up")
	h.waitLog("gone.1", "State changed from up to down")
	for deadline := time.Now().Add(wait); h.pid("gone.1") != 0 || len(h.sup.Dynos()) != 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gone.1 did not leave the formation: %+v", h.sup.Dynos())
		}
	}
	if got := h.sup.Formation(); !reflect.DeepEqual(got, map[string]int{"keep": 1, "change": 1, "added": 1}) {
		t.Fatalf("formation %v", got)
	}
	if h.pid("keep.1") != keepPID {
		t.Fatal("an unchanged type was restarted")
	}
	for _, d := range h.sup.Dynos() {
		if d.Name == "change.1" && d.Command != "echo new command; exec sleep 100" {
			t.Fatalf("change.1 shows the command %q", d.Command)
		}
	}
}

// ps shows a crashed dyno's exit status, and none once it is up again.
func TestExitStatusOnlyWhileNotRunning(t *testing.T) {
	t.Parallel()
	h := startSupervisor(t, []Slot{slot("worker", 1, 0, "if [ -e crashed ]; then echo back; exec sleep 100; fi; touch crashed; exit 3")}, nil)
	h.waitLog("worker.1", "Process exited with status 3")
	h.waitApp("worker.1", "back") // may come before the dyno is marked up
	for deadline := time.Now().Add(wait); h.sup.Dynos()[0].State != Up; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("worker.1 did not come up again: %+v", h.sup.Dynos()[0])
		}
	}
	if d := h.sup.Dynos()[0]; d.ExitStatus != nil {
		t.Fatalf("worker.1 is up with exit status %v, want none", *d.ExitStatus)
	}
}

// listenCommand binds $PORT and ignores SIGTERM, so that a dyno told to
// stop stays up through its grace period.
const listenCommand = `exec python3 -c "
import os, signal, socket, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(); time.sleep(1000)"`

// A web dyno told to stop finishes its requests but gets no new ones while
// another web dyno is up; alone, it keeps serving until it is down.
func TestStoppingWebDynoGetsRequestsOnlyWhenAlone(t *testing.T) {
	t.Parallel()
	p1, p2 := freeTestPort(t), freeTestPort(t)
	h := startSupervisor(t, []Slot{slot("web", 1, p1, listenCommand), slot("web", 2, p2, listenCommand)}, func(c *Config) {
		c.StopTimeout = 3 * time.Second
	})
	h.waitLog("web.1", "State changed from starting to up")
	h.waitLog("web.2", "State changed from starting to up")
	if up, st := h.sup.Web(); st != WebReady || len(up) != 2 {
		t.Fatalf("Web() = %v, %v; want both", up, st)
	}
	changed := h.sup.Changed()
	h.sup.StopDynos(Select{Dyno: "web.1"})
	h.waitLog("web.1", "Stopping all processes with SIGTERM")
	select {
	case <-changed: // the router, which caches Web(), hears of it
	case <-time.After(wait):
		t.Fatal("no change was announced when web.1 began to stop")
	}
	if up, _ := h.sup.Web(); len(up) != 1 || up[0].Name != "web.2" {
		t.Fatalf("Web() = %+v while web.1 stops; want web.2 only", up)
	}
	h.sup.StopDynos(Select{Dyno: "web.2"})
	h.waitLog("web.2", "Stopping all processes with SIGTERM")
	if up, st := h.sup.Web(); st != WebReady || len(up) != 2 {
		t.Fatalf("Web() = %+v, %v with both stopping; want both still serving", up, st)
	}
}
