package addons

import (
	"bufio"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// respConn is a RESP2 connection that returns replies as raw bytes, to
// compare two servers byte for byte.
type respConn struct {
	w *bufio.Writer
	r *bufio.Reader
}

func dialResp(t *testing.T, rawURL string) *respConn {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := dialTCP(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &respConn{w: bufio.NewWriter(nc), r: bufio.NewReader(nc)}
	if pw, ok := u.User.Password(); ok {
		if got := c.do(t, "AUTH", pw); got != "+OK\r\n" {
			t.Fatalf("AUTH: %q", got)
		}
	}
	return c
}

// do sends one command and returns its reply in RESP2, as sent.
func (c *respConn) do(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := c.w.Write(respBulks(args).appendResp(nil, false)); err != nil {
		t.Fatal(err)
	}
	if err := c.w.Flush(); err != nil {
		t.Fatal(err)
	}
	v, err := readResp(c.r)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return string(v.appendResp(nil, false))
}

// TestRedisLuaLibraries runs scripts using cmsgpack, bit, struct, cjson
// and the redis table on a real redis-server and on ours, and wants the
// same reply bytes. Tables with more than one hash key are left out of
// byte comparisons: their order follows each Lua's hash layout.
func TestRedisLuaLibraries(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	real := dialResp(t, "redis://"+runRealRedisServer(t))
	r := startRedis(t, t.TempDir())
	ours := dialResp(t, r.Env()["REDIS_URL"])
	scripts := []string{
		// cmsgpack: every width of integer, float32/64, strings, arrays, maps.
		`return cmsgpack.pack(0, 1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, 2^53)`,
		`return cmsgpack.pack(-1, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649, -2^53)`,
		`return cmsgpack.pack(1.5, 0.1, -2.25, 1e300, 1/0, -1/0)`,
		`return cmsgpack.pack('', 'abc', string.rep('x', 31), string.rep('y', 32), string.rep('z', 255), string.rep('w', 256), string.rep('v', 70000))`,
		`return cmsgpack.pack(true, false, nil, {}, {1, 2, {3, {4}}}, {a = 1}, {[1] = 'a', [3] = 'c'})`,
		`local t = {} for i = 1, 20 do t[i] = i end return cmsgpack.pack(t)`,
		`local t = {} for i = 1, 70000 do t[i] = i % 7 end return #cmsgpack.pack(t)`,
		`local t = {} local c = t for i = 1, 20 do c[1] = {} c = c[1] end return cmsgpack.pack(t)`,
		`return {cmsgpack.unpack(cmsgpack.pack(1, 'two', {3, 'four'}, -5.5, true))}`,
		`local t = cmsgpack.unpack(cmsgpack.pack({a = 1, b = {c = 'd'}, e = {1, 2}})) return {t.a, t.b.c, t.e[2]}`,
		`return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}`,
		`return {cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}`,
		`return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}`,
		`return {cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 2)}`,
		`return tostring(cmsgpack.unpack('\202\63\192\0\0'))`,
		`return cmsgpack.unpack('\205\1')`,
		`return cmsgpack.unpack('\193')`,
		`return cmsgpack.unpack('\196\3abc')`,
		`return {cmsgpack.unpack('\217\2xy\220\0\2\1\2')}`,
		`return cmsgpack.pack(cmsgpack.unpack('\222\0\1\161k\161v'))`,
		// bit (LuaBitOp).
		`return {bit.tobit(0xffffffff), bit.tobit(2^32 + 5), bit.tobit(-1), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-2.5)}`,
		`return {bit.band(0xff, 0x0f, 0x3c), bit.bor(1, 2, 4), bit.bxor(5, 3), bit.bnot(0), bit.band(-1, 0xffffffff)}`,
		`return {bit.lshift(1, 31), bit.lshift(1, 32), bit.rshift(-1, 28), bit.arshift(-256, 4), bit.arshift(256, 4)}`,
		`return {bit.rol(0x12345678, 12), bit.ror(0x12345678, 12), bit.bswap(0x12345678), bit.rol(1, 33)}`,
		`return {bit.tohex(1), bit.tohex(-1), bit.tohex(255, 2), bit.tohex(255, -4), bit.tohex(0x12345678, 3)}`,
		// struct.
		`return struct.pack('>iH', 1, 2)`,
		`return struct.pack('<bBhHlLi2I3', -1, 255, -2, 65535, -3, 7, -4, 70000)`,
		`return struct.pack('>fd', 1.5, -0.1)`,
		`return struct.pack('s c3 c0', 'nul', 'abcdef', 'xyz')`,
		`return struct.pack('!4 b i', 1, 2)`,
		`return struct.pack('!8 b d', 1, 2)`,
		`return {struct.unpack('>iH', struct.pack('>iH', -7, 9))}`,
		`return {struct.unpack('<bBhHlL', struct.pack('<bBhHlL', -1, 255, -2, 65535, -3, 7))}`,
		`return {struct.unpack('<i3I3', struct.pack('<i3I3', -5, 5))}`,
		`return {struct.unpack('s', 'abc\0rest')}`,
		`return {struct.unpack('B c0', '\3abcdef')}`,
		`return {struct.unpack('>i', '\0\0\0\1\0\0\0\2', 5)}`,
		`local a, b = struct.unpack('>fd', struct.pack('>fd', 1.5, -0.25)) return {tostring(a), tostring(b)}`,
		`return {struct.size('>iHbd'), struct.size('!4 b i'), struct.size('c5')}`,
		`return struct.pack('>i', 1, 2) .. struct.pack('x')`,
		`return struct.unpack('>i', 'ab')`,
		`return struct.pack('q', 1)`,
		// cjson.
		`return cjson.encode({1, 2, 'three'})`,
		`return cjson.encode({a = {b = 'c'}})`,
		`local t = cjson.decode('{"x":[1,2,{"y":"z"}],"n":1.5}') return {t.x[3].y, tostring(t.n), #t.x}`,
		// the redis table and conversions.
		`return redis.sha1hex('abc')`,
		`return redis.status_reply('FINE')`,
		`return {3.99, -3.99, true, false, {1, nil, 3}}`,
		`return redis.error_reply('MY err')`,
		`return redis.call('SET', KEYS[1] or 'k', 'v')`,
		`redis.call('DEL', 'lst') redis.call('RPUSH', 'lst', 1, 2.5, 'x') return redis.call('LRANGE', 'lst', 0, -1)`,
		`return redis.pcall('LPUSH', 'k', 'a')`,
		`return redis.call('LPUSH', 'k', 'a')`,
		`return redis.call('nosuchcommand')`,
		`return redis.call('GET')`,
		`return redis.call('GET', 'missing')`,
		`return redis.call('EVAL', 'return 1', 0)`,
		`return error('boom')`,
		`error({err = 'FOO bar'})`,
		`x = 1`,
		`return undefined_global`,
		`return type(redis.REDIS_VERSION) .. type(redis.call)`,
		`return string.format('%d %s', 42, 'ok') .. math.floor(2.7) .. table.concat({'a', 'b'}, ',')`,
	}
	for _, src := range scripts {
		want := real.do(t, "EVAL", src, "0")
		got := ours.do(t, "EVAL", src, "0")
		if got != want {
			t.Errorf("EVAL %s\n got: %q\nwant: %q", src, trimReply(got), trimReply(want))
		}
	}
	// Many arguments (miniredis' own unpack() stops near 5000).
	many := []string{"EVAL", "return {#KEYS, #ARGV, ARGV[#ARGV]}", "2", "k1", "k2"}
	for i := range 50000 {
		many = append(many, strconv.Itoa(i))
	}
	if got, want := ours.do(t, many...), real.do(t, many...); got != want {
		t.Errorf("EVAL with 50000 arguments: got %q, want %q", trimReply(got), trimReply(want))
	}
	// EVALSHA, SCRIPT LOAD/EXISTS/FLUSH, key arguments and argument checks.
	for _, args := range [][]string{
		{"SCRIPT", "LOAD", "return {KEYS[1], ARGV[1], #KEYS, #ARGV}"},
		{"EVALSHA", "6a4aec4df8a6bc4b5b2b3b57ee3e7b4dc8e4e8d0", "0"},
		{"EVALSHA", sha1Hex("return {KEYS[1], ARGV[1], #KEYS, #ARGV}"), "2", "k1", "k2", "a1"},
		{"SCRIPT", "EXISTS", sha1Hex("return {KEYS[1], ARGV[1], #KEYS, #ARGV}"), "ffff"},
		{"EVAL", "return 1", "-1"},
		{"EVAL", "return 1", "2", "a"},
		{"EVAL", "return 1", "x"},
		{"EVAL_RO", "return redis.call('GET', 'k')", "0"},
		{"SCRIPT", "FLUSH"},
		{"SCRIPT", "EXISTS", sha1Hex("return {KEYS[1], ARGV[1], #KEYS, #ARGV}")},
	} {
		want := real.do(t, args...)
		got := ours.do(t, args...)
		if got != want {
			t.Errorf("%q\n got: %q\nwant: %q", args, trimReply(got), trimReply(want))
		}
	}
}

// trimReply shortens long replies (and strips the script SHA, which
// differs when a reply does) for messages.
func trimReply(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return strings.TrimSpace(s)
}
