package addons

import (
	"strconv"
	"strings"
	"time"
)

// redisNotLogged are write-flagged commands that change nothing a replay
// needs.
var redisNotLogged = map[string]bool{"PUBLISH": true, "SPUBLISH": true, "PFCOUNT": true}

// redisBlocking are the commands that may wait for another client; they
// run outside the write lock (see dispatch) and are logged as their
// non-blocking effect.
var redisBlocking = map[string]bool{
	"BLPOP": true, "BRPOP": true, "BRPOPLPUSH": true, "BLMOVE": true, "BLMPOP": true,
	"BZPOPMIN": true, "BZPOPMAX": true, "BZMPOP": true,
}

// needsReply tells whether a command's log entry depends on its reply.
func needsReply(cmd string, args []string) bool {
	switch cmd {
	case "XADD", "SPOP", "XCLAIM", "XAUTOCLAIM", "EXEC":
		return true
	case "XREADGROUP":
		return hasBlockOption(args)
	}
	return redisBlocking[cmd]
}

func hasBlockOption(args []string) bool {
	for i, a := range args {
		if strings.EqualFold(a, "STREAMS") {
			return false
		}
		if strings.EqualFold(a, "BLOCK") && i+1 < len(args) {
			return true
		}
	}
	return false
}

// hasTTLOption tells whether SET's arguments give a relative TTL.
func hasTTLOption(args []string) bool {
	for i := 2; i < len(args); i++ {
		if a := args[i]; len(a) == 2 && (a[0]|0x20 == 'e' || a[0]|0x20 == 'p') && a[1]|0x20 == 'x' {
			return true
		}
	}
	return false
}

// aofEffects is what the log records for one write command that ran at
// now and answered reply: the command itself when replaying it gives the
// same result, else the commands with its effect. It returns nothing for
// a command that failed or changed nothing. A zero reply means it was not
// captured (see dispatch): the command is logged as sent.
func aofEffects(cmd string, args []string, reply respValue, now time.Time) [][]string {
	if reply.kind == '-' || redisNotLogged[cmd] {
		return nil
	}
	if reply.kind == 0 && needsReply(cmd, args) {
		if redisBlocking[cmd] || cmd == "XREADGROUP" {
			return nil // in a transaction they do not block; a replay might
		}
		return [][]string{append([]string{cmd}, args...)}
	}
	ms := func(d int64, unit int64) string { return strconv.FormatInt(now.UnixMilli()+d*unit, 10) }
	same := func() [][]string { return [][]string{append([]string{cmd}, args...)} }
	switch cmd {
	case "SET":
		if !hasTTLOption(args) {
			return same()
		}
		out := []string{cmd}
		for i := 0; i < len(args); i++ {
			a := strings.ToUpper(args[i])
			if i >= 2 && (a == "EX" || a == "PX") && i+1 < len(args) {
				n, err := strconv.ParseInt(args[i+1], 10, 64)
				if err != nil {
					return nil
				}
				unit := int64(1000)
				if a == "PX" {
					unit = 1
				}
				out = append(out, "PXAT", ms(n, unit))
				i++
				continue
			}
			out = append(out, args[i])
		}
		return [][]string{out}
	case "SETEX", "PSETEX":
		if len(args) != 3 {
			return nil
		}
		n, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return nil
		}
		unit := int64(1000)
		if cmd == "PSETEX" {
			unit = 1
		}
		return [][]string{{"SET", args[0], args[2], "PXAT", ms(n, unit)}}
	case "EXPIRE", "PEXPIRE":
		if len(args) < 2 {
			return nil
		}
		n, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil {
			return nil
		}
		unit := int64(1000)
		if cmd == "PEXPIRE" {
			unit = 1
		}
		return [][]string{append([]string{"PEXPIREAT", args[0], ms(n, unit)}, args[2:]...)}
	case "GETEX":
		if len(args) == 3 && (strings.EqualFold(args[1], "EX") || strings.EqualFold(args[1], "PX")) {
			n, err := strconv.ParseInt(args[2], 10, 64)
			if err != nil {
				return nil
			}
			unit := int64(1000)
			if strings.EqualFold(args[1], "PX") {
				unit = 1
			}
			return [][]string{{"PEXPIREAT", args[0], ms(n, unit)}}
		}
		return same()
	case "RESTORE":
		if len(args) >= 3 && args[1] != "0" && !containsFold(args[3:], "ABSTTL") {
			n, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return nil
			}
			out := append([]string{cmd, args[0], ms(n, 1)}, args[2:]...)
			return [][]string{append(out, "ABSTTL")}
		}
		return same()
	case "XADD":
		if reply.kind != '$' {
			return nil // NOMKSTREAM on a missing stream
		}
		if i := xaddIDIndex(args); i > 0 {
			out := append([]string{cmd}, args...)
			out[i+1] = reply.str
			return [][]string{out}
		}
		return same()
	case "SPOP":
		members := replyStrings(reply)
		if len(args) == 0 || len(members) == 0 {
			return nil
		}
		return [][]string{append([]string{"SREM", args[0]}, members...)}
	case "BLPOP", "BRPOP":
		if len(reply.elems) != 2 {
			return nil
		}
		return [][]string{{cmd[1:], reply.elems[0].str}}
	case "BZPOPMIN", "BZPOPMAX":
		if len(reply.elems) != 3 {
			return nil
		}
		return [][]string{{cmd[1:], reply.elems[0].str}}
	case "BRPOPLPUSH":
		if reply.kind == '_' || len(args) < 2 {
			return nil
		}
		return [][]string{{"RPOPLPUSH", args[0], args[1]}}
	case "BLMOVE":
		if reply.kind == '_' || len(args) < 4 {
			return nil
		}
		return [][]string{{"LMOVE", args[0], args[1], args[2], args[3]}}
	case "BLMPOP", "BZMPOP":
		if len(reply.elems) != 2 || len(args) < 2 {
			return nil
		}
		n := strconv.Itoa(len(reply.elems[1].elems))
		numKeys, _ := strconv.Atoi(args[1])
		if 2+numKeys >= len(args) {
			return nil
		}
		where := strings.ToUpper(args[2+numKeys])
		pop := map[string]string{"LEFT": "LPOP", "RIGHT": "RPOP", "MIN": "ZPOPMIN", "MAX": "ZPOPMAX"}[where]
		if pop == "" {
			return nil
		}
		return [][]string{{pop, reply.elems[0].str, n}}
	case "XREADGROUP":
		var out []string
		for i := 0; i < len(args); i++ {
			if strings.EqualFold(args[i], "STREAMS") {
				out = append(out, args[i:]...)
				break
			}
			if strings.EqualFold(args[i], "BLOCK") && i+1 < len(args) {
				i++
				continue
			}
			out = append(out, args[i])
		}
		return [][]string{append([]string{cmd}, out...)}
	case "XCLAIM", "XAUTOCLAIM":
		// Which entries were idle long enough depends on time: log the
		// claim of the entries it did claim.
		if len(args) < 4 {
			return nil
		}
		claimed := reply
		if cmd == "XAUTOCLAIM" {
			if len(reply.elems) < 2 {
				return nil
			}
			claimed = reply.elems[1]
		}
		var ids []string
		for _, e := range claimed.elems {
			if e.kind == '*' && len(e.elems) > 0 {
				ids = append(ids, e.elems[0].str)
			} else if e.kind == '$' {
				ids = append(ids, e.str)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		out := append([]string{"XCLAIM", args[0], args[1], args[2], "0"}, ids...)
		return [][]string{append(out, "JUSTID")}
	}
	return same()
}

// xaddIDIndex finds the ID argument of XADD key [NOMKSTREAM] [MAXLEN|MINID
// [=|~] threshold [LIMIT count]] id field value …, when the server picks
// (part of) the ID.
func xaddIDIndex(args []string) int {
	i := 1
	for i < len(args) {
		switch strings.ToUpper(args[i]) {
		case "NOMKSTREAM":
			i++
			continue
		case "MAXLEN", "MINID":
			i++
			if i < len(args) && (args[i] == "=" || args[i] == "~") {
				i++
			}
			i++
			continue
		case "LIMIT":
			i += 2
			continue
		}
		break
	}
	if i < len(args) && (args[i] == "*" || strings.HasSuffix(args[i], "-*")) {
		return i
	}
	return -1
}

func replyStrings(v respValue) []string {
	switch v.kind {
	case '$':
		return []string{v.str}
	case '*', '~':
		return strs(v.elems)
	}
	return nil
}

func containsFold(ss []string, s string) bool {
	for _, x := range ss {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
