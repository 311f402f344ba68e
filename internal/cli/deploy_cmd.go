package cli

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/state"
	"github.com/dynobox/dynobox/web/api"
)

// The verbs of builds and deploys.

func deployCommands() []*command {
	return []*command{deployCommand(), buildsCommand()}
}

func deployCommand() *command {
	c := newCommand("deploy", "", "Build the app and swap the dynos to the new release, without a dropped request.", `
What a save does when dynobox watches the app (the default; start
--no-watch turns that off): build the app as its Heroku buildpack would,
make a release of the build, run the release command, then start new web
dynos and stop the old ones once the new are up (preboot); other types
restart. A failed build or release command leaves the running release as
it is. The build's output is printed as it comes. Needs a running
"dynobox start" of the app.`)
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		client := f.client()
		ctx, stopTail := context.WithCancel(context.Background())
		tailed, following := make(chan struct{}), make(chan struct{})
		if !f.json {
			go func() {
				defer close(tailed)
				q := url.Values{"n": {"0"}, "tail": {"1"}, "source": {"app"}}
				client.LogsFollowing(ctx, q, func() { close(following) }, func(l api.LogLine) error {
					if l.Process == runner.BuildProcess || strings.HasPrefix(l.Process, runner.ReleaseType+".") {
						fmt.Fprintf(c.stdout, "%s[%s]: %s\n", l.Source, l.Process, l.Text)
					}
					return nil
				})
			}()
			// Deploy once the log is followed, so the build's first lines show.
			select {
			case <-following:
			case <-tailed: // no log (the deploy below says why)
			case <-time.After(5 * time.Second):
			}
		} else {
			close(tailed)
		}
		var res runner.DeployResult
		err := client.Deploy(&res)
		time.Sleep(200 * time.Millisecond) // the last lines are on their way
		stopTail()
		<-tailed
		if err != nil {
			return err
		}
		if f.json {
			return c.printJSON(res)
		}
		fmt.Fprintf(c.stdout, "Deployed build %s as v%d in %s\n", res.Build.ID, res.Release, res.Build.Duration.Round(time.Millisecond))
		return nil
	}
	return c
}

func buildsCommand() *command {
	c := newCommand("builds", "[ID]", "List builds, newest first, or print one build's output.", `
Builds are numbered b1, b2 … per app; each records its kind, start, duration,
status and the last 64 KiB of its output. The binaries of the last 5 Go
builds are kept for releases:rollback. Works while the app is stopped too.`)
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		if len(args) > 1 {
			return usagef("usage: dynobox builds [ID]")
		}
		client := f.savedStateClient()
		defer client.Close()
		if len(args) == 1 {
			var b state.Build
			if err := client.Call("GET", "/v1/builds/"+url.PathEscape(args[0]), nil, &b); err != nil {
				return err
			}
			f.noteStopped(c.stderr, client, savedState)
			if f.json {
				return c.printJSON(b)
			}
			fmt.Fprint(c.stdout, b.Output)
			return nil
		}
		var builds []state.Build
		if err := client.Call("GET", "/v1/builds", nil, &builds); err != nil {
			return err
		}
		f.noteStopped(c.stderr, client, savedState)
		if f.json {
			return c.printJSON(builds)
		}
		fmt.Fprintln(c.stdout, "=== Builds")
		for _, b := range builds {
			fmt.Fprintf(c.stdout, "%-5s %-9s %-7s %8s  %s\n", b.ID, b.Status, b.Kind, b.Duration.Round(time.Millisecond), humanTime(b.Started.Local()))
		}
		return nil
	}
	return c
}
