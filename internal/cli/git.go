package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/gitpush"
	"github.com/dynobox/dynobox/runner/state"
	"github.com/dynobox/dynobox/web/api"
)

// The git verbs: git:remote, and the receive hook a push runs
// (dynobox __receive, hidden).

func gitCommands() []*command {
	return []*command{gitRemoteCommand(), receiveCommand()}
}

func gitRemoteCommand() *command {
	c := newCommand("git:remote", "", "Add a git remote (dynobox) to the app's repository: git push dynobox main deploys.", `
As heroku git:remote: the remote points at a bare repository in the app's
state directory. "git push dynobox main" (or master, or other:main) builds
the pushed commit — not the work tree — in a clean directory, keeps the
result as a slug, makes a release of it and, when "dynobox start" runs,
swaps its dynos to it with preboot; a stopped app runs it at its next
start. A failed build or release command rejects the push. Run it again
after moving the dynobox binary: the hook runs it by its absolute path.`)
	var f clientFlags
	f.register(c.flags, false)
	var remote string
	c.flags.StringVar(&remote, "remote", "dynobox", "the git remote's `NAME`")
	alias(c.flags, "r", "remote")
	c.run = func(c *command, args []string) error {
		if len(args) > 0 {
			return usagef("usage: dynobox git:remote [-r NAME]")
		}
		if remote == "" || strings.ContainsAny(remote, " \t/") {
			return usagef("%q is not a remote name", remote)
		}
		appDir, stateDir := f.paths()
		if err := gitpush.CheckRepo(appDir); err != nil {
			return &runner.InputError{Err: err}
		}
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		sd, err := runner.OpenStateDir(stateDir)
		if err != nil {
			return err
		}
		stateDir, _ = filepath.Abs(sd.Path)
		r, err := gitpush.Setup(appDir, stateDir, exe, remote)
		if errors.Is(err, gitpush.ErrNotARepo) {
			return &runner.InputError{Err: err}
		}
		if err != nil {
			return err
		}
		verb := "added"
		if r.Updated {
			verb = "set"
		}
		fmt.Fprintf(c.stdout, "%s git remote %s to %s\n", verb, r.Name, r.Repo)
		return nil
	}
	return c
}

func receiveCommand() *command {
	c := newCommand(gitpush.ReceiveCommand, "", "(run by git) build and release a push", "")
	var f clientFlags
	f.register(c.flags, false)
	c.run = func(c *command, args []string) error {
		appDir, stateDir := f.paths()
		return receive(c, c.stdin, appDir, stateDir)
	}
	return c
}

// receive is the pre-receive hook: git prints what it writes as remote:
// lines, and a non-zero exit rejects the push (no ref moves).
func receive(c *command, stdin io.Reader, appDir, stateDir string) error {
	out := c.stdout
	updates, err := gitpush.ReadUpdates(stdin)
	if err != nil {
		return err
	}
	u, ok, err := gitpush.Deployable(updates)
	var refused *gitpush.RefusedError
	if errors.As(err, &refused) {
		for _, l := range refused.Lines {
			fmt.Fprintln(out, l)
		}
		return exitStatus(exitFailure)
	}
	if err != nil || !ok {
		return err
	}
	fmt.Fprintf(out, "-----> Building… (commit %s on the dynobox stack)\n", runner.ShortSHA(u.New))
	res, err := runner.BuildPush(c.ctx, runner.PushOptions{AppDir: appDir, StateDir: stateDir, Commit: u.New, Log: func(l string) {
		if !strings.HasPrefix(l, "-----> ") && !strings.HasPrefix(l, " !") && !strings.HasPrefix(l, "       ") {
			l = "       " + l
		}
		fmt.Fprintln(out, l)
	}})
	if err != nil {
		kind := res.Build.Kind
		if kind == "" || kind == "none" || kind == "command" {
			kind = "the"
		}
		fmt.Fprintf(out, " !     %v\n !     Push rejected, failed to compile %s app.\n !     Push failed\n", err, kindName(kind))
		return exitStatus(exitFailure)
	}
	var rel state.Release
	client := api.NewClient(appDir, stateDir)
	stopped := false
	err = untilAppFree(c.ctx, func(s string) { fmt.Fprintln(out, "       "+s) }, func() error {
		stopFollowing := followRelease(&releaseFollower{client: client, out: out})
		err := client.ReleaseSlug(res.Build.ID, &rel)
		stopFollowing()
		var nr *api.NotRunningError
		if stopped = errors.As(err, &nr); stopped {
			rel, err = releaseOffline(c.ctx, appDir, stateDir, res.Build.ID, out)
		}
		return err
	})
	if err != nil {
		keeps := "the dynos keep running the previous release"
		if stopped {
			keeps = "the next dynobox start runs the previous release"
		}
		fmt.Fprintf(out, " !     %v\n !     Push rejected: the release failed; %s.\n !     Push failed\n", err, keeps)
		return exitStatus(exitFailure)
	}
	fmt.Fprintf(out, "-----> Launching… done, v%d\n", rel.Version)
	if stopped {
		fmt.Fprintf(out, "       dynobox is not running for %s: the next dynobox start runs v%d\n", appDir, rel.Version)
		return nil
	}
	var info runner.Info
	if client.Info(&info) == nil && info.Router != "" {
		fmt.Fprintf(out, "       %s deployed to dynobox\n", info.Router)
	}
	return nil
}

// releaseOffline records the release for the next start and runs its
// release command here, with the app's add-ons started for it; the
// watchdog stops what it leaves if this process dies.
func releaseOffline(ctx context.Context, appDir, stateDir, id string, out io.Writer) (state.Release, error) {
	session, unwatch, err := watchedSession()
	if err != nil {
		return state.Release{}, err
	}
	defer unwatch()
	return runner.ReleaseSlugOffline(ctx, runner.OfflineRelease{AppDir: appDir, StateDir: stateDir, BuildID: id, Session: session,
		Log: func(l string) { fmt.Fprintln(out, "       "+l) }})
}

// releaseFollower prints the release phase's lines (release.NNNN) of a
// running dynobox as they come, as Heroku's push shows its release
// command.
type releaseFollower struct {
	client *api.Client
	out    io.Writer

	once      sync.Once
	following chan struct{} // closed once the log stream is followed
	completed chan struct{} // closed at the release command's last line
	seen      atomic.Bool   // a release line came
}

func (f *releaseFollower) init() {
	f.once.Do(func() { f.following, f.completed = make(chan struct{}), make(chan struct{}) })
}

// Following is closed once Run follows the log.
func (f *releaseFollower) Following() <-chan struct{} { f.init(); return f.following }

// Run follows the log until ctx ends (or nothing runs to follow).
func (f *releaseFollower) Run(ctx context.Context) error {
	f.init()
	var done sync.Once
	q := url.Values{"n": {"0"}, "tail": {"1"}}
	return f.client.LogsFollowing(ctx, q, func() { close(f.following) }, func(l api.LogLine) error {
		if !strings.HasPrefix(l.Process, runner.ReleaseType+".") {
			return nil
		}
		f.seen.Store(true)
		fmt.Fprintf(f.out, "       %s[%s]: %s\n", l.Source, l.Process, l.Text)
		if l.Text == "State changed from up to complete" {
			done.Do(func() { close(f.completed) })
		}
		return nil
	})
}

// followRelease runs f until the returned stop, once f follows the log
// (or 5 s passed, or nothing runs). stop lets the release command's last
// lines arrive first (up to 2 s) when some came.
func followRelease(f *releaseFollower) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	go func() { f.Run(ctx); close(ended) }()
	select {
	case <-f.Following():
	case <-ended: // nothing runs: the release is recorded for the next start
	case <-time.After(5 * time.Second):
	}
	return func() {
		if f.seen.Load() { // the release command's last lines may still be on their way
			select {
			case <-f.completed:
			case <-ended:
			case <-time.After(2 * time.Second):
			}
		}
		cancel()
		<-ended
	}
}

// kindName is how Heroku's rejection names a buildpack: "Go app".
func kindName(kind string) string {
	switch kind {
	case "go":
		return "Go"
	case "nodejs":
		return "Node.js"
	case "python":
		return "Python"
	case "ruby":
		return "Ruby"
	}
	return kind
}
