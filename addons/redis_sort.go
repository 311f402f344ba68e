package addons

import (
	"slices"
	"strconv"
	"strings"

	"github.com/alicebob/miniredis/v2/server"
)

// SORT and BITFIELD, which miniredis lacks, run as *builtin scripts*: the
// client's command becomes an EVAL of the trampoline (redis_lua.go) naming
// a Go function instead of a Lua script. So they run atomically under
// miniredis' lock, queue inside MULTI like any command, and their writes
// (SORT … STORE, BITFIELD SET/INCRBY) reach the append-only log as the
// commands they ran, as a script's do.
const (
	redisSortBuiltin     = "builtin:sort"
	redisBitfieldBuiltin = "builtin:bitfield"
)

func redisBuiltin(sha string) func(r *luaRun, args []string) respValue {
	switch sha {
	case redisSortBuiltin:
		return builtinSort
	case redisBitfieldBuiltin:
		return builtinBitfield
	}
	return nil
}

// cmdBuiltin dispatches SORT, SORT_RO, BITFIELD and BITFIELD_RO as the
// trampoline's EVAL.
func (s *redisServer) cmdBuiltin(c *server.Peer, cl *redisClient, cmd string, args []string) {
	if len(args) == 0 {
		wrongArgs(c, strings.ToLower(cmd))
		return
	}
	sha, ro := redisSortBuiltin, "1"
	switch cmd {
	case "SORT":
		for i := 1; i < len(args); i++ {
			if strings.EqualFold(args[i], "STORE") {
				ro = "0"
			}
		}
	case "BITFIELD", "BITFIELD_RO":
		sha = redisBitfieldBuiltin
		for _, a := range args[1:] {
			if u := strings.ToUpper(a); u == "SET" || u == "INCRBY" {
				if cmd == "BITFIELD_RO" {
					c.WriteError("ERR BITFIELD_RO only supports the GET subcommand")
					return
				}
				ro = "0"
			}
		}
	}
	call := append([]string{sha, ro, strconv.Itoa(cl.currentDB()), "0", cmd}, args...)
	full := []string{redisLuaTrampoline, "0", s.token, string(respBulks(call).appendResp(nil, false))}
	s.dispatch(c, cl, "EVAL", full)
}

func errReply(msg string) respValue { return respValue{kind: '-', str: msg} }

const redisSyntaxErr = "ERR syntax error"

// builtinSort is SORT key [BY pattern] [LIMIT offset count] [GET pattern
// …] [ASC|DESC] [ALPHA] [STORE destination], as Redis 7.0 sorts.
func builtinSort(r *luaRun, args []string) respValue {
	cmd, key, opts := args[0], args[1], args[2:]
	var (
		by         string
		hasBy      bool
		gets       []string
		desc       bool
		alpha      bool
		store      string
		offset     = 0
		count      = -1
		limited    bool
		dontsort   bool
		storeGiven bool
	)
	for i := 0; i < len(opts); i++ {
		left := len(opts) - i - 1
		switch o := strings.ToUpper(opts[i]); {
		case o == "ASC":
			desc = false
		case o == "DESC":
			desc = true
		case o == "ALPHA":
			alpha = true
		case o == "LIMIT" && left >= 2:
			o1, err1 := strconv.Atoi(opts[i+1])
			c1, err2 := strconv.Atoi(opts[i+2])
			if err1 != nil || err2 != nil {
				return errReply("ERR value is not an integer or out of range")
			}
			offset, count, limited = o1, c1, true
			i += 2
		case o == "STORE" && left >= 1 && cmd == "SORT":
			store, storeGiven = opts[i+1], true
			i++
		case o == "BY" && left >= 1:
			by, hasBy = opts[i+1], true
			if !strings.Contains(by, "*") {
				dontsort = true
			}
			i++
		case o == "GET" && left >= 1:
			gets = append(gets, opts[i+1])
			i++
		default:
			return errReply(redisSyntaxErr)
		}
	}
	typ := r.do([]string{"TYPE", key})
	var elems []string
	switch typ.str {
	case "none":
	case "list":
		elems = strs(r.do([]string{"LRANGE", key, "0", "-1"}).elems)
	case "set":
		elems = strs(r.do([]string{"SMEMBERS", key}).elems)
		if dontsort && storeGiven {
			// Redis sorts a set anyway when storing, so the result is the
			// same wherever the command runs.
			dontsort, alpha, hasBy = false, true, false
		}
	case "zset":
		elems = strs(r.do([]string{"ZRANGE", key, "0", "-1"}).elems)
	default:
		return errReply("WRONGTYPE Operation against a key holding the wrong kind of value")
	}
	if !dontsort {
		keys := make([]*string, len(elems))
		scores := make([]float64, len(elems))
		for i, e := range elems {
			v := &elems[i]
			if hasBy {
				v = lookupPattern(r, by, e)
			}
			keys[i] = v
			if !alpha && v != nil {
				f, err := strconv.ParseFloat(strings.TrimSpace(*v), 64)
				if err != nil {
					return errReply("ERR One or more scores can't be converted into double")
				}
				scores[i] = f
			}
		}
		idx := make([]int, len(elems))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			var cmp int
			if alpha {
				switch ka, kb := keys[a], keys[b]; {
				case ka == nil && kb == nil:
				case ka == nil:
					cmp = -1
				case kb == nil:
					cmp = 1
				default:
					cmp = strings.Compare(*ka, *kb)
				}
			} else {
				switch {
				case scores[a] < scores[b]:
					cmp = -1
				case scores[a] > scores[b]:
					cmp = 1
				default:
					cmp = strings.Compare(elems[a], elems[b])
				}
			}
			if desc {
				cmp = -cmp
			}
			return cmp
		})
		sorted := make([]string, len(elems))
		for i, j := range idx {
			sorted[i] = elems[j]
		}
		elems = sorted
	} else if desc && typ.str == "zset" {
		slices.Reverse(elems)
	}
	if limited {
		start := max(offset, 0)
		end := len(elems)
		if count >= 0 {
			end = min(start+count, len(elems))
		}
		if start >= len(elems) {
			elems = nil
		} else {
			elems = elems[start:end]
		}
	}
	out := respArray()
	for _, e := range elems {
		if len(gets) == 0 {
			out.elems = append(out.elems, respBulk(e))
			continue
		}
		for _, g := range gets {
			if v := lookupPattern(r, g, e); v != nil {
				out.elems = append(out.elems, respBulk(*v))
			} else {
				out.elems = append(out.elems, respValue{kind: '_'})
			}
		}
	}
	if !storeGiven {
		return out
	}
	if v := r.do([]string{"DEL", store}); v.kind == '-' {
		return v
	}
	for i := 0; i < len(out.elems); i += redisRewriteChunk {
		push := []string{"RPUSH", store}
		for _, v := range out.elems[i:min(i+redisRewriteChunk, len(out.elems))] {
			push = append(push, v.str) // a missing GET is stored as ""
		}
		if v := r.do(push); v.kind == '-' {
			return v
		}
	}
	return respInt(int64(len(out.elems)))
}

// lookupPattern is SORT's BY and GET lookup: "#" is the element itself,
// the first "*" is replaced by it, and "->field" reads a hash field. A
// missing key, a wrong type or a pattern without "*" is nil.
func lookupPattern(r *luaRun, pattern, elem string) *string {
	if pattern == "#" {
		return &elem
	}
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return nil
	}
	key, field := pattern, ""
	if arrow := strings.Index(pattern[star+1:], "->"); arrow >= 0 && star+1+arrow+2 < len(pattern) {
		key, field = pattern[:star+1+arrow], pattern[star+1+arrow+2:]
	}
	key = key[:star] + elem + key[star+1:]
	var v respValue
	if field != "" {
		v = r.do([]string{"HGET", key, field})
	} else {
		v = r.do([]string{"GET", key})
	}
	if v.kind != '$' {
		return nil
	}
	s := v.str
	return &s
}

// bitfieldOp is one GET, SET or INCRBY of BITFIELD.
type bitfieldOp struct {
	op       string
	signed   bool
	bits     int
	offset   uint64
	value    int64
	overflow string // WRAP, SAT or FAIL
}

// builtinBitfield is BITFIELD key [GET type offset] [SET type offset
// value] [INCRBY type offset increment] [OVERFLOW WRAP|SAT|FAIL], with
// Redis' overflow arithmetic.
func builtinBitfield(r *luaRun, args []string) respValue {
	key, rest := args[1], args[2:]
	var ops []bitfieldOp
	overflow := "WRAP"
	for i := 0; i < len(rest); i++ {
		sub := strings.ToUpper(rest[i])
		need := map[string]int{"GET": 2, "SET": 3, "INCRBY": 3, "OVERFLOW": 1}[sub]
		if need == 0 || len(rest)-i-1 < need {
			return errReply(redisSyntaxErr)
		}
		if sub == "OVERFLOW" {
			switch o := strings.ToUpper(rest[i+1]); o {
			case "WRAP", "SAT", "FAIL":
				overflow = o
			default:
				return errReply("ERR Invalid OVERFLOW type specified")
			}
			i++
			continue
		}
		op := bitfieldOp{op: sub, overflow: overflow}
		t := rest[i+1]
		bits, err := strconv.Atoi(t[min(1, len(t)):])
		switch {
		case len(t) < 2 || (t[0] != 'i' && t[0] != 'I' && t[0] != 'u' && t[0] != 'U') || err != nil ||
			bits < 1 || (t[0]|0x20 == 'i' && bits > 64) || (t[0]|0x20 == 'u' && bits > 63):
			return errReply("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.")
		}
		op.signed, op.bits = t[0]|0x20 == 'i', bits
		off := rest[i+2]
		mul := uint64(1)
		if strings.HasPrefix(off, "#") {
			off, mul = off[1:], uint64(bits)
		}
		n, err := strconv.ParseInt(off, 10, 64)
		if err != nil || n < 0 || uint64(n)*mul+uint64(bits) > 512<<23 {
			return errReply("ERR bit offset is not an integer or out of range")
		}
		op.offset = uint64(n) * mul
		if sub != "GET" {
			if op.value, err = strconv.ParseInt(rest[i+3], 10, 64); err != nil {
				return errReply("ERR value is not an integer or out of range")
			}
		}
		ops = append(ops, op)
		i += need
	}
	cur := r.do([]string{"GET", key})
	if cur.kind == '-' {
		return cur
	}
	buf := []byte(cur.str)
	changed := false
	out := respArray()
	for _, op := range ops {
		old := bitfieldGet(buf, op)
		if op.op == "GET" {
			out.elems = append(out.elems, respInt(old))
			continue
		}
		nv, incr, ret := op.value, int64(0), old
		if op.op == "INCRBY" {
			nv, incr = old, op.value
		}
		val, over := bitfieldOverflow(nv, incr, op)
		if over && op.overflow == "FAIL" {
			out.elems = append(out.elems, respValue{kind: '_'})
			continue
		}
		if op.op == "INCRBY" {
			ret = val
		}
		if need := int((op.offset + uint64(op.bits) + 7) / 8); need > len(buf) {
			buf = append(buf, make([]byte, need-len(buf))...)
		}
		bitfieldSet(buf, op, uint64(val))
		changed = true
		out.elems = append(out.elems, respInt(ret))
	}
	if changed {
		if v := r.do([]string{"SET", key, string(buf), "KEEPTTL"}); v.kind == '-' {
			return v
		}
	}
	return out
}

func bitfieldGet(buf []byte, op bitfieldOp) int64 {
	var v uint64
	for i := uint64(0); i < uint64(op.bits); i++ {
		pos := op.offset + i
		bit := uint64(0)
		if b := pos >> 3; b < uint64(len(buf)) {
			bit = uint64(buf[b]>>(7-pos&7)) & 1
		}
		v = v<<1 | bit
	}
	if op.signed && op.bits < 64 && v&(1<<(op.bits-1)) != 0 {
		v |= ^uint64(0) << op.bits
	}
	return int64(v)
}

func bitfieldSet(buf []byte, op bitfieldOp, v uint64) {
	for i := 0; i < op.bits; i++ {
		bit := byte(v>>(op.bits-1-i)) & 1
		pos := op.offset + uint64(i)
		mask := byte(1) << (7 - pos&7)
		if bit == 1 {
			buf[pos>>3] |= mask
		} else {
			buf[pos>>3] &^= mask
		}
	}
}

// bitfieldOverflow adds incr to value within op's type, as Redis'
// checkSignedBitfieldOverflow and checkUnsignedBitfieldOverflow do: it
// returns the value to store and whether it overflowed.
func bitfieldOverflow(value, incr int64, op bitfieldOp) (int64, bool) {
	bits := uint(op.bits)
	wrap := func() int64 {
		c := uint64(value) + uint64(incr)
		if bits < 64 {
			mask := ^uint64(0) << bits
			if op.signed && c&(1<<(bits-1)) != 0 {
				c |= mask
			} else {
				c &^= mask
			}
		}
		return int64(c)
	}
	if !op.signed {
		maxv := uint64(1)<<bits - 1
		uv := uint64(value)
		maxincr, minincr := int64(maxv-uv), -int64(uv)
		switch {
		case uv > maxv || (incr > 0 && incr > maxincr):
			if op.overflow == "SAT" {
				return int64(maxv), true
			}
			return wrap(), true
		case incr < 0 && incr < minincr:
			if op.overflow == "SAT" {
				return 0, true
			}
			return wrap(), true
		}
		return value + incr, false
	}
	maxv := int64(1<<63 - 1)
	if bits < 64 {
		maxv = int64(1)<<(bits-1) - 1
	}
	minv := -maxv - 1
	maxincr, minincr := maxv-value, minv-value
	switch {
	case value > maxv || (bits != 64 && incr > maxincr) || (value >= 0 && incr > 0 && incr > maxincr):
		if op.overflow == "SAT" {
			return maxv, true
		}
		return wrap(), true
	case value < minv || (bits != 64 && incr < minincr) || (value < 0 && incr < 0 && incr < minincr):
		if op.overflow == "SAT" {
			return minv, true
		}
		return wrap(), true
	}
	return value + incr, false
}
