package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"
)

// command is one dynobox subcommand with its flags and help.
type command struct {
	name     string
	args     string // synopsis of positional arguments
	summary  string
	detail   string
	flags    *flag.FlagSet
	run      func(c *command, args []string) error
	stopAtFn bool // positional args end flag parsing (run's command may have flags of its own)

	// What Main gives the verb: it reads only stdin and writes only to
	// stdout and stderr.
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer
}

// isTerminal says whether r is a terminal, where a verb may prompt.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printJSON writes v as indented JSON, for --json.
func (c *command) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
	return nil
}

func newCommand(name, args, summary, detail string) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &command{name: name, args: args, summary: summary, detail: detail, flags: fs}
}

// parse reads flags anywhere among the arguments (unless stopAtFn), so
// "dynobox start web=2 -p 5000" works; "--" ends flags.
func (c *command) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := c.flags.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%s: %v (see \"dynobox help %s\")", c.name, err, c.name)
		}
		rest := c.flags.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag.Parse stops at "--" (consumed) or at the first positional.
		consumedDashes := len(args) > len(rest) && args[len(args)-len(rest)-1] == "--"
		if consumedDashes || c.stopAtFn {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// alias registers a short name for an existing flag.
func alias(fs *flag.FlagSet, short, long string) {
	f := fs.Lookup(long)
	fs.Var(f.Value, short, "alias of --"+long)
}

// listFlag collects repeated and comma-separated values (-e a -e b,c).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// secondsFlag accepts "30" (seconds, as foreman's -t) or a Go duration ("1m").
type secondsFlag struct{ d *time.Duration }

func (s secondsFlag) String() string {
	if s.d == nil {
		return ""
	}
	return s.d.String()
}

func (s secondsFlag) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		if n < 0 {
			return errors.New("must not be negative")
		}
		*s.d = time.Duration(n * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return fmt.Errorf("%q is not a number of seconds or a duration like 30s", v)
	}
	*s.d = d
	return nil
}

// writeHelp prints a command's usage and flags.
func (c *command) writeHelp(w io.Writer) {
	fmt.Fprintf(w, "Usage: dynobox %s [flags] %s\n\n%s\n", c.name, c.args, c.summary)
	if c.detail != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.detail))
	}
	var lines [][2]string
	shorts := map[string]string{}
	c.flags.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "alias of --") {
			shorts[strings.TrimPrefix(f.Usage, "alias of --")] = f.Name
		}
	})
	c.flags.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Usage, "alias of --") {
			return
		}
		name := "--" + f.Name
		if s, ok := shorts[f.Name]; ok {
			name = "-" + s + ", " + name
		} else {
			name = "    " + name
		}
		typ, usage := flag.UnquoteUsage(f)
		if typ != "" && typ != "value" {
			name += " " + typ
		} else if typ == "value" {
			name += " VALUE"
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, [2]string{name, usage})
	})
	if len(lines) > 0 {
		fmt.Fprintln(w, "\nFlags:")
		width := 0
		for _, l := range lines {
			width = max(width, len(l[0]))
		}
		for _, l := range lines {
			fmt.Fprintf(w, "  %-*s  %s\n", width, l[0], l[1])
		}
	}
}

// portFlag is a TCP port number, 1-65535: "-p -1" or "-p 99999" is a
// usage error naming the flag, not a "port in use" later.
type portFlag struct{ p *int }

func (f portFlag) String() string {
	if f.p == nil || *f.p == 0 {
		return ""
	}
	return strconv.Itoa(*f.p)
}

func (f portFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q is not a port number (1-65535)", v)
	}
	*f.p = n
	return nil
}

// checkBind checks --bind: an IP address or localhost.
func checkBind(v string) error {
	if v == "localhost" || net.ParseIP(v) != nil {
		return nil
	}
	return usagef("--bind %s: not an IP address; use e.g. 127.0.0.1 (this machine only), 0.0.0.0 or ::", v)
}

// checkDashboard checks --dashboard: off, or HOST:PORT with an IP
// address or localhost (or nothing, for every address) and a port.
func checkDashboard(v string) error {
	if v == "" || v == "off" {
		return nil
	}
	host, port, err := net.SplitHostPort(v)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 || host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return usagef("--dashboard %s: use HOST:PORT, e.g. 127.0.0.1:6006, or off", v)
	}
	return nil
}
