package addons

import (
	"bufio"
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	luajson "github.com/alicebob/miniredis/v2/gopher-json"
	"github.com/alicebob/miniredis/v2/server"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// Scripts run in our own gopher-lua state, which has the libraries Redis
// gives scripts (cjson, cmsgpack, bit, struct) that miniredis' does not,
// and no hook to add them. Atomicity still comes from miniredis: a
// client's EVAL becomes an EVAL of redisLuaTrampoline, which miniredis runs
// under its lock (queued inside MULTI, as any command); the trampoline
// calls back into our hook with redisLuaCall, and our script's
// redis.call() dispatches to miniredis with the trampoline's nested
// context, so it neither re-takes the lock nor lets another client in.
// The replies pass through pcall, which keeps error messages as they are.
// The script's arguments travel as one RESP-encoded string (unpack() in
// miniredis' state overflows at about 5000 values).
const (
	redisLuaCall       = "DYNOBOX.LUA"
	redisLuaTrampoline = "return redis.pcall('" + redisLuaCall + "', ARGV[1], ARGV[2])"
)

// redisScripts is the script cache of SCRIPT LOAD and EVAL, by SHA1.
type redisScripts struct {
	mu      sync.Mutex
	sources map[string]string
	protos  map[string]*lua.FunctionProto
	states  sync.Pool // *lua.LState, reset between runs
}

func newRedisScripts() *redisScripts {
	return &redisScripts{sources: map[string]string{}, protos: map[string]*lua.FunctionProto{}}
}

func sha1Hex(s string) string {
	h := sha1.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

// load compiles and caches a script; the error is Redis' compile error.
func (rs *redisScripts) load(src string) (string, *lua.FunctionProto, error) {
	sha := sha1Hex(src)
	rs.mu.Lock()
	p := rs.protos[sha]
	rs.mu.Unlock()
	if p != nil {
		return sha, p, nil
	}
	chunk, err := parse.Parse(strings.NewReader(src), "user_script")
	if err != nil {
		return "", nil, fmt.Errorf("ERR Error compiling script (new function): user_script:%s", luaParseError(err))
	}
	p, err = lua.Compile(chunk, "user_script")
	if err != nil {
		return "", nil, fmt.Errorf("ERR Error compiling script (new function): %v", err)
	}
	rs.mu.Lock()
	rs.sources[sha], rs.protos[sha] = src, p
	rs.mu.Unlock()
	return sha, p, nil
}

var luaParseLine = regexp.MustCompile(`line:(\d+)\(column:\d+\) near '([^']*)':\s*(.*)`)

// luaParseError turns gopher-lua's "user_script line:1(column:5) near
// 'x': syntax error" into Lua's "1: … near 'x'".
func luaParseError(err error) string {
	msg := err.Error()
	if m := luaParseLine.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("%s: %s near '%s'", m[1], strings.TrimSpace(m[3]), m[2])
	}
	return " " + msg
}

func (rs *redisScripts) get(sha string) *lua.FunctionProto {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.protos[strings.ToLower(sha)]
}

func (rs *redisScripts) flush() {
	rs.mu.Lock()
	rs.sources, rs.protos = map[string]string{}, map[string]*lua.FunctionProto{}
	rs.mu.Unlock()
}

// cmdEval turns EVAL/EVALSHA (and their _RO forms) into the trampoline
// that miniredis runs atomically; the script itself runs in runScript.
func (s *redisServer) cmdEval(c *server.Peer, cl *redisClient, cmd string, args []string) {
	if len(args) < 2 {
		wrongArgs(c, strings.ToLower(cmd))
		return
	}
	var sha string
	if strings.HasPrefix(cmd, "EVALSHA") {
		sha = strings.ToLower(args[0])
		if s.scripts.get(sha) == nil {
			c.WriteError("NOSCRIPT No matching script. Please use EVAL.")
			return
		}
	} else {
		var err error
		if sha, _, err = s.scripts.load(args[0]); err != nil {
			c.WriteError(err.Error())
			return
		}
	}
	numKeys, err := strconv.Atoi(args[1])
	switch {
	case err != nil:
		c.WriteError("ERR value is not an integer or out of range")
		return
	case numKeys < 0:
		c.WriteError("ERR Number of keys can't be negative")
		return
	case numKeys > len(args)-2:
		c.WriteError("ERR Number of keys can't be greater than number of args")
		return
	}
	ro := "0"
	if strings.HasSuffix(cmd, "_RO") {
		ro = "1"
	}
	call := append([]string{sha, ro, strconv.Itoa(cl.currentDB())}, args[1:]...)
	full := []string{redisLuaTrampoline, "0", s.token, string(respBulks(call).appendResp(nil, false))}
	s.dispatch(c, cl, "EVAL", full)
}

// cmdScript answers SCRIPT LOAD|EXISTS|FLUSH from our cache.
func (s *redisServer) cmdScript(c *server.Peer, _ *redisClient, args []string) {
	if len(args) == 0 {
		wrongArgs(c, "script")
		return
	}
	switch sub := strings.ToUpper(args[0]); {
	case sub == "LOAD" && len(args) == 2:
		sha, _, err := s.scripts.load(args[1])
		if err != nil {
			c.WriteError(err.Error())
			return
		}
		c.WriteBulk(sha)
	case sub == "EXISTS" && len(args) >= 2:
		c.WriteLen(len(args) - 1)
		for _, sha := range args[1:] {
			if s.scripts.get(sha) != nil {
				c.WriteInt(1)
			} else {
				c.WriteInt(0)
			}
		}
	case sub == "FLUSH" && len(args) <= 2:
		s.scripts.flush()
		c.WriteOK()
	case sub == "KILL":
		c.WriteError("NOTBUSY No scripts in execution right now.")
	case sub == "LOAD" || sub == "EXISTS" || sub == "FLUSH":
		wrongArgs(c, "script|"+strings.ToLower(sub))
	default:
		c.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. Try SCRIPT HELP.", args[0]))
	}
}

// runScript is the trampoline's callback: args are the token and the
// encoded sha, ro, db, numkeys, keys…, argv…. It runs under miniredis'
// lock, and c carries the nested context the script's redis.call() uses.
func (s *redisServer) runScript(c *server.Peer, wire []string) {
	var args []string
	if len(wire) == 2 && wire[0] == s.token {
		if v, err := readResp(bufio.NewReader(strings.NewReader(wire[1]))); err == nil {
			args = append([]string{wire[0]}, strs(v.elems)...)
		}
	}
	if len(args) < 5 {
		c.WriteError("ERR unknown command '" + redisLuaCall + "'")
		return
	}
	sha, readOnly := args[1], args[2] == "1"
	proto := s.scripts.get(sha)
	builtin := redisBuiltin(sha)
	if proto == nil && builtin == nil {
		c.WriteError("NOSCRIPT No matching script. Please use EVAL.")
		return
	}
	db, _ := strconv.Atoi(args[3])
	numKeys, _ := strconv.Atoi(args[4])
	keys, argv := args[5:5+numKeys], args[5+numKeys:]

	run := &luaRun{s: s, ctx: c.Ctx, sha: sha, readOnly: readOnly, db: db}
	if !readOnly && s.aof != nil {
		defer func() {
			s.effMu.Lock()
			s.runs = append(s.runs, run.effects)
			s.effMu.Unlock()
		}()
	}
	if builtin != nil {
		c.WriteRaw(string(builtin(run, append(keys, argv...)).appendResp(nil, false)))
		return
	}
	l := s.luaState()
	defer s.scripts.states.Put(l)
	redisTable := l.GetGlobal("redis").(*lua.LTable)
	redisTable.RawSetString("call", l.NewFunction(run.call(true)))
	redisTable.RawSetString("pcall", l.NewFunction(run.call(false)))
	g := l.G.Global
	g.RawSetString("KEYS", luaStrings(l, keys))
	g.RawSetString("ARGV", luaStrings(l, argv))

	l.Push(l.NewFunctionFromProto(proto))
	err := l.PCall(0, 1, nil)
	ret := l.Get(1)
	l.SetTop(0)
	if err != nil {
		c.WriteError(scriptError(err, sha))
		return
	}
	c.WriteRaw(string(luaToResp(nil, ret, 0)))
}

// luaState takes a prepared state from the pool: Redis' libraries, the
// redis table, and globals that raise errors on access to undefined names
// and on assignment, as Redis 7's do.
func (s *redisServer) luaState() *lua.LState {
	if l, ok := s.scripts.states.Get().(*lua.LState); ok {
		l.SetTop(0)
		return l
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true, RegistryMaxSize: 1 << 20})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		l.Push(l.NewFunction(lib.open))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	luajson.Preload(l)
	l.Push(l.GetGlobal("require"))
	l.Push(lua.LString("json"))
	l.Call(1, 1)
	l.SetGlobal("cjson", l.Get(-1))
	l.Pop(1)
	openRedisLuaLibs(l)
	l.SetGlobal("redis", l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{
		"error_reply":  func(l *lua.LState) int { return luaReplyTable(l, "err") },
		"status_reply": func(l *lua.LState) int { return luaReplyTable(l, "ok") },
		"sha1hex": func(l *lua.LState) int {
			l.Push(lua.LString(sha1Hex(l.CheckString(1))))
			return 1
		},
		"log":                func(*lua.LState) int { return 0 },
		"setresp":            func(*lua.LState) int { return 0 },
		"set_repl":           func(*lua.LState) int { return 0 },
		"replicate_commands": func(l *lua.LState) int { l.Push(lua.LTrue); return 1 },
		"breakpoint":         func(l *lua.LState) int { l.Push(lua.LFalse); return 1 },
		"debug":              func(*lua.LState) int { return 0 },
		"acl_check_cmd":      func(l *lua.LState) int { l.Push(lua.LTrue); return 1 },
	}))
	rt := l.GetGlobal("redis").(*lua.LTable)
	for k, v := range map[string]lua.LValue{
		"LOG_DEBUG": lua.LNumber(0), "LOG_VERBOSE": lua.LNumber(1), "LOG_NOTICE": lua.LNumber(2), "LOG_WARNING": lua.LNumber(3),
		"REPL_NONE": lua.LNumber(0), "REPL_SLAVE": lua.LNumber(1), "REPL_REPLICA": lua.LNumber(1), "REPL_AOF": lua.LNumber(2), "REPL_ALL": lua.LNumber(3),
		"REDIS_VERSION": lua.LString(redisVersion), "REDIS_VERSION_NUM": lua.LNumber(redisVersionNum()),
	} {
		rt.RawSetString(k, v)
	}
	l.SetGlobal("server", rt)
	l.SetGlobal("KEYS", l.NewTable())
	l.SetGlobal("ARGV", l.NewTable())
	for _, name := range []string{"loadfile", "dofile", "require", "module", "package"} {
		l.SetGlobal(name, lua.LNil)
	}
	mt := l.NewTable()
	mt.RawSetString("__index", l.NewFunction(func(l *lua.LState) int {
		l.RaiseError("Script attempted to access nonexistent global variable '%s'", l.ToString(2))
		return 0
	}))
	mt.RawSetString("__newindex", l.NewFunction(func(l *lua.LState) int {
		l.RaiseError("Attempt to modify a readonly table")
		return 0
	}))
	l.SetMetatable(l.G.Global, mt)
	return l
}

func redisVersionNum() int {
	var a, b, c int
	fmt.Sscanf(redisVersion, "%d.%d.%d", &a, &b, &c)
	return a<<16 | b<<8 | c
}

func luaStrings(l *lua.LState, ss []string) *lua.LTable {
	t := l.CreateTable(len(ss), 0)
	for i, s := range ss {
		t.RawSetInt(i+1, lua.LString(s))
	}
	return t
}

func luaReplyTable(l *lua.LState, field string) int {
	t := l.NewTable()
	t.RawSetString(field, lua.LString(l.CheckString(1)))
	l.Push(t)
	return 1
}

// luaRun is one script execution.
type luaRun struct {
	s        *redisServer
	ctx      any // miniredis' nested connection context, from the trampoline
	sha      string
	readOnly bool
	effects  [][]string // the write commands it ran, for the log
	db       int        // the database its commands run in
}

// call is redis.call (raise) or redis.pcall (return the error table).
func (r *luaRun) call(raise bool) lua.LGFunction {
	return func(l *lua.LState) int {
		fail := func(msg string) int {
			t := l.NewTable()
			t.RawSetString("err", lua.LString(msg))
			if raise {
				t.RawSetString("where", lua.LString(strings.TrimRight(l.Where(1), ": ")))
				l.Error(t, 0)
				return 0
			}
			l.Push(t)
			return 1
		}
		top := l.GetTop()
		if top == 0 {
			return fail("ERR Please specify at least one argument for this redis lib call")
		}
		args := make([]string, top)
		for i := 1; i <= top; i++ {
			switch v := l.Get(i).(type) {
			case lua.LString:
				args[i-1] = string(v)
			case lua.LNumber:
				args[i-1] = strconv.FormatFloat(float64(v), 'g', 17, 64)
			default:
				return fail("ERR Lua redis lib command arguments must be strings or integers")
			}
		}
		v := r.do(args)
		if v.kind == '-' {
			return fail(v.str)
		}
		l.Push(respToLua(l, v))
		return 1
	}
}

// do runs one command of the script (or of a builtin, redis_sort.go) in
// its nested context, noting TTLs and the log's effects; an error comes
// back as a '-' reply.
func (r *luaRun) do(args []string) respValue {
	cmd := strings.ToUpper(args[0])
	if msg := r.s.scriptRefuses(cmd, r.readOnly); msg != "" {
		return respValue{kind: '-', str: msg}
	}
	v, fast := r.s.heads.pushLocked(r.db, append([]string{cmd}, args[1:]...))
	if !fast {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		peer := server.NewPeer(w)
		peer.Ctx = r.ctx
		r.s.mr.Server().Dispatch(peer, args)
		w.Flush()
		var err error
		if v, err = readResp(bufio.NewReader(&buf)); err != nil {
			return respValue{kind: '-', str: "ERR " + err.Error()}
		}
	}
	if v.kind == '-' {
		switch {
		case strings.HasPrefix(v.str, "ERR wrong number of arguments"):
			v.str = "ERR Wrong number of args calling Redis command from script"
		case strings.HasPrefix(v.str, "ERR unknown command"):
			v.str = "ERR Unknown Redis command called from script"
		}
		return v
	}
	if cmd == "SELECT" && v.kind == '+' {
		r.db, _ = parseDBIndex(args[1])
	} else if r.s.writeCmds[cmd] {
		r.s.noteTTL(r.db, cmd, args[1:])
	}
	if r.s.aof != nil && !r.readOnly && (r.s.writeCmds[cmd] || cmd == "SELECT") {
		r.effects = append(r.effects, aofEffects(cmd, args[1:], v, time.Now())...)
	}
	return v
}

// redisNotInScripts are commands scripts may not run.
var redisNotInScripts = map[string]bool{
	"EVAL": true, "EVALSHA": true, "EVAL_RO": true, "EVALSHA_RO": true, "SCRIPT": true,
	"MULTI": true, "EXEC": true, "DISCARD": true, "WATCH": true, "UNWATCH": true,
	"SUBSCRIBE": true, "PSUBSCRIBE": true, "UNSUBSCRIBE": true, "PUNSUBSCRIBE": true,
	"MONITOR": true, "AUTH": true, "HELLO": true, "CLIENT": true, "SAVE": true, "BGSAVE": true,
	"SHUTDOWN": true, redisLuaCall: true, redisPreamble: true,
}

func (s *redisServer) scriptRefuses(cmd string, readOnly bool) string {
	if redisNotInScripts[cmd] {
		return "ERR This Redis command is not allowed from script"
	}
	c := s.table.byName[strings.ToLower(cmd)]
	if c == nil {
		return "ERR Unknown Redis command called from script"
	}
	if readOnly && c.flags["write"] {
		return "ERR Write commands are not allowed from read-only scripts."
	}
	return ""
}

// scriptError formats a failed script's error as Redis 7 does.
func scriptError(err error, sha string) string {
	var obj lua.LValue = lua.LString(err.Error())
	if ae, ok := err.(*lua.ApiError); ok {
		obj = ae.Object
	}
	msg, where := "", ""
	switch v := obj.(type) {
	case *lua.LTable:
		msg = lua.LVAsString(v.RawGetString("err"))
		where = lua.LVAsString(v.RawGetString("where"))
		if msg == "" {
			msg = "ERR unknown error"
		}
	default:
		text := v.String()
		if m := luaWhere.FindStringSubmatch(text); m != nil {
			where = m[1]
		}
		msg = "ERR " + text
	}
	if where == "" {
		where = "user_script:1"
	}
	return fmt.Sprintf("%s script: %s, on @%s.", msg, sha, where)
}

var luaWhere = regexp.MustCompile(`^(user_script:\d+):`)

// respToLua converts a reply as Redis does for redis.call: integers to
// numbers, bulks to strings, nulls to false, arrays to tables, status to
// {ok=…}.
func respToLua(l *lua.LState, v respValue) lua.LValue {
	switch v.kind {
	case ':':
		return lua.LNumber(v.num)
	case '$', ',':
		return lua.LString(v.str)
	case '+':
		t := l.NewTable()
		t.RawSetString("ok", lua.LString(v.str))
		return t
	case '-':
		t := l.NewTable()
		t.RawSetString("err", lua.LString(v.str))
		return t
	case '#':
		return lua.LBool(v.num != 0)
	case '*', '~', '%':
		t := l.CreateTable(len(v.elems), 0)
		for i, e := range v.elems {
			t.RawSetInt(i+1, respToLua(l, e))
		}
		return t
	}
	return lua.LFalse
}

// luaToResp converts a script's return value as Redis does: numbers are
// truncated to integers, tables with err/ok become error/status replies,
// arrays stop at the first nil, false is a null and true 1. Status and
// error tables nested in arrays become bulk strings: miniredis, which the
// reply passes through, cannot carry them.
func luaToResp(b []byte, v lua.LValue, depth int) []byte {
	switch v := v.(type) {
	case lua.LString:
		return appendBulk(b, string(v))
	case lua.LNumber:
		return respInt(int64(v)).appendResp(b, false)
	case lua.LBool:
		if v {
			return append(b, ":1\r\n"...)
		}
		return append(b, "$-1\r\n"...)
	case *lua.LTable:
		if e, ok := v.RawGetString("err").(lua.LString); ok && depth > 0 {
			return appendBulk(b, string(e))
		} else if ok {
			return respValue{kind: '-', str: strings.NewReplacer("\r", " ", "\n", " ").Replace(string(e))}.appendResp(b, false)
		}
		if s, ok := v.RawGetString("ok").(lua.LString); ok && depth > 0 {
			return appendBulk(b, string(s))
		} else if ok {
			return respStatus(strings.NewReplacer("\r", " ", "\n", " ").Replace(string(s))).appendResp(b, false)
		}
		var elems []lua.LValue
		for i := 1; ; i++ {
			e := v.RawGetInt(i)
			if e == lua.LNil {
				break
			}
			elems = append(elems, e)
		}
		b = append(b, '*')
		b = strconv.AppendInt(b, int64(len(elems)), 10)
		b = append(b, '\r', '\n')
		for _, e := range elems {
			b = luaToResp(b, e, depth+1)
		}
		return b
	}
	return append(b, "$-1\r\n"...)
}

// takeScriptRuns returns the write commands of the script that just ran.
func (s *redisServer) takeScriptRuns() [][]string {
	var out [][]string
	for _, r := range s.takeScriptRunList() {
		out = append(out, r...)
	}
	return out
}

// takeScriptRunList returns the scripts run since the last call, each as
// the write commands it ran.
func (s *redisServer) takeScriptRunList() [][][]string {
	s.effMu.Lock()
	defer s.effMu.Unlock()
	runs := s.runs
	s.runs = nil
	return runs
}
