package addons

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

// Every connection we accept starts with a preamble command that only our
// hook sees: it carries the connection's id, addresses and transport, and
// tells client connections apart from the peers miniredis makes for Lua's
// redis.call and from our own in-process snapshot connection.
const redisPreamble = "DYNOBOX.CONN"

// redisProtoErr is the command inlineConn sends in place of a request it
// cannot parse; our hook replies with the error and closes, as Redis does.
const redisProtoErr = "DYNOBOX.PROTOERR"

func (s *redisServer) wrapConn(conn net.Conn, isTLS bool) net.Conn {
	id := s.nextID.Add(1)
	s.pending.Store(id, conn)
	transport := "tcp"
	if isTLS {
		transport = "tls"
	}
	pre := respBulks([]string{redisPreamble, s.token, strconv.FormatInt(id, 10),
		conn.RemoteAddr().String(), conn.LocalAddr().String(), transport})
	return newInlineConn(conn, pre.appendResp(nil, false), func(msg string) []byte {
		return respBulks([]string{redisProtoErr, s.token, msg}).appendResp(nil, false)
	})
}

// redisClient is what we know of one client connection.
type redisClient struct {
	id      int64
	conn    net.Conn
	addr    string
	laddr   string
	tls     bool
	created time.Time

	// Touched only by the connection's own goroutine.
	authed      bool
	multi       bool
	dispatching bool
	queued      [][]string   // commands queued since MULTI, for the log
	peer        *server.Peer // the connection's miniredis peer
	discard     bool

	mu      sync.Mutex // guards what CLIENT LIST reads from other connections
	name    string
	libName string
	libVer  string
	db      int
	resp    int
	lastCmd string
	lastAt  time.Time
}

// register records a connection from its preamble.
func (s *redisServer) register(c *server.Peer, args []string) bool {
	if len(args) != 5 || args[0] != s.token {
		return false
	}
	id, _ := strconv.ParseInt(args[1], 10, 64)
	conn, ok := s.pending.LoadAndDelete(id)
	if !ok {
		return false
	}
	now := time.Now()
	cl := &redisClient{id: id, conn: conn.(net.Conn), addr: args[2], laddr: args[3],
		tls: args[4] == "tls", created: now, lastAt: now, resp: 2}
	cl.peer = c
	s.clients.Store(c, cl)
	c.OnDisconnect(func() { s.clients.Delete(c) })
	return true
}

// redisNoAuth are the commands a connection may send before AUTH.
var redisNoAuth = map[string]bool{"AUTH": true, "HELLO": true, "QUIT": true}

// hook runs before miniredis sees a command. For client connections it
// enforces AUTH, answers the commands we implement ourselves, and runs the
// rest through miniredis, counting the ones that change data afterwards
// (so a snapshot taken meanwhile is redone).
func (s *redisServer) hook(c *server.Peer, cmd string, args ...string) bool {
	v, known := s.clients.Load(c)
	if !known {
		if cmd == redisPreamble {
			c.OnDisconnect(s.active.Done) // Add(1) was in acceptLoop
			if !s.register(c, args) {
				c.Close()
			}
			return true
		}
		switch cmd {
		case redisLuaCall:
			s.runScript(c, args)
			return true
		case redisExpireTick:
			s.expireChunk(c, args)
			return true
		}
		return false // Lua's redis.call, or our snapshot connection
	}
	cl := v.(*redisClient)
	if cl.dispatching {
		return false // our own Dispatch below
	}
	if cmd == redisProtoErr && len(args) == 2 && args[0] == s.token {
		c.WriteError(args[1])
		c.Close()
		return true
	}
	s.commands.Add(1)
	cl.touch(cmd)
	if !cl.authed && !redisNoAuth[cmd] {
		c.WriteError("NOAUTH Authentication required.")
		return true
	}
	switch cmd {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO":
		s.cmdEval(c, cl, cmd, args)
		return true
	}
	if h := s.handlers[cmd]; h != nil {
		if cl.multi {
			c.WriteError(fmt.Sprintf("ERR dynobox does not support %s inside MULTI", cmd))
			return true
		}
		h(c, cl, args)
		return true
	}
	if msg := checkDBArgs(cmd, args); msg != "" {
		c.WriteError(msg)
		return true
	}
	s.dispatch(c, cl, cmd, args)
	return true
}

func (s *redisServer) dispatch(c *server.Peer, cl *redisClient, cmd string, args []string) {
	full := make([]string, 0, len(args)+1)
	full = append(append(full, cmd), args...)
	logged := s.aof != nil && s.writeCmds[cmd] && !redisNotLogged[cmd]
	switch {
	case s.aof != nil && cl.multi && cmd != "EXEC" && cmd != "DISCARD":
		// Queued: logged at EXEC, with its reply from EXEC's. (Not captured
		// here: miniredis' HEXPIRE replies on the peer that queued it.)
		s.run(c, cl, full, false)
		if s.table.byName[strings.ToLower(cmd)] != nil && cmd != "WATCH" && cmd != "MULTI" {
			cl.queued = append(cl.queued, full)
		}
	case !logged:
		s.run(c, cl, full, false)
	case cmd == "EXEC" && s.aof.failure() != nil:
		s.run(nil, cl, []string{"DISCARD"}, true) // ends miniredis' transaction
		c.WriteError(misconf(s.aof.failure()))
		cl.multi, cl.queued = false, nil
		return
	case s.aof.failure() != nil:
		c.WriteError(misconf(s.aof.failure()))
	case redisBlocking[cmd] || (cmd == "XREADGROUP" && hasBlockOption(args)):
		// May wait for other clients' writes: runs outside the write lock;
		// its effect commutes with what ran meanwhile (a pop from a list
		// others push to, a read of entries others added).
		db := cl.currentDB()
		reply := s.run(c, cl, full, true)
		s.aof.append(db, aofEffects(cmd, args, reply, time.Now()))
	default:
		// The write lock makes the log's order miniredis' order.
		s.writeMu.Lock()
		db := cl.currentDB()
		capture := needsReply(cmd, args)
		if cmd == "EXEC" && queuedHexpire(cl.queued) {
			capture = false // miniredis writes HEXPIRE's reply to the connection itself
		}
		reply := s.run(c, cl, full, capture)
		var effects [][]string
		switch cmd {
		case "EVAL", "EVALSHA":
			effects = s.takeScriptRuns()
		case "EXEC":
			effects = s.execEffects(cl, reply)
		default:
			effects = aofEffects(cmd, args, reply, time.Now())
		}
		s.aof.append(db, effects)
		s.writeMu.Unlock()
	}
	if s.writeCmds[cmd] {
		s.changes.Add(1)
		s.noteTTL(cl.currentDB(), cmd, args)
	}
	switch cmd {
	case "MULTI":
		cl.multi = true
		cl.queued = cl.queued[:0]
	case "EXEC", "DISCARD":
		cl.multi = false
		cl.queued = nil
	case "SELECT":
		if n, ok := parseDBIndex(args[0]); ok && !cl.multi {
			cl.mu.Lock()
			cl.db = n
			cl.mu.Unlock()
		}
	}
}

// run dispatches one command to miniredis for the client. With capture
// it also returns the reply (written to the client all the same); c nil
// discards the reply.
func (s *redisServer) run(c *server.Peer, cl *redisClient, full []string, capture bool) respValue {
	if c == nil { // on the client's connection, reply discarded
		c, cl.discard = cl.peer, true
		defer func() { cl.discard = false }()
	}
	if !capture {
		cl.dispatching = true
		s.mr.Server().Dispatch(c, full)
		cl.dispatching = false
		return respValue{}
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	p := server.NewPeer(w)
	p.Ctx, p.Resp3 = c.Ctx, c.Resp3
	cl.dispatching = true
	s.mr.Server().Dispatch(p, full)
	cl.dispatching = false
	w.Flush()
	if !cl.discard {
		c.WriteRaw(buf.String())
		c.Resp3 = p.Resp3
	}
	v, err := readResp(bufio.NewReader(&buf))
	if err != nil {
		return respValue{kind: '-', str: err.Error()}
	}
	return v
}

// execEffects is what a transaction logs: its queued commands' effects,
// given EXEC's reply (nothing when it was aborted).
func (s *redisServer) execEffects(cl *redisClient, reply respValue) [][]string {
	runs := s.takeScriptRunList()
	replyOf := func(i int) respValue { return respValue{} } // not captured: log the commands as sent
	switch {
	case reply.kind == 0:
	case reply.kind != '*':
		return nil // aborted
	case len(reply.elems) == len(cl.queued):
		replyOf = func(i int) respValue { return reply.elems[i] }
	}
	now := time.Now()
	var effects [][]string
	db := -1
	for i, q := range cl.queued {
		cmd := strings.ToUpper(q[0])
		switch {
		case cmd == "SELECT" && replyOf(i).kind != '-':
			effects = append(effects, q)
			db, _ = parseDBIndex(q[1])
		case cmd == "EVAL" || cmd == "EVALSHA":
			if len(runs) > 0 {
				effects = append(effects, runs[0]...)
				runs = runs[1:]
			}
		case s.writeCmds[cmd] && !redisNotLogged[cmd]:
			effects = append(effects, aofEffects(cmd, q[1:], replyOf(i), now)...)
		}
	}
	if db >= 0 {
		cl.mu.Lock()
		cl.db = db
		cl.mu.Unlock()
	}
	return effects
}

func queuedHexpire(queued [][]string) bool {
	for _, q := range queued {
		if strings.EqualFold(q[0], "HEXPIRE") {
			return true
		}
	}
	return false
}

func (cl *redisClient) currentDB() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.db
}

func (cl *redisClient) touch(cmd string) {
	cl.mu.Lock()
	cl.lastCmd, cl.lastAt = cmd, time.Now()
	cl.mu.Unlock()
}

// checkDBArgs keeps database numbers within the 16 we snapshot (miniredis
// accepts any).
func checkDBArgs(cmd string, args []string) string {
	var dbs []string
	switch cmd {
	case "SELECT":
		dbs = args[:min(len(args), 1)]
	case "MOVE":
		if len(args) == 2 {
			dbs = args[1:]
		}
	case "SWAPDB":
		dbs = args
	case "COPY":
		for i := 2; i+1 < len(args); i++ {
			if strings.EqualFold(args[i], "DB") {
				dbs = append(dbs, args[i+1])
			}
		}
	}
	for _, d := range dbs {
		if _, err := strconv.Atoi(d); err != nil {
			continue // miniredis reports the syntax error
		}
		if _, ok := parseDBIndex(d); !ok {
			return "ERR DB index is out of range"
		}
	}
	return ""
}

type redisHandler func(c *server.Peer, cl *redisClient, args []string)

func (s *redisServer) ownHandlers() map[string]redisHandler {
	return map[string]redisHandler{
		"AUTH":         s.cmdAuth,
		"HELLO":        s.cmdHello,
		"CLIENT":       s.cmdClient,
		"CONFIG":       s.cmdConfig,
		"COMMAND":      func(c *server.Peer, _ *redisClient, args []string) { reply(c, s.table.reply(args)) },
		"INFO":         s.cmdInfo,
		"SAVE":         s.cmdSave,
		"BGSAVE":       s.cmdBgsave,
		"BGREWRITEAOF": s.cmdBgrewriteaof,
		"LASTSAVE":     func(c *server.Peer, _ *redisClient, _ []string) { c.WriteInt(int(s.lastSaveTime())) },
		"ROLE": func(c *server.Peer, _ *redisClient, _ []string) {
			reply(c, respArray(respBulk("master"), respInt(0), respArray()))
		},
		"SLOWLOG":  cmdSlowlog,
		"SCRIPT":   s.cmdScript,
		"CLUSTER":  errorHandler("ERR This instance has cluster support disabled"),
		"MONITOR":  errorHandler("ERR dynobox does not support MONITOR"),
		"SHUTDOWN": errorHandler("ERR SHUTDOWN is disabled: stop dynobox instead"),
	}
}

func errorHandler(msg string) redisHandler {
	return func(c *server.Peer, _ *redisClient, _ []string) { c.WriteError(msg) }
}

func reply(c *server.Peer, v respValue) {
	c.WriteRaw(string(v.appendResp(nil, c.Resp3)))
}

func wrongArgs(c *server.Peer, cmd string) {
	c.WriteError(fmt.Sprintf("ERR wrong number of arguments for '%s' command", cmd))
}

// checkPassword accepts the default user; "" counts as default because
// redis-cli -u redis://:PASSWORD@… sends AUTH "" PASSWORD.
func (s *redisServer) checkPassword(user, pass string) bool {
	return (user == "default" || user == "") && subtle.ConstantTimeCompare([]byte(pass), []byte(s.password)) == 1
}

const wrongPass = "WRONGPASS invalid username-password pair or user is disabled."

func (s *redisServer) cmdAuth(c *server.Peer, cl *redisClient, args []string) {
	user, pass := "default", ""
	switch len(args) {
	case 1:
		pass = args[0]
	case 2:
		user, pass = args[0], args[1]
	default:
		wrongArgs(c, "auth")
		return
	}
	if !s.checkPassword(user, pass) {
		c.WriteError(wrongPass)
		return
	}
	cl.authed = true
	c.WriteOK()
}

// cmdHello is HELLO [protover [AUTH user pass] [SETNAME name]].
func (s *redisServer) cmdHello(c *server.Peer, cl *redisClient, args []string) {
	proto := cl.resp
	if len(args) > 0 {
		n, err := strconv.Atoi(args[0])
		if err != nil {
			c.WriteError("ERR Protocol version is not an integer or out of range")
			return
		}
		if n != 2 && n != 3 {
			c.WriteError("NOPROTO unsupported protocol version")
			return
		}
		proto, args = n, args[1:]
	}
	var name *string
	authed := cl.authed
	for len(args) > 0 {
		switch opt := strings.ToUpper(args[0]); {
		case opt == "AUTH" && len(args) >= 3:
			if !s.checkPassword(args[1], args[2]) {
				c.WriteError(wrongPass)
				return
			}
			authed, args = true, args[3:]
		case opt == "SETNAME" && len(args) >= 2:
			if !validClientName(args[1]) {
				c.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
				return
			}
			name, args = &args[1], args[2:]
		default:
			c.WriteError(fmt.Sprintf("ERR Syntax error in HELLO option '%s'", args[0]))
			return
		}
	}
	if !authed {
		c.WriteError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
		return
	}
	cl.authed = true
	c.Resp3 = proto == 3
	cl.mu.Lock()
	cl.resp = proto
	if name != nil {
		cl.name = *name
	}
	cl.mu.Unlock()
	reply(c, respMap(
		respBulk("server"), respBulk("redis"),
		respBulk("version"), respBulk(redisVersion),
		respBulk("proto"), respInt(int64(proto)),
		respBulk("id"), respInt(cl.id),
		respBulk("mode"), respBulk("standalone"),
		respBulk("role"), respBulk("master"),
		respBulk("modules"), respArray(),
	))
}

func validClientName(name string) bool {
	for _, r := range name {
		if r < '!' || r > '~' {
			return false
		}
	}
	return true
}

func (s *redisServer) cmdClient(c *server.Peer, cl *redisClient, args []string) {
	if len(args) == 0 {
		wrongArgs(c, "client")
		return
	}
	sub, rest := strings.ToUpper(args[0]), args[1:]
	switch {
	case sub == "ID" && len(rest) == 0:
		c.WriteInt(int(cl.id))
	case sub == "GETNAME" && len(rest) == 0:
		cl.mu.Lock()
		name := cl.name
		cl.mu.Unlock()
		if name == "" {
			c.WriteNull()
			return
		}
		c.WriteBulk(name)
	case sub == "SETNAME" && len(rest) == 1:
		if !validClientName(rest[0]) {
			c.WriteError("ERR Client names cannot contain spaces, newlines or special characters.")
			return
		}
		cl.mu.Lock()
		cl.name = rest[0]
		cl.mu.Unlock()
		c.WriteOK()
	case sub == "SETINFO" && len(rest) == 2:
		s.clientSetInfo(c, cl, rest[0], rest[1])
	case sub == "INFO" && len(rest) == 0:
		c.WriteBulk(cl.line(time.Now()) + "\n")
	case sub == "LIST":
		c.WriteBulk(s.clientList(rest))
	case sub == "KILL" && len(rest) >= 1:
		s.clientKill(c, cl, rest)
	case (sub == "NO-EVICT" || sub == "NO-TOUCH") && len(rest) == 1:
		c.WriteOK()
	case sub == "HELP":
		reply(c, respBulks([]string{"CLIENT <subcommand>. Subcommands are:",
			"ID", "GETNAME", "SETNAME <name>", "SETINFO <LIB-NAME|LIB-VER> <value>",
			"INFO", "LIST [TYPE NORMAL] [ID id ...]", "KILL <ip:port> | KILL ID <id> | KILL ADDR <ip:port>",
			"NO-EVICT <ON|OFF>", "NO-TOUCH <ON|OFF>", "HELP"}))
	case sub == "ID" || sub == "GETNAME" || sub == "SETNAME" || sub == "SETINFO" || sub == "INFO" ||
		sub == "KILL" || sub == "NO-EVICT" || sub == "NO-TOUCH":
		wrongArgs(c, "client|"+strings.ToLower(sub))
	default:
		c.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. Try CLIENT HELP.", args[0]))
	}
}

func (s *redisServer) clientSetInfo(c *server.Peer, cl *redisClient, attr, value string) {
	if !validClientName(value) && value != "" {
		c.WriteError("ERR lib-name and lib-ver cannot contain spaces, newlines or special characters.")
		return
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	switch strings.ToUpper(attr) {
	case "LIB-NAME":
		cl.libName = value
	case "LIB-VER":
		cl.libVer = value
	default:
		c.WriteError(fmt.Sprintf("ERR Unrecognized option '%s'", attr))
		return
	}
	c.WriteOK()
}

// line is the client's CLIENT LIST line.
func (cl *redisClient) line(now time.Time) string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return fmt.Sprintf("id=%d addr=%s laddr=%s fd=-1 name=%s age=%d idle=%d flags=N db=%d sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 resp=%d lib-name=%s lib-ver=%s",
		cl.id, cl.addr, cl.laddr, cl.name, int(now.Sub(cl.created).Seconds()), int(now.Sub(cl.lastAt).Seconds()),
		cl.db, strings.ToLower(cl.lastCmd), cl.resp, cl.libName, cl.libVer)
}

// clientList answers CLIENT LIST [TYPE normal] [ID id …].
func (s *redisServer) clientList(args []string) string {
	ids := map[int64]bool{}
	for i := 0; i+1 < len(args); i++ {
		if strings.EqualFold(args[i], "ID") {
			for _, a := range args[i+1:] {
				if n, err := strconv.ParseInt(a, 10, 64); err == nil {
					ids[n] = true
				}
			}
		}
	}
	var clients []*redisClient
	s.clients.Range(func(_, v any) bool {
		if cl := v.(*redisClient); len(ids) == 0 || ids[cl.id] {
			clients = append(clients, cl)
		}
		return true
	})
	sort.Slice(clients, func(i, j int) bool { return clients[i].id < clients[j].id })
	var b strings.Builder
	now := time.Now()
	for _, cl := range clients {
		b.WriteString(cl.line(now))
		b.WriteByte('\n')
	}
	return b.String()
}

// clientKill closes connections by address (old form) or by ID/ADDR
// filters.
func (s *redisServer) clientKill(c *server.Peer, self *redisClient, args []string) {
	match := func(cl *redisClient) bool { return cl.addr == args[0] }
	oldForm := len(args) == 1
	if !oldForm {
		if len(args)%2 != 0 {
			c.WriteError("ERR syntax error")
			return
		}
		match = func(cl *redisClient) bool {
			for i := 0; i < len(args); i += 2 {
				switch v := args[i+1]; strings.ToUpper(args[i]) {
				case "ID":
					if strconv.FormatInt(cl.id, 10) != v {
						return false
					}
				case "ADDR":
					if cl.addr != v {
						return false
					}
				case "SKIPME":
					if strings.EqualFold(v, "yes") && cl == self {
						return false
					}
				default:
					return false
				}
			}
			return true
		}
	}
	killed := 0
	s.clients.Range(func(_, v any) bool {
		if cl := v.(*redisClient); match(cl) {
			cl.conn.Close()
			killed++
		}
		return true
	})
	switch {
	case !oldForm:
		c.WriteInt(killed)
	case killed == 0:
		c.WriteError("ERR No such client")
	default:
		c.WriteOK()
	}
}

// cmdSave writes and fsyncs the append-only log now.
func (s *redisServer) cmdSave(c *server.Peer, _ *redisClient, _ []string) {
	if s.aof != nil {
		if err := s.aof.flush(); err != nil {
			c.WriteError("ERR " + err.Error())
			return
		}
	}
	c.WriteOK()
}

// cmdBgsave saves before answering: the log is written every second
// anyway, and clients that poll LASTSAVE afterwards see it done.
func (s *redisServer) cmdBgsave(c *server.Peer, _ *redisClient, _ []string) {
	if s.aof != nil {
		if err := s.aof.flush(); err != nil {
			c.WriteError("ERR " + err.Error())
			return
		}
	}
	c.WriteInline("Background saving started")
}

// cmdBgrewriteaof compacts the log in the background (redis_rewrite.go).
func (s *redisServer) cmdBgrewriteaof(c *server.Peer, _ *redisClient, _ []string) {
	switch {
	case s.aof == nil:
		c.WriteError("ERR this add-on is ephemeral: it keeps no append-only log")
	case s.startRewrite("BGREWRITEAOF"):
		c.WriteInline("Background append only file rewriting started")
	default:
		c.WriteError("ERR Background append only file rewriting already in progress")
	}
}

func cmdSlowlog(c *server.Peer, _ *redisClient, args []string) {
	if len(args) == 0 {
		wrongArgs(c, "slowlog")
		return
	}
	switch strings.ToUpper(args[0]) {
	case "GET":
		reply(c, respArray())
	case "LEN":
		c.WriteInt(0)
	case "RESET":
		c.WriteOK()
	case "HELP":
		reply(c, respBulks([]string{"SLOWLOG <subcommand>. Subcommands are:", "GET [<count>]", "LEN", "RESET", "HELP"}))
	default:
		c.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. Try SLOWLOG HELP.", args[0]))
	}
}
