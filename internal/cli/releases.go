package cli

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/state"
)

// The release verbs: releases and releases:rollback.

func releasesCommand() *command {
	c := newCommand("releases", "", "List releases, newest first.", `
The last 15 by default, as Heroku's CLI lists them (-n for more; 0 for
all). Pushed slugs are kept for the releases listed by default and the
newest 10; a rollback to an older pushed release says its slug was pruned.`)
	var f clientFlags
	f.register(c.flags, true)
	num := c.flags.Int("num", runner.ListedReleases, "how many releases to list (0: all)")
	alias(c.flags, "n", "num")
	c.run = func(c *command, args []string) error {
		var rels []state.Release
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Releases(&rels); err != nil {
			return err
		}
		if *num > 0 && len(rels) > *num {
			rels = rels[:*num]
		}
		f.noteStopped(c.stderr, client, savedState)
		if f.json {
			return c.printJSON(rels)
		}
		var info runner.Info
		client.Info(&info)
		if len(rels) == 0 {
			fmt.Fprintf(c.stdout, "=== %s Releases\nNo releases yet: \"dynobox start\" makes v1.\n", info.Name)
			return nil
		}
		cur := 0
		for _, r := range rels {
			if r.Status == "succeeded" {
				cur = r.Version
				break
			}
		}
		fmt.Fprintf(c.stdout, "=== %s Releases - Current: v%d\n", info.Name, cur)
		width := 0
		for _, r := range rels {
			width = max(width, len(releaseText(r)))
		}
		for _, r := range rels {
			build := r.BuildID
			if build == "" {
				build = "-"
			}
			fmt.Fprintf(c.stdout, "v%-3d %-*s  %-5s  %s\n", r.Version, width, releaseText(r), build, humanTime(r.CreatedAt.Local()))
		}
		return nil
	}
	return c
}

// releaseText is a release's description, with Heroku's note when its
// release command failed.
func releaseText(r state.Release) string {
	if r.Status == "failed" {
		return r.Description + " (release command failed)"
	}
	return r.Description
}

func rollbackCommand() *command {
	c := newCommand("releases:rollback", "vN", "Return to release vN's build and config vars, as a new release.", "")
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		if len(args) != 1 {
			return usagef("usage: dynobox releases:rollback vN")
		}
		v, err := strconv.Atoi(strings.TrimPrefix(args[0], "v"))
		if err != nil || v <= 0 {
			return usagef("%q is not a release; use vN as \"dynobox releases\" lists them", args[0])
		}
		var rel state.Release
		if err := f.client().Post("/v1/releases/rollback", map[string]int{"version": v}, &rel); err != nil {
			return err
		}
		if f.json {
			return c.printJSON(rel)
		}
		fmt.Fprintf(c.stdout, "Rolling back to v%d... done, v%d\n", v, rel.Version)
		return nil
	}
	return c
}
