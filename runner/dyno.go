package runner

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/internal/proc"
	"github.com/dynobox/dynobox/runner/logbus"
)

// State is a dyno's state, in Heroku's words.
type State string

const (
	Starting State = "starting"
	Up       State = "up"
	Crashed  State = "crashed"
	Down     State = "down"
)

// DynoInfo is a snapshot of one dyno for display.
type DynoInfo struct {
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Command    string    `json:"command"`
	State      State     `json:"state"`
	Since      time.Time `json:"since"`
	Port       int       `json:"port"`
	PID        int       `json:"pid,omitempty"`
	Restarts   int       `json:"restarts"` // crash restarts, as the dyno manager made them; not deploys or ps:restart
	ExitStatus *int      `json:"exit_status,omitempty"`
}

// control is a request to a running dyno, from ps:restart and ps:stop.
type control int

const (
	ctlRestart control = iota // stop the process (SIGTERM, grace) and start it again
	ctlStop                   // stop the process and stay down until restarted
)

// outcome says why runOnce returned.
type outcome int

const (
	exitedItself  outcome = iota // the process exited: a crash, restart with backoff
	shutDown                     // the supervisor is stopping or removing the dyno
	restarted                    // ctlRestart
	stoppedByUser                // ctlStop
)

// dyno supervises one process-type instance. Its run goroutine owns the
// process; other goroutines read snapshots under mu and signal through the
// channels.
type dyno struct {
	slot Slot
	sup  *Supervisor

	mu       sync.Mutex
	state    State
	since    time.Time
	pid      int
	restarts int
	exit     *int
	cmd      string // the Procfile command; a reloaded Procfile can change it
	draining bool   // its process got SIGTERM and has not exited yet
	booted   bool   // it has been starting at least once
	cooloff  bool   // crashed and waiting out a restart delay

	replacing bool // a preboot replacement is booting; guarded by the supervisor's mu

	cgDir string // the current process's cgroup, or ""; owned by the run goroutine

	ctl                chan control // ps:restart / ps:stop requests
	stopOnce, killOnce sync.Once
	stop, kill         chan struct{} // closed to ask for a graceful stop / an immediate kill
	done               chan struct{} // closed when run returns
}

func newDyno(s *Supervisor, slot Slot) *dyno {
	return &dyno{slot: slot, cmd: slot.Command, sup: s, state: Down, since: time.Now(), ctl: make(chan control, 4),
		stop: make(chan struct{}), kill: make(chan struct{}), done: make(chan struct{})}
}

func (d *dyno) info() DynoInfo {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.infoLocked()
}

func (d *dyno) infoLocked() DynoInfo {
	var exit *int
	if d.state == Crashed || d.state == Down {
		exit = d.exit // a dyno that is up again has no exit status
	}
	return DynoInfo{Name: d.slot.Name, Type: d.slot.Type, Command: d.cmd, State: d.state,
		Since: d.since, Port: d.slot.Port, PID: d.pid, Restarts: d.restarts, ExitStatus: exit}
}

// command is what the dyno runs at its next start.
func (d *dyno) command() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cmd
}

// setDraining marks the dyno's process as stopping (or not) and tells the
// supervisor's watchers (the router), which stop sending it requests.
func (d *dyno) setDraining(v bool) {
	d.mu.Lock()
	d.draining = v
	d.mu.Unlock()
	d.sup.mu.Lock()
	d.sup.notifyLocked()
	d.sup.mu.Unlock()
}

// fresh reports whether the dyno has not begun its first start yet.
// webSnapshot reads the state and the router's flags under one lock, so a
// dyno moving from down to starting is never seen as neither.
func (d *dyno) webSnapshot() (info DynoInfo, fresh, draining, restartingNow bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.infoLocked(), !d.booted, d.draining, d.restartingNowLocked()
}

func (d *dyno) setCommand(c string) {
	d.mu.Lock()
	d.cmd = c
	d.mu.Unlock()
}

func (d *dyno) event(format string, args ...any) {
	d.sup.cfg.Bus.Event(logbus.SourceHeroku, d.slot.Name, fmt.Sprintf(format, args...))
}

// setState records and logs a state change.
func (d *dyno) setState(s State) {
	d.mu.Lock()
	old := d.state
	d.state, d.since = s, time.Now()
	d.booted = d.booted || s == Starting
	var status *int
	if s == Crashed || s == Down {
		status = d.exit
	}
	d.mu.Unlock()
	if old != s {
		d.event("State changed from %s to %s", old, s)
		d.sup.stateChanged(d.slot, old, s, status)
	}
}

func (d *dyno) requestStop() { d.stopOnce.Do(func() { close(d.stop) }) }
func (d *dyno) requestKill() { d.killOnce.Do(func() { close(d.kill) }) }

// send queues a control request; a full queue means one is pending anyway.
func (d *dyno) send(c control) {
	select {
	case d.ctl <- c:
	default:
	}
}

// run starts the dyno and restarts it after every exit until shut down.
func (d *dyno) run() {
	defer close(d.done)
	crashes := 0
	for {
		started := d.sup.now()
		status, why := d.runOnce()
		switch why {
		case shutDown:
			return
		case restarted: // by hand, a deploy or a config change: not a crash, not counted
			crashes = 0
			continue
		case stoppedByUser:
			if !d.waitForRestart() {
				return
			}
			crashes = 0
			continue
		}
		d.sup.reportCrash(d.slot.Name, status)
		if d.sup.cfg.ExitOnCrash {
			<-d.stop // the supervisor is stopping everything
			d.setState(Down)
			return
		}
		if d.sup.now().Sub(started) >= d.sup.cfg.Backoff.StableAfter {
			crashes = 0
		}
		delay := d.sup.cfg.Backoff.Delay(crashes)
		crashes++
		if delay > 0 {
			d.event("Restarting in %s (crash %d in a row)", delay, crashes)
		}
		d.mu.Lock()
		d.cooloff = delay > 0
		d.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case c := <-d.ctl:
			t.Stop()
			if c == ctlStop {
				d.setState(Down)
				if !d.waitForRestart() {
					return
				}
			}
			crashes = 0 // a restart by hand resets the cool-off, as on Heroku
		case <-d.stop:
			t.Stop()
			d.setState(Down)
			return
		}
		d.mu.Lock()
		d.cooloff = false
		d.mu.Unlock()
		d.countRestart()
	}
}

// restartingNow: crashed, but restarting at once rather than after a delay.
func (d *dyno) restartingNowLocked() bool {
	return d.state == Crashed && !d.cooloff && !d.sup.cfg.ExitOnCrash
}

func (d *dyno) countRestart() {
	d.mu.Lock()
	d.restarts++
	d.mu.Unlock()
}

// waitForRestart parks a stopped dyno until ps:restart (true) or shutdown.
func (d *dyno) waitForRestart() bool {
	for {
		select {
		case c := <-d.ctl:
			if c == ctlRestart {
				return true
			}
		case <-d.stop:
			return false
		}
	}
}

// runOnce runs the process once and says why it ended.
func (d *dyno) runOnce() (int, outcome) {
	cfg := &d.sup.cfg
	select {
	case <-d.stop:
		return 0, shutDown
	default:
	}
	d.setState(Starting)
	command := d.command()
	d.event("Starting process with command `%s`", command)

	pr, pw, err := outputPipe()
	if err != nil {
		d.event("Error starting process: %v", err)
		return 127, exitedItself
	}
	dir, cleanup, err := d.sup.dynoRoot(d.slot.Name)
	if err != nil {
		pr.Close()
		pw.Close()
		d.event("Error starting process: %v", err)
		return 127, exitedItself
	}
	defer cleanup() // a pushed release's copy of its slug: what the dyno wrote goes with it
	cmd := shellCommand(dir, command, d.sup.dynoEnv(d.slot, dir))
	cmd.Stdin = nil // /dev/null, as on Heroku
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd, cgDir, err := startChild(cmd, d.sup.cg, d.slot.Name)
	pw.Close()
	d.cgDir = cgDir
	if err != nil {
		pr.Close()
		d.event("Error starting process: %v", err)
		return 127, exitedItself
	}
	pid := cmd.Process.Pid
	d.mu.Lock()
	d.pid = pid
	d.mu.Unlock()
	go func() {
		logbus.Pump(cfg.Bus, pr, logbus.SourceApp, d.slot.Name)
		pr.Close()
	}()

	exited := make(chan int, 1)
	go func() {
		cmd.Wait()
		proc.ChildDone(pid)
		exited <- exitStatus(cmd.ProcessState)
	}()

	finish := func(status int, next State) int {
		proc.SignalGroup(pid, syscall.SIGKILL) // whatever the main process left behind goes with it, as on Heroku
		killCgroup(cgDir)                      // daemons too, even those that left the group and cleared their env
		d.event("Process exited with status %d", status)
		d.mu.Lock()
		d.pid = 0
		d.exit = &status
		d.mu.Unlock()
		d.setState(next)
		return status
	}

	var up <-chan struct{}
	var bootTimeout <-chan time.Time
	probeDone := make(chan struct{})
	defer close(probeDone)
	if d.slot.Type == "web" {
		up = waitListening(d.slot.Port, probeDone)
		t := time.NewTimer(cfg.BootTimeout)
		defer t.Stop()
		bootTimeout = t.C
	} else {
		d.setState(Up)
	}

	for {
		select {
		case <-up:
			up, bootTimeout = nil, nil
			d.setState(Up)
		case <-bootTimeout:
			d.event("Error R10 (Boot timeout) -> Web process failed to bind to $PORT within %s of launch", humanDuration(cfg.BootTimeout))
			d.event("Stopping process with SIGKILL")
			proc.SignalGroup(pid, syscall.SIGKILL)
			return finish(<-exited, Crashed), exitedItself
		case st := <-exited:
			return finish(st, Crashed), exitedItself
		case c := <-d.ctl:
			if c == ctlRestart {
				return d.terminate(pid, exited, finish, Starting), restarted
			}
			return d.terminate(pid, exited, finish, Down), stoppedByUser
		case <-d.stop:
			return d.terminate(pid, exited, finish, Down), shutDown
		case <-d.kill:
			return d.terminate(pid, exited, finish, Down), shutDown
		}
	}
}

// terminate stops the dyno's process group: SIGTERM, the grace period for
// every process of the group to exit, then SIGKILL (Heroku's R12). A kill
// request (a second Ctrl-C) cuts the grace short.
func (d *dyno) terminate(pid int, exited <-chan int, finish func(int, State) int, next State) int {
	d.setDraining(true)
	defer d.setDraining(false)
	status, gotStatus := 0, false
	killAll := func() int {
		proc.SignalGroup(pid, syscall.SIGKILL)
		if !gotStatus {
			status = <-exited
		}
		return finish(status, next)
	}
	if isClosed(d.kill) {
		d.event("Stopping all processes with SIGKILL")
		return killAll()
	}
	grace := d.sup.cfg.StopTimeout
	d.event("Stopping all processes with SIGTERM")
	proc.SignalGroup(pid, syscall.SIGTERM)
	signalCgroup(d.cgDir, syscall.SIGTERM) // those that left the group too
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if gotStatus && !proc.GroupAlive(pid) {
			return finish(status, next)
		}
		select {
		case status = <-exited:
			gotStatus = true
			exited = nil
		case <-tick.C: // the main process may be gone while others in its group linger
		case <-deadline.C:
			d.event("Error R12 (Exit timeout) -> At least one process failed to exit within %s of SIGTERM", humanDuration(grace))
			d.event("Stopping remaining processes with SIGKILL")
			return killAll()
		case <-d.kill:
			d.event("Stopping remaining processes with SIGKILL")
			return killAll()
		}
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// waitListening closes the returned channel once something accepts TCP
// connections on the port, on IPv4 or IPv6 loopback.
func waitListening(port int, cancel <-chan struct{}) <-chan struct{} {
	up := make(chan struct{})
	addrs := []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), net.JoinHostPort("::1", strconv.Itoa(port))}
	go func() {
		// Every 5 ms for the first second (a rebuilt web dyno usually binds
		// within it, and the router switches to it as soon as it is up), then
		// every 25 ms.
		started := time.Now()
		for {
			for _, a := range addrs {
				if c, err := net.DialTimeout("tcp", a, 250*time.Millisecond); err == nil {
					c.Close()
					close(up)
					return
				}
			}
			every := 25 * time.Millisecond
			if time.Since(started) < time.Second {
				every = 5 * time.Millisecond
			}
			select {
			case <-cancel:
				return
			case <-time.After(every):
			}
		}
	}()
	return up
}

// exitStatus is the shell's convention: the exit code, or 128+signal.
func exitStatus(ps *os.ProcessState) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// humanDuration prints 60s as "60 seconds", as Heroku's messages do.
func humanDuration(d time.Duration) string {
	if d%time.Second == 0 {
		n := int(d / time.Second)
		if n == 1 {
			return "1 second"
		}
		return fmt.Sprintf("%d seconds", n)
	}
	return d.String()
}
