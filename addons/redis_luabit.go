package addons

// bit (LuaBitOp 1.0.2) and struct (Roberto Ierusalimschy's struct
// library), as redis-server bundles them; see redis_lualib.go.

import (
	"fmt"
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// ---- bit (LuaBitOp 1.0.2) ----

// bitArg converts a Lua number to 32 bits as LuaBitOp does: rounded to
// the nearest integer, then taken modulo 2^32.
func bitArg(l *lua.LState, n int) uint32 {
	f := float64(l.CheckNumber(n))
	// LuaBitOp adds 2^52+2^51 and keeps the low word: round half to even.
	return uint32(int64(math.RoundToEven(math.Mod(f, 4294967296))))
}

func bitResult(l *lua.LState, v uint32) int {
	l.Push(lua.LNumber(int32(v)))
	return 1
}

func bitFold(op func(a, b uint32) uint32) lua.LGFunction {
	return func(l *lua.LState) int {
		v := bitArg(l, 1)
		for i := 2; i <= l.GetTop(); i++ {
			v = op(v, bitArg(l, i))
		}
		return bitResult(l, v)
	}
}

func bitShift(op func(x, n uint32) uint32) lua.LGFunction {
	return func(l *lua.LState) int {
		return bitResult(l, op(bitArg(l, 1), bitArg(l, 2)&31))
	}
}

func bitToHex(l *lua.LState) int {
	x := bitArg(l, 1)
	n := int32(8)
	if l.GetTop() >= 2 && l.Get(2) != lua.LNil {
		n = int32(bitArg(l, 2))
	}
	digits := "0123456789abcdef"
	if n < 0 {
		n, digits = -n, "0123456789ABCDEF"
	}
	n = min(n, 8)
	buf := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		buf[i] = digits[x&15]
		x >>= 4
	}
	l.Push(lua.LString(buf))
	return 1
}

// ---- struct (Roberto Ierusalimschy's struct 0.2, as bundled with Redis) ----

const (
	structMaxIntSize = 32
	structMaxAlign   = 8
)

type structFmt struct {
	l      *lua.LState
	fn     string // pack, unpack or size, for errors
	f      string
	i      int
	little bool
	align  int
}

func newStructFmt(l *lua.LState, fn, f string) *structFmt {
	return &structFmt{l: l, fn: fn, f: f, little: true, align: 1}
}

// luaArgError raises C Lua's luaL_argerror message (gopher-lua's
// ArgError words it differently).
func luaArgError(l *lua.LState, n int, fn, msg string) {
	l.RaiseError("bad argument #%d to '%s' (%s)", n, fn, msg)
}

func (s *structFmt) num(def int) int {
	if s.i >= len(s.f) || s.f[s.i] < '0' || s.f[s.i] > '9' {
		return def
	}
	a := 0
	for s.i < len(s.f) && s.f[s.i] >= '0' && s.f[s.i] <= '9' {
		if a > (math.MaxInt32-int(s.f[s.i]-'0'))/10 {
			s.l.RaiseError("integral size overflow")
		}
		a = a*10 + int(s.f[s.i]-'0')
		s.i++
	}
	return a
}

// next reads one option and its size.
func (s *structFmt) next() (byte, int) {
	opt := s.f[s.i]
	s.i++
	switch opt {
	case 'b', 'B', 'x':
		return opt, 1
	case 'h', 'H':
		return opt, 2
	case 'l', 'L', 'T', 'd':
		return opt, 8
	case 'f':
		return opt, 4
	case 'c':
		return opt, s.num(1)
	case 'i', 'I':
		n := s.num(4)
		if n > structMaxIntSize {
			s.l.RaiseError("integral size %d is larger than limit of %d", n, structMaxIntSize)
		}
		return opt, n
	}
	return opt, 0
}

// control handles the options that are not values.
func (s *structFmt) control(opt byte) {
	switch opt {
	case ' ':
	case '>':
		s.little = false
	case '<':
		s.little = true
	case '!':
		a := s.num(structMaxAlign)
		if a == 0 || a&(a-1) != 0 {
			s.l.RaiseError("alignment %d is not a power of 2", a)
		}
		s.align = a
	default:
		luaArgError(s.l, 1, s.fn, fmt.Sprintf("invalid format option '%c'", opt))
	}
}

func (s *structFmt) toAlign(length, size int, opt byte) int {
	if size == 0 || opt == 'c' {
		return 0
	}
	size = min(size, s.align)
	return (size - (length & (size - 1))) & (size - 1)
}

func (s *structFmt) putInt(b []byte, v uint64, size int) []byte {
	buf := make([]byte, size)
	for i := 0; i < size; i++ {
		idx := i
		if !s.little {
			idx = size - 1 - i
		}
		if i < 8 {
			buf[idx] = byte(v >> (8 * i))
		} else if int64(v) < 0 {
			buf[idx] = 0xff
		}
	}
	return append(b, buf...)
}

func (s *structFmt) getInt(data string, signed bool, size int) float64 {
	var v uint64
	for i := 0; i < size; i++ {
		idx := size - 1 - i
		if !s.little {
			idx = i
		}
		v = v<<8 | uint64(data[idx])
	}
	if signed && size < 8 {
		mask := uint64(1) << (size*8 - 1)
		return float64(int64((v ^ mask) - mask))
	}
	if signed {
		return float64(int64(v))
	}
	return float64(v)
}

func structPack(l *lua.LState) int {
	s := newStructFmt(l, "pack", l.CheckString(1))
	arg := 2
	var b []byte
	for s.i < len(s.f) {
		opt, size := s.next()
		pad := s.toAlign(len(b), size, opt)
		b = append(b, make([]byte, pad)...)
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			n := float64(l.CheckNumber(arg))
			arg++
			var v uint64
			if n < 0 {
				v = uint64(int64(n))
			} else {
				v = uint64(n)
			}
			b = s.putInt(b, v, size)
		case 'x':
			b = append(b, 0)
		case 'f':
			v := math.Float32bits(float32(l.CheckNumber(arg)))
			arg++
			b = s.putInt(b, uint64(v), 4)
		case 'd':
			v := math.Float64bits(float64(l.CheckNumber(arg)))
			arg++
			b = s.putInt(b, v, 8)
		case 'c', 's':
			str := l.CheckString(arg)
			arg++
			if size == 0 {
				size = len(str)
			}
			if len(str) < size {
				luaArgError(l, arg-1, "pack", "string too short")
			}
			b = append(b, str[:size]...)
			if opt == 's' {
				b = append(b, 0)
			}
		default:
			s.control(opt)
		}
	}
	l.Push(lua.LString(b))
	return 1
}

func structUnpack(l *lua.LState) int {
	s := newStructFmt(l, "unpack", l.CheckString(1))
	data := l.CheckString(2)
	pos := l.OptInt(3, 1) - 1
	if pos < 0 || pos > len(data) {
		luaArgError(l, 3, "unpack", "offset must be 1 <= i <= #s+1")
	}
	n := 0
	push := func(v lua.LValue) { l.Push(v); n++ }
	for s.i < len(s.f) {
		opt, size := s.next()
		pos += s.toAlign(pos, size, opt)
		if pos+size > len(data) {
			luaArgError(l, 2, "unpack", "data string too short")
		}
		switch opt {
		case 'b', 'B', 'h', 'H', 'l', 'L', 'T', 'i', 'I':
			signed := opt == 'b' || opt == 'h' || opt == 'l' || opt == 'i'
			push(lua.LNumber(s.getInt(data[pos:pos+size], signed, size)))
		case 'x':
		case 'f':
			push(lua.LNumber(math.Float32frombits(uint32(s.getInt(data[pos:pos+4], false, 4)))))
		case 'd':
			push(lua.LNumber(math.Float64frombits(s.getUint64(data[pos : pos+8]))))
		case 'c':
			if size == 0 {
				if n == 0 {
					l.RaiseError("format 'c0' needs a previous size")
				}
				prev, ok := l.Get(-1).(lua.LNumber)
				if !ok {
					l.RaiseError("format 'c0' needs a previous size")
				}
				l.Pop(1)
				n--
				size = int(prev)
				if size < 0 || pos+size > len(data) {
					luaArgError(l, 2, "unpack", "data string too short")
				}
			}
			push(lua.LString(data[pos : pos+size]))
		case 's':
			e := strings.IndexByte(data[pos:], 0)
			if e < 0 {
				luaArgError(l, 2, "unpack", "unfinished string in data")
			}
			push(lua.LString(data[pos : pos+e]))
			size = e + 1
		default:
			s.control(opt)
		}
		pos += size
	}
	push(lua.LNumber(pos + 1))
	return n
}

func (s *structFmt) getUint64(b string) uint64 {
	var v uint64
	for i := 0; i < 8; i++ {
		idx := 7 - i
		if !s.little {
			idx = i
		}
		v = v<<8 | uint64(b[idx])
	}
	return v
}

func structSize(l *lua.LState) int {
	s := newStructFmt(l, "size", l.CheckString(1))
	total := 0
	for s.i < len(s.f) {
		opt, size := s.next()
		total += s.toAlign(total, size, opt)
		switch {
		case opt == 's':
			luaArgError(l, 1, "size", "options 'c0' - 's' have undefined sizes")
		case opt == 'c' && size == 0:
			luaArgError(l, 1, "size", "options 'c0' - 's' have undefined sizes")
		case size == 0 && opt != 'c':
			s.control(opt)
		}
		total += size
	}
	l.Push(lua.LNumber(total))
	return 1
}
