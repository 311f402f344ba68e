package addons

// The commands dynobox answers itself rather than miniredis: AUTH, HELLO,
// CLIENT, SAVE/BGSAVE/BGREWRITEAOF, SLOWLOG (and, in their own files,
// INFO, CONFIG, COMMAND, SCRIPT).

import (
	"crypto/subtle"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

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
		"MONITOR":  s.cmdMonitorFor,
		"OBJECT":   s.cmdObject,
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
