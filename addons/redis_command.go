package addons

import (
	"bufio"
	"bytes"
	_ "embed"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// redisVersion is the version our Redis reports (INFO, HELLO): the
// version of the redis-server whose COMMAND and COMMAND DOCS replies are
// stored in redis_commands.resp.
const redisVersion = "7.0.15"

// redisCommandsRESP holds, for every command we serve, the reply of a real
// redis-server to COMMAND INFO and COMMAND DOCS, as one RESP3 array of
// [name, info, docs] triples. TestRedisCommandTable regenerates it
// (DYNOBOX_UPDATE_REDIS_COMMANDS=1, with redis-server installed).
//
//go:embed redis_commands.resp
var redisCommandsRESP []byte

// redisCommand is one command as COMMAND describes it.
type redisCommand struct {
	name  string
	info  respValue // the COMMAND INFO entry
	docs  respValue // the COMMAND DOCS entry
	flags map[string]bool
	first int // key positions, as in COMMAND INFO
	last  int
	step  int
}

// writes tells whether running the command can change the data set, so
// the append-only log records it.
// Scripts and containers such as XGROUP count when they may write.
func (c *redisCommand) writes() bool {
	if c.flags["write"] || c.flags["may_replicate"] || c.name == "exec" || c.name == "eval" || c.name == "evalsha" {
		return true
	}
	if len(c.info.elems) >= 10 {
		for _, sub := range c.info.elems[9].elems {
			if len(sub.elems) > 2 {
				for _, f := range sub.elems[2].elems {
					if f.str == "write" {
						return true
					}
				}
			}
		}
	}
	return false
}

// redisCommandTable is every command we serve, by lower-case name.
type redisCommandTable struct {
	byName map[string]*redisCommand
	names  []string // sorted
}

// loadRedisCommands parses the stored table and adds the commands newer
// than redisVersion that miniredis implements; registered reports whether
// the running server serves a command.
func loadRedisCommands(stored []byte, registered func(string) bool) (*redisCommandTable, error) {
	all, err := readResp(bufio.NewReader(bytes.NewReader(stored)))
	if err != nil {
		return nil, fmt.Errorf("read command table: %w", err)
	}
	t := &redisCommandTable{byName: map[string]*redisCommand{}}
	entries := append(all.elems, redisNewerCommands()...)
	for _, e := range entries {
		if len(e.elems) != 3 {
			return nil, fmt.Errorf("command table: entry with %d fields", len(e.elems))
		}
		name := e.elems[0].str
		if !registered(name) {
			continue
		}
		c, err := newRedisCommand(name, e.elems[1], e.elems[2])
		if err != nil {
			return nil, err
		}
		t.byName[name] = c
		t.names = append(t.names, name)
	}
	sort.Strings(t.names)
	return t, nil
}

func newRedisCommand(name string, info, docs respValue) (*redisCommand, error) {
	if len(info.elems) < 6 {
		return nil, fmt.Errorf("command table: %s: short info", name)
	}
	c := &redisCommand{
		name:  name,
		info:  info,
		docs:  docs,
		flags: map[string]bool{},
		first: int(info.elems[3].num),
		last:  int(info.elems[4].num),
		step:  int(info.elems[5].num),
	}
	for _, f := range info.elems[2].elems {
		c.flags[f.str] = true
	}
	return c, nil
}

var (
	redisTableOnce sync.Once
	redisTable     *redisCommandTable
	redisTableErr  error
)

// redisCommands parses the table once per process.
func redisCommands(registered func(string) bool) (*redisCommandTable, error) {
	redisTableOnce.Do(func() {
		redisTable, redisTableErr = loadRedisCommands(redisCommandsRESP, registered)
	})
	return redisTable, redisTableErr
}

// lookup finds a command or a "container|subcommand".
func (t *redisCommandTable) lookup(name string) (info, docs respValue, ok bool) {
	name = strings.ToLower(name)
	parent, sub, isSub := strings.Cut(name, "|")
	c := t.byName[parent]
	if c == nil {
		return respValue{}, respValue{}, false
	}
	if !isSub {
		return c.info, c.docs, true
	}
	if len(c.info.elems) < 10 {
		return respValue{}, respValue{}, false
	}
	for _, s := range c.info.elems[9].elems {
		if s.elems[0].str == parent+"|"+sub {
			subs, _ := c.docs.mapGet("subcommands")
			d, _ := subs.mapGet(parent + "|" + sub)
			return s, d, true
		}
	}
	return respValue{}, respValue{}, false
}

// reply answers COMMAND [subcommand …].
func (t *redisCommandTable) reply(args []string) respValue {
	if len(args) == 0 {
		return t.infos(t.names)
	}
	sub, rest := strings.ToUpper(args[0]), args[1:]
	switch sub {
	case "COUNT":
		return respInt(int64(len(t.names)))
	case "INFO":
		if len(rest) == 0 {
			return t.infos(t.names)
		}
		return t.infos(rest)
	case "DOCS":
		if len(rest) == 0 {
			rest = t.names
		}
		return t.docsMap(rest)
	case "LIST":
		return t.list(rest)
	case "GETKEYS":
		return t.getKeys(rest)
	case "HELP":
		return respBulks([]string{
			"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"(no subcommand)", "    Return details about all Redis commands.",
			"COUNT", "    Return the total number of commands in this Redis server.",
			"LIST [FILTERBY (MODULE <module-name>|ACLCAT <category>|PATTERN <pattern>)]",
			"    Return a list of all commands in this Redis server.",
			"INFO [<command-name> ...]", "    Return details about multiple Redis commands.",
			"DOCS [<command-name> ...]", "    Return documentation details about multiple Redis commands.",
			"GETKEYS <full-command>", "    Return the keys from a full Redis command.",
			"HELP", "    Print this help.",
		})
	}
	return respValue{kind: '-', str: fmt.Sprintf("ERR unknown subcommand '%s'. Try COMMAND HELP.", args[0])}
}

func (t *redisCommandTable) infos(names []string) respValue {
	out := respArray()
	for _, n := range names {
		info, _, ok := t.lookup(n)
		if !ok {
			info = respValue{kind: '_'}
		}
		out.elems = append(out.elems, info)
	}
	return out
}

func (t *redisCommandTable) docsMap(names []string) respValue {
	out := respMap()
	for _, n := range names {
		if _, docs, ok := t.lookup(n); ok {
			out.elems = append(out.elems, respBulk(strings.ToLower(n)), docs)
		}
	}
	return out
}

func (t *redisCommandTable) list(args []string) respValue {
	if len(args) == 0 {
		return respBulks(t.names)
	}
	if len(args) != 3 || !strings.EqualFold(args[0], "FILTERBY") {
		return respValue{kind: '-', str: "ERR syntax error"}
	}
	var out []string
	for _, n := range t.names {
		c := t.byName[n]
		switch strings.ToUpper(args[1]) {
		case "PATTERN":
			if ok, _ := path.Match(strings.ToLower(args[2]), n); ok {
				out = append(out, n)
			}
		case "ACLCAT":
			for _, cat := range c.info.elems[6].elems {
				if strings.EqualFold(cat.str, "@"+args[2]) {
					out = append(out, n)
				}
			}
		case "MODULE":
		default:
			return respValue{kind: '-', str: "ERR syntax error"}
		}
	}
	return respBulks(out)
}

// getKeys answers COMMAND GETKEYS from the key positions in COMMAND INFO.
func (t *redisCommandTable) getKeys(full []string) respValue {
	if len(full) == 0 {
		return respValue{kind: '-', str: "ERR wrong number of arguments for 'command|getkeys' command"}
	}
	c := t.byName[strings.ToLower(full[0])]
	if c == nil {
		return respValue{kind: '-', str: "ERR Invalid command specified"}
	}
	if c.flags["movablekeys"] || c.first == 0 {
		return respValue{kind: '-', str: "ERR The command has no key arguments"}
	}
	last := c.last
	if last < 0 {
		last = len(full) + last
	}
	var keys []string
	for i := c.first; i <= last && i < len(full); i += max(c.step, 1) {
		keys = append(keys, full[i])
	}
	return respBulks(keys)
}

// redisNewerCommands describes the commands miniredis serves that came
// after redisVersion (so the stored table lacks them), enough for COMMAND
// and redis-cli's help.
func redisNewerCommands() []respValue {
	specs := []struct {
		name, since, summary string
		arity                int64
		readonly             bool
	}{
		{"hexpire", "7.4.0", "Set expiry for hash field using relative time to expire (seconds)", -6, false},
		{"hpersist", "7.4.0", "Removes the expiration time for each specified field", -5, false},
		{"httl", "7.4.0", "Returns the TTL in seconds of a hash field.", -5, true},
		{"hpttl", "7.4.0", "Returns the TTL in milliseconds of a hash field.", -5, true},
		{"hsetex", "8.0.0", "Set the value of one or more fields of a given hash key, and optionally set their expiration.", -6, false},
		{"delex", "8.4.0", "Conditionally removes the specified key.", -2, false},
	}
	var out []respValue
	for _, s := range specs {
		flag, cat, group := "write", "@write", "hash"
		if s.readonly {
			flag, cat = "readonly", "@read"
		}
		if s.name == "delex" {
			group = "string"
		}
		info := respArray(respBulk(s.name), respInt(s.arity), respSet(respStatus(flag), respStatus("fast")),
			respInt(1), respInt(1), respInt(1), respSet(respStatus(cat), respStatus("@"+group), respStatus("@fast")),
			respArray(), respArray(), respArray())
		docs := respMap(respBulk("summary"), respBulk(s.summary), respBulk("since"), respBulk(s.since),
			respBulk("group"), respBulk(group), respBulk("complexity"), respBulk("O(N) where N is the number of arguments to the command"))
		out = append(out, respArray(respBulk(s.name), info, docs))
	}
	return out
}

// redisOwnCommands are the commands dynobox answers itself (redis_cmds.go)
// rather than miniredis; COMMAND lists them too.
var redisOwnCommands = []string{
	"auth", "hello", "client", "config", "command", "info",
	"save", "bgsave", "bgrewriteaof", "lastsave", "role", "slowlog",
	"sort", "sort_ro", "bitfield", "bitfield_ro", "monitor",
}

// redisSubcommands keeps, for the containers whose subcommands we serve
// only in part, the subcommands COMMAND lists; other containers keep all.
var redisSubcommands = map[string][]string{
	"client":  {"id", "getname", "setname", "setinfo", "info", "list", "kill", "no-evict", "no-touch", "help"},
	"config":  {"get", "set", "resetstat", "rewrite", "help"},
	"command": {"count", "docs", "getkeys", "info", "list", "help"},
	"object":  {"encoding", "freq", "help", "idletime", "refcount"},
	"memory":  {"usage"},
	"script":  {"load", "exists", "flush"},
	"pubsub":  {"channels", "numsub", "numpat"},
	"xinfo":   {"stream", "groups", "consumers", "help"},
	"slowlog": {"get", "len", "reset", "help"},
}

// redisLeftOut are commands miniredis registers that we answer with an
// error instead, so COMMAND does not list them.
var redisLeftOut = map[string]bool{"cluster": true}

func isRedisOwnCommand(name string) bool {
	for _, n := range redisOwnCommands {
		if n == name {
			return true
		}
	}
	return false
}

// keepSubcommands filters a stored [name, info, docs] entry down to the
// subcommands in redisSubcommands.
func keepSubcommands(e respValue) respValue {
	name := e.elems[0].str
	keep, ok := redisSubcommands[name]
	if !ok || len(e.elems[1].elems) < 10 {
		return e
	}
	kept := map[string]bool{}
	for _, s := range keep {
		kept[name+"|"+s] = true
	}
	info := e.elems[1]
	info.elems = append([]respValue(nil), info.elems...)
	subs := respArray()
	for _, s := range info.elems[9].elems {
		if kept[s.elems[0].str] {
			subs.elems = append(subs.elems, s)
		}
	}
	info.elems[9] = subs
	docs := respMap()
	for i := 0; i+1 < len(e.elems[2].elems); i += 2 {
		k, v := e.elems[2].elems[i], e.elems[2].elems[i+1]
		if k.str == "subcommands" {
			filtered := respMap()
			for j := 0; j+1 < len(v.elems); j += 2 {
				if kept[v.elems[j].str] {
					filtered.elems = append(filtered.elems, v.elems[j], v.elems[j+1])
				}
			}
			v = filtered
		}
		docs.elems = append(docs.elems, k, v)
	}
	return respArray(e.elems[0], info, docs)
}

// parseDBIndex parses a database number the way SELECT does.
func parseDBIndex(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0 && n < redisDatabases
}
