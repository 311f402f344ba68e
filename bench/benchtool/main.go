// Command benchtool is the measuring helper behind bench/logrelay.sh.
//
// It launches a Procfile runner (dynobox or a peer) with its output sent to a
// file, measures one thing, stops the runner the way a terminal would
// (SIGINT to its process group, then SIGTERM, then SIGKILL) and reaps anything
// the runner left behind: benchtool makes itself a child subreaper, so dynos
// orphaned by a runner are re-parented to it and are killed by their PID.
//
//	benchtool run   -dir D -out F [-timeout 5m] -- CMD...        wall and CPU time until CMD exits
//	benchtool first -dir D -out F -kind K -proc P -- CMD...      ms until P's first line appears in F
//	benchtool rss   -dir D -out F -dynos N [-settle 2s] -- CMD... summed RSS (and anon, PSS) of the runner's own processes
//	benchtool check -kind K -proc P -n N FILE                    are lines "line 0000001".."line N" all there, whole, once?
//	benchtool freeport                                            a TCP port nothing listens on, on any address
//
// Each subcommand prints one line of space-separated key=value pairs on
// stdout; details for humans go to stderr.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	procfs "github.com/dynobox/dynobox/internal/proc"
)

const prSetChildSubreaper = 36 // PR_SET_CHILD_SUBREAPER from <linux/prctl.h>

// current is the runner being measured, stopped if benchtool is interrupted.
var current atomic.Pointer[launched]

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	// Catching SIGINT also un-ignores it (a shell's background job starts
	// with SIGINT ignored), so the runners start with its default action and
	// stop() can work as a terminal's Ctrl-C does.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		if l := current.Load(); l != nil {
			fmt.Fprintf(os.Stderr, "benchtool: %v: stopping the runner\n", s)
			l.stop()
		}
		os.Exit(130)
	}()
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(os.Args[2:])
	case "first":
		err = cmdFirst(os.Args[2:])
	case "rss":
		err = cmdRSS(os.Args[2:])
	case "check":
		err = cmdCheck(os.Args[2:])
	case "freeport":
		err = cmdFreePort()
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchtool %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: benchtool run|first|rss|check [flags] [-- command...]")
	os.Exit(2)
}

// ---------------------------------------------------------------- launching

type launched struct {
	cmd   *exec.Cmd
	start time.Time
	done  chan struct{}
	err   error // cmd.Wait's result, valid after done is closed
}

// launch starts args in dir as the leader of a new process group, with stdout
// and stderr both appended to out (truncated first) and stdin from /dev/null.
func launch(dir, out string, args []string) (*launched, error) {
	if len(args) == 0 {
		return nil, errors.New("no command given after --")
	}
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); e != 0 {
		return nil, fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %v", e)
	}
	f, err := os.OpenFile(out, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Stdout = f
	cmd.Stderr = f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	l := &launched{cmd: cmd, done: make(chan struct{})}
	l.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { l.err = cmd.Wait(); close(l.done) }()
	current.Store(l)
	return l, nil
}

func (l *launched) exited() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *launched) exitCode() int {
	if l.err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(l.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

// stop signals the runner's process group like a terminal's Ctrl-C would,
// escalating to SIGTERM and SIGKILL, and returns once the runner has exited.
// It returns the number of leftover processes (orphans re-parented to us)
// that it then killed.
func (l *launched) stop() int {
	pgid := l.cmd.Process.Pid
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGINT, 10 * time.Second}, {syscall.SIGTERM, 5 * time.Second}, {syscall.SIGKILL, 5 * time.Second}} {
		if l.exited() {
			break
		}
		if step.sig != syscall.SIGINT {
			fmt.Fprintf(os.Stderr, "  runner pid %d still running, sending %v to its group\n", pgid, step.sig)
		}
		_ = syscall.Kill(-pgid, step.sig)
		select {
		case <-l.done:
		case <-time.After(step.wait):
		}
	}
	<-l.done
	return reapOrphans(3 * time.Second)
}

// reapOrphans deals with the processes the runner left behind. With the
// runner already waited for, every child of this process is one of them
// (re-parented to us, the subreaper). They get grace to exit by themselves
// (a runner's helper may still be stopping its dynos); those still running
// then are killed by their PID and counted.
func reapOrphans(grace time.Duration) int {
	deadline := time.Now().Add(grace)
	var kids []proc
	for {
		reapZombies()
		kids = liveChildren()
		if len(kids) == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	seen := map[int]bool{}
	for end := time.Now().Add(10 * time.Second); len(kids) > 0 && time.Now().Before(end); kids = liveChildren() {
		for _, p := range kids {
			if !seen[p.pid] {
				seen[p.pid] = true
				fmt.Fprintf(os.Stderr, "  left running %s after the runner exited, killed: pid %d %q\n", grace, p.pid, p.cmdline)
			}
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
		reapZombies()
	}
	return len(seen)
}

func reapZombies() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

func liveChildren() []proc {
	var live []proc
	for _, p := range childrenOf(os.Getpid()) {
		if p.state != "Z" {
			live = append(live, p)
		}
	}
	return live
}

// ---------------------------------------------------------------- /proc

type proc struct {
	pid, ppid int
	state     string
	comm      string
	cmdline   string
	rssKB     int // VmRSS: what ps and top show
	anonKB    int // RssAnon: memory the process allocated itself
	pssKB     int // Pss: RSS with each shared page divided among its sharers
}

// readProc reads what the tool reports of one process (internal/proc
// parses /proc).
func readProc(pid int) (proc, bool) {
	info, ok := procfs.Stat(pid)
	if !ok {
		return proc{pid: pid}, false
	}
	return fromInfo(info), true
}

func fromInfo(info procfs.Info) proc {
	m := procfs.MemoryOf(info.PID)
	return proc{pid: info.PID, ppid: info.PPID, state: string(info.State), comm: info.Comm,
		cmdline: procfs.Cmdline(info.PID), rssKB: m.RSS, anonKB: m.Anon, pssKB: m.PSS}
}

func allProcs() []proc {
	var ps []proc
	for _, info := range procfs.List() {
		ps = append(ps, fromInfo(info))
	}
	return ps
}

func childrenOf(pid int) []proc {
	var kids []proc
	for _, p := range allProcs() {
		if p.ppid == pid {
			kids = append(kids, p)
		}
	}
	return kids
}

// descendantsOf returns every process below root in the process tree.
func descendantsOf(root int) []proc {
	ps := allProcs()
	byParent := map[int][]proc{}
	for _, p := range ps {
		byParent[p.ppid] = append(byParent[p.ppid], p)
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, k := range byParent[pid] {
			out = append(out, k)
			queue = append(queue, k.pid)
		}
	}
	return out
}

// ---------------------------------------------------------------- run

func cmdRun(argv []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	dir := fs.String("dir", ".", "working directory of the command")
	out := fs.String("out", "", "file that gets the command's stdout and stderr")
	timeout := fs.Duration("timeout", 5*time.Minute, "stop the command after this long")
	fs.Parse(argv)
	l, err := launch(*dir, *out, fs.Args())
	if err != nil {
		return err
	}
	timedOut := false
	select {
	case <-l.done:
	case <-time.After(*timeout):
		timedOut = true
	}
	elapsed := time.Since(l.start)
	leftovers := l.stop()
	// The runner's rusage from wait4 includes the processes it waited for
	// itself: its dynos and helpers, not what it left behind.
	cpu := -1.0
	if st := l.cmd.ProcessState; st != nil {
		cpu = (st.UserTime() + st.SystemTime()).Seconds()
	}
	fmt.Printf("seconds=%.3f cpu=%.3f exit=%d timeout=%t leftovers=%d\n", elapsed.Seconds(), cpu, l.exitCode(), timedOut, leftovers)
	return nil
}

// ---------------------------------------------------------------- first

func cmdFirst(argv []string) error {
	fs := flag.NewFlagSet("first", flag.ExitOnError)
	dir := fs.String("dir", ".", "working directory of the command")
	out := fs.String("out", "", "file that gets the command's stdout and stderr")
	kind := fs.String("kind", "direct", "output format: direct, dynobox, heroku, nf, foreman")
	procName := fs.String("proc", "hello.1", "process whose line is awaited")
	want := fs.String("payload", "ready", "the line the process prints")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after this long")
	fs.Parse(argv)
	p, err := newParser(*kind, *procName)
	if err != nil {
		return err
	}
	l, err := launch(*dir, *out, fs.Args())
	if err != nil {
		return err
	}
	r, err := os.Open(*out)
	if err != nil {
		l.stop()
		return err
	}
	defer r.Close()
	var (
		buf     []byte
		chunk   = make([]byte, 64<<10)
		found   time.Duration
		ok      bool
		exitErr bool
	)
	deadline := l.start.Add(*timeout)
poll:
	for time.Now().Before(deadline) {
		n, _ := r.Read(chunk)
		if n > 0 {
			buf = append(buf, chunk[:n]...)
			for {
				i := bytes.IndexByte(buf, '\n')
				if i < 0 {
					break
				}
				line := string(buf[:i])
				buf = buf[i+1:]
				if payload, tagged := p.payload(line); tagged && payload == *want {
					found, ok = time.Since(l.start), true
					break poll
				}
			}
			continue
		}
		if l.exited() {
			exitErr = true
			break
		}
		time.Sleep(500 * time.Microsecond)
	}
	leftovers := l.stop()
	if !ok {
		return fmt.Errorf("no %q line from %s in %s (runner exited early: %t); see %s", *want, *procName, *timeout, exitErr, *out)
	}
	fmt.Printf("ms=%.1f leftovers=%d\n", float64(found.Microseconds())/1000, leftovers)
	return nil
}

// ---------------------------------------------------------------- rss

func cmdRSS(argv []string) error {
	fs := flag.NewFlagSet("rss", flag.ExitOnError)
	dir := fs.String("dir", ".", "working directory of the command")
	out := fs.String("out", "", "file that gets the command's stdout and stderr")
	dynos := fs.Int("dynos", 10, "number of sleep dynos to wait for")
	dynoCmd := fs.String("dyno-cmd", "sleep 1000", "command line of a dyno; it and its shell wrappers are not counted")
	settle := fs.Duration("settle", 2*time.Second, "wait this long after all dynos are up")
	timeout := fs.Duration("timeout", 60*time.Second, "give up waiting for the dynos after this long")
	fs.Parse(argv)
	l, err := launch(*dir, *out, fs.Args())
	if err != nil {
		return err
	}
	dynoBin := strings.Fields(*dynoCmd)[0]
	isDyno := func(p proc) bool { return p.comm == dynoBin && p.cmdline == *dynoCmd }
	isWrapper := func(p proc) bool {
		switch p.comm {
		case "sh", "dash", "bash":
			return strings.Contains(p.cmdline, *dynoCmd)
		}
		return false
	}
	var up int
	deadline := l.start.Add(*timeout)
	for time.Now().Before(deadline) && !l.exited() {
		up = 0
		for _, p := range descendantsOf(os.Getpid()) {
			if isDyno(p) {
				up++
			}
		}
		if up >= *dynos {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if up < *dynos {
		l.stop()
		return fmt.Errorf("only %d of %d dynos running after %s; see %s", up, *dynos, *timeout, *out)
	}
	upAfter := time.Since(l.start)
	time.Sleep(*settle)
	var (
		totalKB, anonKB, pssKB, nOwn, nDyno, nWrap int
		parts                                      []string
	)
	for _, p := range descendantsOf(os.Getpid()) {
		switch {
		case isDyno(p):
			nDyno++
		case isWrapper(p):
			nWrap++
		default:
			nOwn++
			totalKB += p.rssKB
			anonKB += p.anonKB
			pssKB += p.pssKB
			parts = append(parts, fmt.Sprintf("%d:%s:rss=%dkB:anon=%dkB:pss=%dkB", p.pid, p.comm, p.rssKB, p.anonKB, p.pssKB))
			fmt.Fprintf(os.Stderr, "  counted pid %d ppid %d rss %dkB anon %dkB pss %dkB %q\n", p.pid, p.ppid, p.rssKB, p.anonKB, p.pssKB, p.cmdline)
		}
	}
	leftovers := l.stop()
	fmt.Printf("mb=%.1f anon_mb=%.1f pss_mb=%.1f procs=%d dynos=%d wrappers=%d up_after_ms=%d leftovers=%d detail=%s\n",
		float64(totalKB)/1024, float64(anonKB)/1024, float64(pssKB)/1024, nOwn, nDyno, nWrap, upAfter.Milliseconds(), leftovers, strings.Join(parts, ","))
	return nil
}

// ---------------------------------------------------------------- freeport

// cmdFreePort prints a port in 20000..39999 that can be bound both on
// 127.0.0.1 and on all addresses right now.
func cmdFreePort() error {
	for range 200 {
		port := 20000 + rand.IntN(20000)
		ok := true
		for _, host := range []string{"127.0.0.1", ""} {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			ln.Close()
		}
		if ok {
			fmt.Println(port)
			return nil
		}
	}
	return errors.New("no free port found")
}

// ---------------------------------------------------------------- check
