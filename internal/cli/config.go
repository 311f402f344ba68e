package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/runner/state"
	"github.com/dynobox/dynobox/web/api"
)

// The config verbs: config, config:set, config:unset and config:get.

func configCommand() *command {
	c := newCommand("config", "", "List config vars: from env files, config:set and add-ons.", "")
	var f clientFlags
	f.register(c.flags, true)
	shell := c.flags.Bool("shell", false, "print KEY='value' lines for a shell")
	alias(c.flags, "s", "shell")
	c.run = func(c *command, args []string) error {
		var vars []runner.ConfigVar
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Config(&vars); err != nil {
			return err
		}
		f.noteStopped(c.stderr, client, "add-on config vars are set when it starts")
		switch {
		case f.json:
			m := map[string]string{}
			for _, v := range vars {
				m[v.Key] = v.Value
			}
			return c.printJSON(m)
		case *shell:
			for _, v := range vars {
				fmt.Fprintf(c.stdout, "%s=%s\n", v.Key, runner.ShellJoin([]string{v.Value}))
			}
		default:
			var info runner.Info
			client.Info(&info)
			fmt.Fprintf(c.stdout, "=== %s Config Vars\n\n", info.Name)
			rows := make([][2]string, len(vars))
			for i, v := range vars {
				rows[i] = [2]string{v.Key + ":", v.Value}
			}
			printAligned(c.stdout, rows)
		}
		return nil
	}
	return c
}

func configSetCommand() *command {
	c := newCommand("config:set", "KEY=VALUE ...", "Set config vars: creates a release and restarts the dynos (stopped: the next start runs it).", "")
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		set := map[string]string{}
		for _, a := range args {
			k, v, ok := strings.Cut(a, "=")
			if !ok || k == "" {
				return usagef("%q must be KEY=VALUE", a)
			}
			set[k] = v
		}
		if len(set) == 0 {
			return usagef("usage: dynobox config:set KEY=VALUE ...")
		}
		return configChange(c, &f, api.ConfigChange{Set: set}, "Setting")
	}
	return c
}

func configUnsetCommand() *command {
	c := newCommand("config:unset", "KEY ...", "Unset config vars: creates a release and restarts the dynos (stopped: the next start runs it).", "")
	var f clientFlags
	f.register(c.flags, true)
	c.run = func(c *command, args []string) error {
		if len(args) == 0 {
			return usagef("usage: dynobox config:unset KEY ...")
		}
		return configChange(c, &f, api.ConfigChange{Unset: args}, "Unsetting")
	}
	return c
}

func configChange(c *command, f *clientFlags, change api.ConfigChange, verb string) error {
	var rel state.Release
	client := f.savedStateClient()
	defer client.Close()
	if err := client.Post("/v1/config", change, &rel); err != nil {
		return err
	}
	f.noteStopped(c.stderr, client, fmt.Sprintf("v%d is recorded and the next \"dynobox start\" runs it", rel.Version))
	if f.json {
		return c.printJSON(rel)
	}
	keys := change.Unset
	if len(change.Set) > 0 {
		keys = nil
		for k := range change.Set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
	}
	restarting := " and restarting"
	if client.Stopped() {
		restarting = ""
	}
	fmt.Fprintf(c.stdout, "%s %s%s... done, v%d\n", verb, strings.Join(keys, ", "), restarting, rel.Version)
	if len(change.Set) > 0 {
		rows := make([][2]string, len(keys))
		for i, k := range keys {
			rows[i] = [2]string{k + ":", change.Set[k]}
		}
		printAligned(c.stdout, rows)
	}
	return nil
}

func configGetCommand() *command {
	c := newCommand("config:get", "KEY", "Print one config var's raw value.", "")
	var f clientFlags
	f.register(c.flags, false)
	c.run = func(c *command, args []string) error {
		if len(args) != 1 {
			return usagef("usage: dynobox config:get KEY")
		}
		var vars []runner.ConfigVar
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Config(&vars); err != nil {
			return err
		}
		f.noteStopped(c.stderr, client, "add-on config vars are set when it starts")
		for _, v := range vars {
			if v.Key == args[0] {
				fmt.Fprintln(c.stdout, v.Value)
				return nil
			}
		}
		fmt.Fprintln(c.stdout) // Heroku prints an empty line for an unset var
		return nil
	}
	return c
}
