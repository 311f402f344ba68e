package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/logbus"
)

// The add-ons of one start, and the small helpers of its steps.

func signalName(s os.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// absDir checks that dir is a directory and makes it absolute.
func absDir(dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return "", errors.New(dir + " is not a directory")
	}
	return filepath.Abs(dir)
}

// startAddons starts the app's add-ons and waits until each accepts
// connections; a signal meanwhile cancels the start. On failure the
// started ones are stopped again and the error names the add-on.
func startAddons(specs []addons.Spec, names []string, stateDir string, ephemeral bool, session string, bus *logbus.Bus, sigs <-chan os.Signal) (*addons.Set, error) {
	if len(specs) == 0 {
		return addons.NewSet(), nil
	}
	set, err := runner.BuildAddons(specs, names, stateDir, ephemeral, session, func(name, line string) {
		bus.Event(logbus.SourceApp, name, line)
	})
	if err != nil {
		return nil, err
	}
	bus.Event(logbus.SourceHeroku, "dynobox", "Starting add-ons: "+strings.Join(names, ", "))
	ctx, cancel := context.WithTimeout(context.Background(), runner.AddonStartTimeout)
	defer cancel()
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	started := time.Now()
	if err := set.Start(ctx); err != nil {
		return nil, fmt.Errorf("%w; no dyno was started", err)
	}
	for _, st := range set.List() {
		bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("%s is up on %s (sets %s)", st.Name, st.Addr, strings.Join(addons.SortedEnv(st.Config), ", ")))
	}
	bus.Event(logbus.SourceHeroku, "dynobox", fmt.Sprintf("Add-ons ready in %s", time.Since(started).Round(time.Millisecond)))
	return set, nil
}

// stopAddons stops the add-ons once the dynos are down, within the grace period.
func stopAddons(set *addons.Set) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return set.Stop(ctx)
}

// routerHost is where a browser on this machine reaches the router.
func routerHost(bind string) string {
	if bind == "" || bind == "0.0.0.0" || bind == "::" {
		return "localhost"
	}
	return bind
}
