package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/web/api"
)

// The logs verb: the saved history, or the running app's log stream.

func logsCommand() *command {
	c := newCommand("logs", "", "Show the app's logs in Logplex format: the last 100 lines, or follow with --tail.", fmt.Sprintf(`
The app keeps the last %d lines, across its restarts. With dynobox
stopped, logs prints the lines it saved (a failed start among them), and
--tail then waits for the next start and follows it.`, api.MaxLogLines))
	var f clientFlags
	f.register(c.flags, true)
	n := c.flags.Int("num", 100, "number of lines to show")
	alias(c.flags, "n", "num")
	tail := c.flags.Bool("tail", false, "keep printing new lines as they arrive")
	alias(c.flags, "t", "tail")
	typ, dyno := selectFlags(c.flags)
	source := c.flags.String("source", "", "only lines from `SOURCE`: app or heroku")
	alias(c.flags, "s", "source")
	c.run = func(c *command, args []string) error {
		if *source != "" && *source != "app" && *source != "heroku" {
			return usagef("--source %q: use app or heroku", *source)
		}
		q := url.Values{"n": {strconv.Itoa(*n)}, "dyno": {*dyno}, "type": {*typ}, "source": {*source}}
		if *tail {
			q.Set("tail", "1")
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		enc := json.NewEncoder(c.stdout)
		var last time.Time // the newest line printed
		print := func(l api.LogLine) error {
			if l.Time.After(last) {
				last = l.Time
			}
			if f.json {
				return enc.Encode(l)
			}
			_, err := fmt.Fprintf(c.stdout, "%s %s[%s]: %s\n", l.Time.Format("2006-01-02T15:04:05.000000-07:00"), l.Source, l.Process, l.Text)
			return err
		}
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Logs(ctx, q, print); err != nil {
			return err
		}
		if !client.Stopped() {
			return nil
		}
		if !*tail {
			f.noteStopped(c.stderr, client, "these are the lines it saved")
			return nil
		}
		// As Heroku's logs --tail on an app without dynos: wait for lines.
		f.noteStopped(c.stderr, client, "these are the lines it saved; waiting for it to start (Ctrl-C to stop)")
		return tailOnceRunning(ctx, &f, q, func(l api.LogLine) error {
			if !l.Time.After(last) {
				return nil // printed from the saved history already
			}
			return print(l)
		})
	}
	return c
}

// tailOnceRunning follows the log of the app's dynobox once it answers,
// from the first line it has that is new, until ctx ends.
func tailOnceRunning(ctx context.Context, f *clientFlags, q url.Values, print func(api.LogLine) error) error {
	q.Set("n", strconv.Itoa(api.MaxLogLines)) // what it logged before we connected; print skips the old
	for {
		err := f.client().Logs(ctx, q, print)
		var ie *runner.InputError
		if errors.As(err, &ie) {
			return err
		}
		// Not running yet, or the dynobox stopped: wait for the next.
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}
