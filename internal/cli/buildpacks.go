package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/build"
)

// The buildpack verbs: buildpacks, buildpacks:set/add/remove/clear, shaped
// like Heroku's CLI. They edit the app's remembered list (.dynobox/buildpacks),
// which wins over app.json and .buildpacks; the next build uses it.

func buildpacksCommands() []*command {
	return []*command{buildpacksList(), buildpacksSet(), buildpacksAdd(), buildpacksRemove(), buildpacksClear()}
}

func buildpacksList() *command {
	c := newCommand("buildpacks", "", "List the app's buildpacks.", `
From .dynobox/buildpacks (set by buildpacks:set and add), else app.json's
"buildpacks", else a .buildpacks file. Without any, the build detects the
language from the app's files.`)
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		if len(args) > 0 {
			return &runner.InputError{Err: fmt.Errorf("buildpacks takes no arguments; got %q", args)}
		}
		dir, _ := f.paths()
		urls, source, err := build.BuildpackList(dir)
		if err != nil {
			return &runner.InputError{Err: err}
		}
		if f.json {
			return c.printJSON(map[string]any{"buildpacks": orEmpty(urls), "source": source})
		}
		name := filepath.Base(dir)
		switch len(urls) {
		case 0:
			fmt.Fprintf(c.stdout, "%s has no Buildpack URL set.\n", name)
		case 1:
			fmt.Fprintf(c.stdout, "=== %s Buildpack URL\n\n%s\n", name, urls[0])
		default:
			fmt.Fprintf(c.stdout, "=== %s Buildpack URLs\n\n", name)
			for i, u := range urls {
				fmt.Fprintf(c.stdout, "%d. %s\n", i+1, u)
			}
		}
		return nil
	}
	return c
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// editBuildpacks is the shared shape of set/add/remove: read the current
// list, change it, check what it names, save it and say what the next
// build uses.
func editBuildpacks(c *command, f *clientFlags, verb string, change func([]string) ([]string, error)) error {
	dir, _ := f.paths()
	urls, _, err := build.BuildpackList(dir)
	if err != nil {
		return &runner.InputError{Err: err}
	}
	next, err := change(slices.Clone(urls))
	if err != nil {
		return &runner.InputError{Err: err}
	}
	for _, u := range next {
		if err := build.CheckBuildpack(dir, u); err != nil {
			return &runner.InputError{Err: err}
		}
	}
	if err := build.SaveBuildpackList(dir, next); err != nil {
		return err
	}
	name := filepath.Base(dir)
	switch len(next) {
	case 0:
		fmt.Fprintf(c.stdout, "Buildpack %s. Next release on %s will detect buildpacks normally.\n", verb, name)
	case 1:
		fmt.Fprintf(c.stdout, "Buildpack %s. Next release on %s will use %s.\n", verb, name, next[0])
	default:
		fmt.Fprintf(c.stdout, "Buildpack %s. Next release on %s will use:\n", verb, name)
		for i, u := range next {
			fmt.Fprintf(c.stdout, "  %d. %s\n", i+1, u)
		}
	}
	fmt.Fprintln(c.stdout, "Save a file, run dynobox deploy or git push to create a new release using it.")
	return nil
}

// indexFlag is -i N / --index N: a 1-based position in the list.
func indexFlag(c *command) *int {
	i := c.flags.Int("index", 0, "the 1-based `N`th buildpack (0: the last, for add; all, for set)")
	alias(c.flags, "i", "index")
	return i
}

func oneURL(verb string, args []string) (string, error) {
	if len(args) != 1 {
		return "", fmt.Errorf("usage: dynobox %s [-i N] URL (a local directory, file:///path/repo.git#ref, or one of %s)", verb, build.BuiltinNames())
	}
	return args[0], nil
}

func buildpacksSet() *command {
	c := newCommand("buildpacks:set", "URL", "Set the app's buildpack (-i N replaces the Nth).", "")
	var f clientFlags
	f.register(c.flags, false)
	idx := indexFlag(c)
	c.run = func(c *command, args []string) error {
		url, err := oneURL("buildpacks:set", args)
		if err != nil {
			return &runner.InputError{Err: err}
		}
		return editBuildpacks(c, &f, "set", func(urls []string) ([]string, error) {
			switch {
			case *idx == 0:
				return []string{url}, nil
			case *idx < 1 || *idx > len(urls)+1:
				return nil, fmt.Errorf("index %d is out of range: the app has %d buildpacks", *idx, len(urls))
			case *idx == len(urls)+1:
				return append(urls, url), nil
			}
			urls[*idx-1] = url
			return urls, nil
		})
	}
	return c
}

func buildpacksAdd() *command {
	c := newCommand("buildpacks:add", "URL", "Add a buildpack (last, or at -i N).", "")
	var f clientFlags
	f.register(c.flags, false)
	idx := indexFlag(c)
	c.run = func(c *command, args []string) error {
		url, err := oneURL("buildpacks:add", args)
		if err != nil {
			return &runner.InputError{Err: err}
		}
		return editBuildpacks(c, &f, "added", func(urls []string) ([]string, error) {
			if slices.Contains(urls, url) {
				return nil, fmt.Errorf("the buildpack %s is already set on your app", url)
			}
			if *idx == 0 {
				return append(urls, url), nil
			}
			if *idx < 1 || *idx > len(urls)+1 {
				return nil, fmt.Errorf("index %d is out of range: the app has %d buildpacks", *idx, len(urls))
			}
			return slices.Insert(urls, *idx-1, url), nil
		})
	}
	return c
}

func buildpacksRemove() *command {
	c := newCommand("buildpacks:remove", "[URL]", "Remove a buildpack (by URL or -i N).", "")
	var f clientFlags
	f.register(c.flags, false)
	idx := indexFlag(c)
	c.run = func(c *command, args []string) error {
		if (len(args) == 1) == (*idx != 0) || len(args) > 1 {
			return &runner.InputError{Err: errors.New("usage: dynobox buildpacks:remove URL, or dynobox buildpacks:remove -i N")}
		}
		return editBuildpacks(c, &f, "removed", func(urls []string) ([]string, error) {
			if *idx != 0 {
				if *idx < 1 || *idx > len(urls) {
					return nil, fmt.Errorf("index %d is out of range: the app has %d buildpacks", *idx, len(urls))
				}
				return slices.Delete(urls, *idx-1, *idx), nil
			}
			i := slices.Index(urls, args[0])
			if i < 0 {
				return nil, fmt.Errorf("buildpack %s not found; the app has: %s", args[0], strings.Join(urls, ", "))
			}
			return slices.Delete(urls, i, i+1), nil
		})
	}
	return c
}

func buildpacksClear() *command {
	c := newCommand("buildpacks:clear", "", "Clear the buildpacks set with buildpacks:set/add.", `
Afterwards app.json's "buildpacks" or a .buildpacks file count again, or
else the build detects the language from the app's files.`)
	var f clientFlags
	f.register(c.flags, false)
	c.run = func(c *command, args []string) error {
		dir, _ := f.paths()
		if err := build.SaveBuildpackList(dir, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "Buildpacks cleared. Next release on %s will detect buildpacks normally.\n", filepath.Base(dir))
		return nil
	}
	return c
}
