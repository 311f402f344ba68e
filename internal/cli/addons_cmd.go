package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/dynobox/dynobox/addons"
	"github.com/dynobox/dynobox/runner"
	"github.com/dynobox/dynobox/web/api"
)

// The add-on verbs: addons, addons:create, addons:destroy, pg:psql,
// redis:cli and the kafka:* verbs of Heroku's Kafka plugin.

func addonCommands() []*command {
	return []*command{addonsCommand(), addonsCreateCommand(), addonsDestroyCommand(), psqlCommand(), redisCLICommand(),
		kafkaTopicsCommand(), kafkaCreateCommand(), kafkaWriteCommand(), kafkaTailCommand()}
}

// openStateDir opens (creating it) the app's state directory, for verbs
// that find their add-on's files there.
func (f *clientFlags) openStateDir() (string, error) {
	_, sd := f.paths()
	sdir, err := runner.OpenStateDir(sd)
	if err != nil {
		return "", err
	}
	return sdir.Path, nil
}

// mask hides the secret part of a config var by runner's one policy (the
// dashboard's too), shown as Heroku's CLI does: a URL's password, a PEM
// block's body, or the whole value of a key-, token- or password-named var.
func mask(key, v string) string {
	masked, _ := runner.MaskSecret(key, v, "********", " … (hidden; --reveal shows it)")
	return masked
}

func addonsCommand() *command {
	c := newCommand("addons", "", "List the app's add-ons: name, plan, state, address and config vars.", `
Secrets in config vars are masked unless --reveal is given.`)
	var f clientFlags
	f.register(c.flags, true)
	reveal := c.flags.Bool("reveal", false, "show config var values in full")
	c.run = func(c *command, args []string) error {
		var list []addons.Status
		client := f.savedStateClient()
		defer client.Close()
		if err := client.Call("GET", "/v1/addons", nil, &list); err != nil {
			return err
		}
		f.noteStopped(c.stderr, client, "its add-ons start with it")
		if !*reveal {
			for _, st := range list {
				for k, v := range st.Config {
					st.Config[k] = mask(k, v)
				}
			}
		}
		if f.json {
			if list == nil {
				list = []addons.Status{}
			}
			return c.printJSON(list)
		}
		if len(list) == 0 {
			fmt.Fprintln(c.stdout, "No add-ons. Attach one with \"dynobox addons:create heroku-postgresql\" or in app.json.")
			return nil
		}
		for i, st := range list {
			if i > 0 {
				fmt.Fprintln(c.stdout)
			}
			fmt.Fprintf(c.stdout, "=== %s (%s): %s\n", st.Name, st.Plan, st.State)
			rows := [][2]string{}
			if st.Addr != "" {
				rows = append(rows, [2]string{"Address:", st.Addr})
			}
			if st.Backend != "" {
				rows = append(rows, [2]string{"Backend:", st.Backend})
			}
			for _, k := range addons.SortedEnv(st.Config) {
				v := st.Config[k]
				if strings.Contains(v, "\n") {
					v = strings.SplitN(v, "\n", 2)[0] + " …"
				}
				rows = append(rows, [2]string{k + ":", v})
			}
			printAligned(c.stdout, rows)
		}
		return nil
	}
	return c
}

func addonsCreateCommand() *command {
	c := newCommand("addons:create", "PLAN", "Attach an add-on: heroku-postgresql, heroku-redis or heroku-kafka[:PLAN].", `
With dynobox running, the add-on starts at once and the dynos restart with
its config vars (a new release); otherwise it starts with the next
"dynobox start". heroku-kafka:basic-* plans emulate Heroku's multi-tenant
KAFKA_PREFIX.`)
	var f clientFlags
	f.register(c.flags, true)
	as := c.flags.String("as", "", "attachment `NAME`: sets NAME_URL instead of the default config vars")
	plaintext := c.flags.Bool("plaintext", false, "Kafka only: kafka:// without TLS, for tools that want it")
	c.run = func(c *command, args []string) error {
		if len(args) != 1 {
			return usagef("usage: dynobox addons:create PLAN [--as NAME]")
		}
		spec := addons.Spec{Plan: args[0], As: *as, Plaintext: *plaintext}
		if err := spec.Validate(); err != nil {
			return &runner.InputError{Err: err}
		}
		var change api.AddonChange
		err := f.client().Post("/v1/addons", spec, &change)
		var nr *api.NotRunningError
		if errors.As(err, &nr) {
			return createOffline(c, &f, spec)
		}
		if err != nil {
			return err
		}
		if f.json {
			return c.printJSON(change)
		}
		fmt.Fprintf(c.stdout, "Creating %s on %s... done, v%d\n", change.Addon.Name, filepath.Base(f.dir), change.Release.Version)
		fmt.Fprintf(c.stdout, "%s is up on %s; it sets %s\n", change.Addon.Name, change.Addon.Addr, strings.Join(addons.SortedEnv(change.Addon.Config), ", "))
		return nil
	}
	return c
}

// createOffline records an add-on for the next start.
func createOffline(c *command, f *clientFlags, spec addons.Spec) error {
	_, sd := f.paths()
	name, rel, err := runner.CreateAddonOffline(sd, spec)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Creating %s... done, v%d\n%s starts with the next \"dynobox start\".\n", name, rel.Version, name)
	return nil
}

func addonsDestroyCommand() *command {
	c := newCommand("addons:destroy", "NAME", "Detach an add-on and delete its data.", `
Asks you to type the add-on's name, or pass --confirm NAME.`)
	var f clientFlags
	f.register(c.flags, true)
	confirm := c.flags.String("confirm", "", "the add-on's `NAME`, to confirm without a prompt")
	c.run = func(c *command, args []string) error {
		if len(args) != 1 {
			return usagef("usage: dynobox addons:destroy NAME [--confirm NAME]")
		}
		name := args[0]
		if *confirm != name {
			if *confirm != "" || !isTerminal(c.stdin) {
				return usagef("this deletes %s and all its data; confirm with --confirm %s", name, name)
			}
			fmt.Fprintf(c.stderr, "This deletes %s and all its data. Type %s to confirm: ", name, name)
			line, _ := bufio.NewReader(c.stdin).ReadString('\n')
			if strings.TrimSpace(line) != name {
				return usagef("not confirmed; nothing was deleted")
			}
		}
		var change api.AddonChange
		err := f.client().Delete("/v1/addons/"+name, &change)
		var nr *api.NotRunningError
		if errors.As(err, &nr) {
			return destroyOffline(c, &f, name)
		}
		if err != nil {
			return err
		}
		if f.json {
			return c.printJSON(change)
		}
		fmt.Fprintf(c.stdout, "Destroying %s... done, v%d\n", name, change.Release.Version)
		return nil
	}
	return c
}

func destroyOffline(c *command, f *clientFlags, name string) error {
	_, sd := f.paths()
	rel, err := runner.DestroyAddonOffline(c.ctx, sd, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Destroying %s... done, v%d\n", name, rel.Version)
	return nil
}

// runningEnv is the running app's config vars, add-on vars among them.
func runningEnv(f *clientFlags) (map[string]string, error) {
	var vars []runner.ConfigVar
	if err := f.client().Config(&vars); err != nil {
		return nil, err
	}
	env := map[string]string{}
	for _, v := range vars {
		env[v.Key] = v.Value
	}
	return env, nil
}

// attachVar turns an add-on's attachment name into its config var prefix.
func attachVar(name, def string) string {
	if name == "" {
		return def
	}
	return strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// runAttached runs cmd on our terminal and returns its exit status.
func runAttached(cmdErr error, run func() error, exit func() int) error {
	if cmdErr != nil {
		return cmdErr
	}
	signal.Ignore(os.Interrupt) // Ctrl-C is for the interactive tool
	defer signal.Reset(os.Interrupt)
	if err := run(); err != nil && exit() < 0 {
		return err
	}
	return status(exit())
}

func psqlCommand() *command {
	c := newCommand("pg:psql", "[NAME] [-- PSQL ARGS...]", "Open psql on the app's Postgres (the default one, or add-on NAME).", "")
	c.stopAtFn = true
	var f clientFlags
	f.register(c.flags, false)
	sql := c.flags.String("command", "", "run this `SQL` and exit, instead of an interactive session")
	alias(c.flags, "c", "command")
	c.run = func(c *command, args []string) error {
		if _, err := runningEnv(&f); err != nil {
			return err
		}
		stateDir, err := f.openStateDir()
		if err != nil {
			return err
		}
		name := addons.PostgresService
		if len(args) > 0 { // an add-on's name, or psql's own arguments
			if _, err := os.Stat(filepath.Join(stateDir, "addons", addons.AttachmentName(args[0]))); err == nil {
				name, args = addons.AttachmentName(args[0]), args[1:]
			}
		}
		a, err := addons.Build(addons.Spec{Plan: addons.PostgresService}, name, stateDir, false, nil, "")
		if err != nil {
			return err
		}
		if *sql != "" {
			args = append(args, "-c", *sql)
		}
		cmd, err := addons.PsqlCommand(a.(*addons.Postgres), args...)
		if cmd != nil {
			cmd.Stdin, cmd.Stdout, cmd.Stderr = c.stdin, c.stdout, c.stderr
		}
		return runAttached(err, func() error { return cmd.Run() }, func() int { return cmd.ProcessState.ExitCode() })
	}
	return c
}

func redisCLICommand() *command {
	c := newCommand("redis:cli", "[NAME] [-- REDIS-CLI ARGS...]", "Open redis-cli on the app's Redis (REDIS_URL, or NAME_URL).", "")
	c.stopAtFn = true
	var f clientFlags
	f.register(c.flags, false)
	c.run = func(c *command, args []string) error {
		env, err := runningEnv(&f)
		if err != nil {
			return err
		}
		urlVar := "REDIS_URL"
		if len(args) > 0 { // an add-on's name, or redis-cli's own arguments
			if args[0] == addons.RedisService {
				args = args[1:]
			} else if v := attachVar(args[0], "REDIS") + "_URL"; strings.HasPrefix(env[v], "redis") {
				urlVar, args = v, args[1:]
			}
		}
		cmd, err := addons.RedisCLI(context.Background(), env, urlVar, args...)
		if cmd != nil {
			cmd.Stdin, cmd.Stdout, cmd.Stderr = c.stdin, c.stdout, c.stderr
		}
		return runAttached(err, func() error { return cmd.Run() }, func() int { return cmd.ProcessState.ExitCode() })
	}
	return c
}

// kafkaFlags: which Kafka add-on (--app-name-less, as Heroku's plugin).
func kafkaVerb(name, args, summary string, minArgs int, body func(ctx context.Context, env map[string]string, prefix string, args []string, c *command) error, extra func(c *command)) *command {
	c := newCommand(name, args, summary, "")
	var f clientFlags
	f.register(c.flags, false)
	addon := c.flags.String("addon", "", "the Kafka add-on's attachment `NAME` (default: KAFKA_URL)")
	if extra != nil {
		extra(c)
	}
	c.run = func(c *command, args []string) error {
		if len(args) < minArgs {
			return usagef("usage: dynobox %s %s", name, c.args)
		}
		env, err := runningEnv(&f)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(c.ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
		return body(ctx, env, attachVar(*addon, "KAFKA"), args, c)
	}
	return c
}

func kafkaTopicsCommand() *command {
	return kafkaVerb("kafka:topics", "", "List Kafka topics with partitions and messages.", 0,
		func(ctx context.Context, env map[string]string, prefix string, args []string, c *command) error {
			return addons.KafkaTopics(ctx, env, prefix, c.stdout)
		}, nil)
}

func kafkaCreateCommand() *command {
	var partitions *int
	return kafkaVerb("kafka:topics:create", "TOPIC [--partitions N]", "Create a Kafka topic.", 1,
		func(ctx context.Context, env map[string]string, prefix string, args []string, c *command) error {
			return addons.KafkaCreateTopic(ctx, env, prefix, args[0], *partitions, c.stdout)
		}, func(c *command) { partitions = c.flags.Int("partitions", 1, "number of partitions") })
}

func kafkaWriteCommand() *command {
	return kafkaVerb("kafka:topics:write", "TOPIC MESSAGE", "Write one message to a Kafka topic.", 2,
		func(ctx context.Context, env map[string]string, prefix string, args []string, c *command) error {
			return addons.KafkaWrite(ctx, env, prefix, args[0], strings.Join(args[1:], " "), c.stdout)
		}, nil)
}

func kafkaTailCommand() *command {
	return kafkaVerb("kafka:topics:tail", "TOPIC", "Print a Kafka topic's messages as they arrive (Ctrl-C stops).", 1,
		func(ctx context.Context, env map[string]string, prefix string, args []string, c *command) error {
			return addons.KafkaTail(ctx, env, prefix, args[0], c.stdout, nil)
		}, nil)
}
