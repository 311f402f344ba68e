package cli

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"time"

	"github.com/dynobox/dynobox/internal/httpserve"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
	"github.com/dynobox/dynobox/web/platform"
)

// platformName is the app's name in the Platform API (heroku -a NAME):
// app.json's name, else the directory's.
func platformName(app *runner.App) string {
	if app.AppJSON != nil && app.AppJSON.Name != "" {
		return app.AppJSON.Name
	}
	return filepath.Base(app.Dir)
}

// platformService serves Heroku's Platform API for ctl's app on loopback,
// guarded by the key kept in the state directory, and records its URL
// there for `dynobox info` while it runs.
func platformService(ctl *runner.Controller) (runner.Service, error) {
	key, err := platform.Key(ctl.StateDir)
	if err != nil {
		return nil, err
	}
	l, err := platform.Listen(ctl.App.Port)
	if err != nil {
		return nil, err
	}
	name := platformName(ctl.App)
	api := platform.New(ctl, platform.Config{Name: name, Key: key, Run: runDetached(ctl)})
	return &platformServer{
		// Log tails end with the run's context: Shutdown need not wait.
		srv:      httpserve.Server{Handler: api.Handler(), Listener: l, Grace: 2 * time.Second},
		stateDir: ctl.StateDir,
		addr:     platform.Address{URL: "http://" + l.Addr().String(), App: name},
	}, nil
}

// platformServer is the Platform API's server, published in the state
// directory for as long as it runs.
type platformServer struct {
	srv      httpserve.Server
	stateDir string
	addr     platform.Address
}

func (p *platformServer) Run(ctx context.Context) error {
	unpublish, err := platform.Publish(p.stateDir, p.addr)
	if err != nil {
		p.srv.Listener.Close()
		return err
	}
	defer unpublish()
	return p.srv.Run(ctx)
}

// platformExports are the lines `dynobox info` prints to paste into a
// shell, so the real heroku CLI drives this app.
func platformExports(url, key string) []string {
	return []string{"export HEROKU_HOST=" + url, "export HEROKU_API_KEY=" + key}
}

// platformAPI is where the running app's Platform API answers, or nil
// when it is stopped.
func platformAPI(info runner.Info, f clientFlags) *platform.Address {
	if info.State == "stopped" {
		return nil
	}
	_, sd := f.paths()
	a, ok := platform.Published(sd)
	if !ok {
		return nil
	}
	return &a
}

// oneOffGrace is how long a detached one-off dyno has between ps:stop's
// SIGTERM and SIGKILL: Heroku's 30 seconds, as dynobox start's default.
const oneOffGrace = 30 * time.Second

// runDetached starts `heroku run:detached` one-off dynos as `dynobox run`
// does, with no terminal: their output goes onto the log bus as
// app[run.NNNN], their lifecycle as heroku[run.NNNN] lines. The returned
// name is known once the process started (its first event); stop ends the
// dyno's Run context: SIGTERM, and SIGKILL if it still runs after
// oneOffGrace.
func runDetached(ctl *runner.Controller) func(command string, extra map[string]string, exited func()) (string, func(), error) {
	return func(command string, extra map[string]string, exited func()) (string, func(), error) {
		env, err := ctl.Env()
		if err != nil {
			return "", nil, err
		}
		for k, v := range extra { // the CLI's --env; exec keeps the last of a name
			env = append(env, k+"="+v)
		}
		pr, pw := io.Pipe()
		named := make(chan string, 1)
		o := &runner.OneOff{AppDir: ctl.App.Dir, Env: env, Args: []string{command}, Session: ctl.Session,
			Stdout: pw, Stderr: pw, StopTimeout: oneOffGrace,
			Event: func(dyno, msg string) {
				select {
				case named <- dyno:
				default:
				}
				ctl.Event(dyno, msg)
			}}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			defer stop()
			err := o.Run(ctx)
			var exit *runner.ExitError
			if errors.As(err, &exit) {
				err = nil // a detached dyno's status is its own, in the log
			}
			pw.Close()
			done <- err // buffered: first, as exited may wait for the caller to return
			exited()
		}()
		var name string
		select {
		case name = <-named:
		case err := <-done:
			select {
			case name = <-named:
			default:
				if err == nil {
					err = errors.New("the one-off dyno did not start")
				}
				return "", nil, err
			}
		}
		// Until the pump reads, the dyno's writes wait: it starts at once.
		go logbus.Pump(ctl.Bus, pr, logbus.SourceApp, name)
		return name, stop, nil
	}
}
