package addons

import (
	"encoding/binary"
	"math"

	lua "github.com/yuin/gopher-lua"
)

// The Lua libraries Redis scripts may use beyond Lua's own: cmsgpack,
// bit and struct, written to give the bytes and numbers a real
// redis-server gives (TestRedisLuaLibraries compares them). cjson is
// miniredis' gopher-json. Numbers are Lua 5.1 doubles, as in Redis.

// openRedisLuaLibs registers cmsgpack, bit and struct as globals.
func openRedisLuaLibs(l *lua.LState) {
	l.SetGlobal("cmsgpack", l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{
		"pack":         msgpackPack,
		"unpack":       func(l *lua.LState) int { return msgpackUnpack(l, 0, 0, true) },
		"unpack_one":   func(l *lua.LState) int { return msgpackUnpack(l, 1, l.OptInt(2, 0), false) },
		"unpack_limit": func(l *lua.LState) int { return msgpackUnpack(l, l.CheckInt(2), l.OptInt(3, 0), false) },
	}))
	l.SetGlobal("bit", l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{
		"tobit":   func(l *lua.LState) int { return bitResult(l, bitArg(l, 1)) },
		"bnot":    func(l *lua.LState) int { return bitResult(l, ^bitArg(l, 1)) },
		"band":    bitFold(func(a, b uint32) uint32 { return a & b }),
		"bor":     bitFold(func(a, b uint32) uint32 { return a | b }),
		"bxor":    bitFold(func(a, b uint32) uint32 { return a ^ b }),
		"lshift":  bitShift(func(x, n uint32) uint32 { return x << n }),
		"rshift":  bitShift(func(x, n uint32) uint32 { return x >> n }),
		"arshift": bitShift(func(x, n uint32) uint32 { return uint32(int32(x) >> n) }),
		"rol":     bitShift(func(x, n uint32) uint32 { return x<<n | x>>((32-n)&31) }),
		"ror":     bitShift(func(x, n uint32) uint32 { return x>>n | x<<((32-n)&31) }),
		"bswap": func(l *lua.LState) int {
			x := bitArg(l, 1)
			return bitResult(l, x>>24|(x>>8)&0xff00|(x&0xff00)<<8|x<<24)
		},
		"tohex": bitToHex,
	}))
	l.SetGlobal("struct", l.SetFuncs(l.NewTable(), map[string]lua.LGFunction{
		"pack":   structPack,
		"unpack": structUnpack,
		"size":   structSize,
	}))
}

// ---- cmsgpack (lua_cmsgpack 0.4, as bundled with Redis) ----

// msgpackMaxNesting is lua_cmsgpack's LUACMSGPACK_MAX_NESTING: deeper
// tables encode as nil.
const msgpackMaxNesting = 16

func msgpackPack(l *lua.LState) int {
	n := l.GetTop()
	if n == 0 {
		l.ArgError(0, "MessagePack pack needs input.")
	}
	var b []byte
	for i := 1; i <= n; i++ {
		b = msgpackEncode(b, l.Get(i), 0)
	}
	l.Push(lua.LString(b))
	return 1
}

func msgpackEncode(b []byte, v lua.LValue, level int) []byte {
	switch v := v.(type) {
	case lua.LString:
		return msgpackString(b, string(v))
	case lua.LBool:
		if v {
			return append(b, 0xc3)
		}
		return append(b, 0xc2)
	case lua.LNumber:
		f := float64(v)
		if !math.IsInf(f, 0) && !math.IsNaN(f) && f >= -9.223372036854775808e18 && f < 9.223372036854775808e18 && float64(int64(f)) == f {
			return msgpackInt(b, int64(f))
		}
		if f32 := float32(f); float64(f32) == f || math.IsNaN(f) {
			return binary.BigEndian.AppendUint32(append(b, 0xca), math.Float32bits(f32))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xcb), math.Float64bits(f))
	case *lua.LTable:
		if level >= msgpackMaxNesting {
			return append(b, 0xc0)
		}
		if n, ok := luaArrayLen(v); ok {
			b = msgpackHeader(b, n, 0x90, 0xdc, 0xdd)
			for i := 1; i <= n; i++ {
				b = msgpackEncode(b, v.RawGetInt(i), level+1)
			}
			return b
		}
		n := 0
		v.ForEach(func(lua.LValue, lua.LValue) { n++ })
		b = msgpackHeader(b, n, 0x80, 0xde, 0xdf)
		v.ForEach(func(k, val lua.LValue) {
			b = msgpackEncode(b, k, level+1)
			b = msgpackEncode(b, val, level+1)
		})
		return b
	}
	return append(b, 0xc0) // nil, functions, userdata…
}

// luaArrayLen reports whether t holds only the keys 1..n, as
// lua_cmsgpack's table_is_an_array decides (an empty table is an array).
func luaArrayLen(t *lua.LTable) (int, bool) {
	count, maxKey, ok := 0, 0, true
	t.ForEach(func(k, _ lua.LValue) {
		n, isNum := k.(lua.LNumber)
		if !isNum || n <= 0 || float64(n) != math.Floor(float64(n)) {
			ok = false
			return
		}
		count++
		maxKey = max(maxKey, int(n))
	})
	return count, ok && count == maxKey
}

func msgpackHeader(b []byte, n int, fix, b16, b32 byte) []byte {
	switch {
	case n < 16:
		return append(b, fix|byte(n))
	case n <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, b16), uint16(n))
	}
	return binary.BigEndian.AppendUint32(append(b, b32), uint32(n))
}

func msgpackString(b []byte, s string) []byte {
	switch n := len(s); {
	case n < 32:
		b = append(b, 0xa0|byte(n))
	case n <= 0xff:
		b = append(b, 0xd9, byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0xda), uint16(n))
	default:
		b = binary.BigEndian.AppendUint32(append(b, 0xdb), uint32(n))
	}
	return append(b, s...)
}

func msgpackInt(b []byte, n int64) []byte {
	if n >= 0 {
		switch {
		case n <= 127:
			return append(b, byte(n))
		case n <= 0xff:
			return append(b, 0xcc, byte(n))
		case n <= 0xffff:
			return binary.BigEndian.AppendUint16(append(b, 0xcd), uint16(n))
		case n <= 0xffffffff:
			return binary.BigEndian.AppendUint32(append(b, 0xce), uint32(n))
		}
		return binary.BigEndian.AppendUint64(append(b, 0xcf), uint64(n))
	}
	switch {
	case n >= -32:
		return append(b, byte(int8(n)))
	case n >= math.MinInt8:
		return append(b, 0xd0, byte(int8(n)))
	case n >= math.MinInt16:
		return binary.BigEndian.AppendUint16(append(b, 0xd1), uint16(int16(n)))
	case n >= math.MinInt32:
		return binary.BigEndian.AppendUint32(append(b, 0xd2), uint32(int32(n)))
	}
	return binary.BigEndian.AppendUint64(append(b, 0xd3), uint64(n))
}

// msgpackUnpack decodes up to limit values (all with decodeAll) from the
// string argument starting at offset; unpack_one and unpack_limit return
// the next offset (-1 at the end) first, as lua_cmsgpack does.
func msgpackUnpack(l *lua.LState, limit, offset int, decodeAll bool) int {
	s := l.CheckString(1)
	if offset < 0 || limit < 0 {
		l.RaiseError("Invalid request to unpack with offset of %d and limit of %d.", offset, limit)
	}
	if offset > len(s) {
		l.RaiseError("Start offset %d greater than input length %d.", offset, len(s))
	}
	if decodeAll {
		limit = math.MaxInt
	}
	d := msgpackDecoder{l: l, s: s, p: offset}
	var out []lua.LValue
	for d.p < len(s) && len(out) < limit {
		v, err := d.decode()
		if err != "" {
			l.RaiseError("%s", err)
		}
		out = append(out, v)
	}
	if !decodeAll {
		next := d.p
		if next == len(s) {
			next = -1
		}
		l.Push(lua.LNumber(next))
	}
	for _, v := range out {
		l.Push(v)
	}
	if decodeAll {
		return len(out)
	}
	return len(out) + 1
}

type msgpackDecoder struct {
	l *lua.LState
	s string
	p int
}

const (
	msgpackEOF    = "Missing bytes in input."
	msgpackBadFmt = "Bad data format in input."
)

func (d *msgpackDecoder) take(n int) (string, string) {
	if n < 0 || len(d.s)-d.p < n {
		return "", msgpackEOF
	}
	v := d.s[d.p : d.p+n]
	d.p += n
	return v, ""
}

func (d *msgpackDecoder) uint(n int) (uint64, string) {
	b, err := d.take(n)
	if err != "" {
		return 0, err
	}
	var v uint64
	for i := 0; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, ""
}

func (d *msgpackDecoder) decode() (lua.LValue, string) {
	tb, err := d.take(1)
	if err != "" {
		return nil, err
	}
	t := tb[0]
	switch {
	case t <= 0x7f:
		return lua.LNumber(t), ""
	case t >= 0xe0:
		return lua.LNumber(int8(t)), ""
	case t&0xe0 == 0xa0:
		s, err := d.take(int(t & 0x1f))
		return lua.LString(s), err
	case t&0xf0 == 0x90:
		return d.array(int(t & 0x0f))
	case t&0xf0 == 0x80:
		return d.table(int(t & 0x0f))
	}
	sized := func(n int) (int, string) {
		v, err := d.uint(n)
		return int(v), err
	}
	switch t {
	case 0xc0:
		return lua.LNil, ""
	case 0xc2:
		return lua.LFalse, ""
	case 0xc3:
		return lua.LTrue, ""
	case 0xcc, 0xcd, 0xce, 0xcf:
		v, err := d.uint(1 << (t - 0xcc))
		return lua.LNumber(float64(v)), err
	case 0xd0, 0xd1, 0xd2, 0xd3:
		n := 1 << (t - 0xd0)
		v, err := d.uint(n)
		shift := 64 - 8*n
		return lua.LNumber(float64(int64(v<<shift) >> shift)), err
	case 0xca:
		v, err := d.uint(4)
		return lua.LNumber(math.Float32frombits(uint32(v))), err
	case 0xcb:
		v, err := d.uint(8)
		return lua.LNumber(math.Float64frombits(v)), err
	case 0xd9, 0xda, 0xdb: // lua_cmsgpack has no bin types
		width := map[byte]int{0xd9: 1, 0xda: 2, 0xdb: 4}[t]
		n, err := sized(width)
		if err != "" {
			return nil, err
		}
		s, err := d.take(n)
		return lua.LString(s), err
	case 0xdc, 0xdd:
		n, err := sized(2 << (t - 0xdc))
		if err != "" {
			return nil, err
		}
		return d.array(n)
	case 0xde, 0xdf:
		n, err := sized(2 << (t - 0xde))
		if err != "" {
			return nil, err
		}
		return d.table(n)
	}
	return nil, msgpackBadFmt
}

func (d *msgpackDecoder) array(n int) (lua.LValue, string) {
	t := d.l.NewTable()
	for i := 1; i <= n; i++ {
		v, err := d.decode()
		if err != "" {
			return nil, err
		}
		t.RawSetInt(i, v)
	}
	return t, ""
}

func (d *msgpackDecoder) table(n int) (lua.LValue, string) {
	t := d.l.NewTable()
	for range n {
		k, err := d.decode()
		if err != "" {
			return nil, err
		}
		v, err := d.decode()
		if err != "" {
			return nil, err
		}
		if k != lua.LNil {
			t.RawSet(k, v)
		}
	}
	return t, ""
}
