package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dynobox/dynobox/runner"
)

// startAnswers bounds the wait for a dynobox start that holds the app
// but does not answer yet: its API serves once the add-ons are up.
const startAnswers = 2 * time.Minute

// untilAppFree runs attempt — which uses the running dynobox, or the
// app's add-ons itself when none runs — again while another process holds
// the app: a dynobox start that does not answer yet (attempt then finds
// it running), or a git push releasing the stopped app. say tells, once
// per holder, what it waits for. A one-off dyno's hold is not waited
// for, since it may last all day: its error says what holds the app.
func untilAppFree(ctx context.Context, say func(string), attempt func() error) error {
	waited := 0
	var since time.Time
	for {
		err := attempt()
		var busy *runner.AlreadyRunningError
		if !errors.As(err, &busy) || busy.Holder == runner.HolderRun {
			return err
		}
		if busy.PID != waited {
			waited, since = busy.PID, time.Now()
			if busy.Holder == runner.HolderPush {
				say(fmt.Sprintf("A git push (pid %d) is releasing the app: waiting for it to finish", busy.PID))
			} else {
				say(fmt.Sprintf("dynobox (pid %d) is starting the app: waiting for it to answer", busy.PID))
			}
		}
		if busy.Holder != runner.HolderPush && time.Since(since) > startAnswers {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
