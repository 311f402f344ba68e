package addons

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
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
	transport := "tcp"
	if isTLS {
		transport = "tls"
	}
	pre := respBulks([]string{redisPreamble, s.token, strconv.FormatInt(id, 10),
		conn.RemoteAddr().String(), conn.LocalAddr().String(), transport})
	ic := newInlineConn(conn, pre.appendResp(nil, false), func(msg string) []byte {
		return respBulks([]string{redisProtoErr, s.token, msg}).appendResp(nil, false)
	})
	s.pending.Store(id, ic)
	return ic
}

// redisClient is what we know of one client connection.
type redisClient struct {
	id      int64
	conn    net.Conn
	ic      *inlineConn // conn, which holds pipelined replies back
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
	monitor     bool // after MONITOR

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
	ic := conn.(*inlineConn)
	ic.startCommand(false) // the preamble
	cl := &redisClient{id: id, conn: ic, ic: ic, addr: args[2], laddr: args[3],
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
		case redisHashExpireTick:
			s.hashExpireChunk(c, args)
			return true
		}
		return false // Lua's redis.call, or our snapshot connection
	}
	cl := v.(*redisClient)
	if cl.dispatching {
		return false // our own Dispatch below
	}
	cl.ic.startCommand(mayBlock(cmd, args))
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
	if cl.monitor && cmd != "QUIT" {
		return true // a monitoring connection only listens, as in Redis
	}
	s.feedMonitors(cl, cmd, args)
	switch cmd {
	case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO":
		s.cmdEval(c, cl, cmd, args)
		return true
	case "SORT", "SORT_RO", "BITFIELD", "BITFIELD_RO":
		s.cmdBuiltin(c, cl, cmd, args)
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
	if !cl.multi {
		if v, ok := s.heads.push(cl.currentDB(), full); ok {
			if !cl.discard {
				reply(c, v)
			}
			return v
		}
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

// mayBlock tells whether a command may wait for other clients (or stream
// to this one), so the replies held back before it must go out first.
func mayBlock(cmd string, args []string) bool {
	switch cmd {
	case "XREAD", "XREADGROUP":
		return hasBlockOption(args)
	case "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "WAIT", "WAITAOF":
		return true
	}
	return redisBlocking[cmd]
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
