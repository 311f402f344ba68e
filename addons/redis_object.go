package addons

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/alicebob/miniredis/v2/server"
)

// Redis 7.0's encoding thresholds (the defaults of hash-max-listpack-*,
// zset-max-listpack-*, set-max-intset-entries): OBJECT ENCODING reports
// the encoding redis-server 7.0 would use for the same value, so clients
// and tools that look (redis-cli's tests, memory advisers) see Redis'
// answers; miniredis itself has one representation per type.
const (
	redisListpackEntries = 128
	redisListpackValue   = 64
	redisIntsetEntries   = 512
	redisEmbstrLen       = 44
)

// cmdObject answers OBJECT ENCODING, REFCOUNT, FREQ and HELP; IDLETIME is
// miniredis'.
func (s *redisServer) cmdObject(c *server.Peer, cl *redisClient, args []string) {
	if len(args) == 0 {
		wrongArgs(c, "object")
		return
	}
	sub := strings.ToUpper(args[0])
	switch {
	case sub == "IDLETIME":
		s.dispatch(c, cl, "OBJECT", args)
	case sub == "HELP":
		reply(c, respBulks([]string{"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
			"ENCODING <key>", "    Return the kind of internal representation used in order to store the value",
			"    associated with a <key>.", "FREQ <key>", "IDLETIME <key>", "REFCOUNT <key>", "HELP"}))
	case len(args) != 2 && (sub == "ENCODING" || sub == "REFCOUNT" || sub == "FREQ"):
		wrongArgs(c, "object|"+strings.ToLower(sub))
	case sub == "ENCODING":
		enc := s.objectEncoding(cl, args[1])
		if enc == "" {
			c.WriteNull()
			return
		}
		c.WriteBulk(enc)
	case sub == "REFCOUNT":
		if s.objectEncoding(cl, args[1]) == "" {
			c.WriteNull()
			return
		}
		c.WriteInt(1)
	case sub == "FREQ":
		c.WriteError("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
	default:
		c.WriteError(fmt.Sprintf("ERR unknown subcommand '%s'. Try OBJECT HELP.", args[0]))
	}
}

// objectEncoding is the encoding redis-server 7.0 would give key's value,
// "" when there is no such key. It reads with the client's database,
// discarding the replies.
func (s *redisServer) objectEncoding(cl *redisClient, key string) string {
	get := func(args ...string) respValue { return s.run(nil, cl, args, true) }
	small := func(vs []respValue, max int) bool {
		if len(vs) > max {
			return false
		}
		for _, v := range vs {
			if len(v.str) > redisListpackValue {
				return false
			}
		}
		return true
	}
	switch t := get("TYPE", key).str; t {
	case "none":
		return ""
	case "string":
		v := get("GET", key).str
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && strconv.FormatInt(n, 10) == v {
			return "int"
		}
		if len(v) <= redisEmbstrLen {
			return "embstr"
		}
		return "raw"
	case "list":
		return "quicklist"
	case "set":
		if n := get("SCARD", key).num; n > redisIntsetEntries {
			return "hashtable"
		}
		for _, m := range get("SMEMBERS", key).elems {
			if n, err := strconv.ParseInt(m.str, 10, 64); err != nil || strconv.FormatInt(n, 10) != m.str {
				return "hashtable"
			}
		}
		return "intset"
	case "zset":
		if get("ZCARD", key).num > redisListpackEntries || !small(get("ZRANGE", key, "0", "-1").elems, redisListpackEntries) {
			return "skiplist"
		}
		return "listpack"
	case "hash":
		if get("HLEN", key).num > redisListpackEntries || !small(get("HGETALL", key).elems, 2*redisListpackEntries) {
			return "hashtable"
		}
		return "listpack"
	case "stream":
		return "stream"
	default: // a HyperLogLog is a string in Redis
		return "raw"
	}
}
