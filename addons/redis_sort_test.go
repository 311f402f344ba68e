package addons

import (
	"bufio"
	"context"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestRedisSortBitfieldObject runs SORT, BITFIELD and OBJECT ENCODING on a
// real redis-server and on ours with the same data, and wants the same
// reply bytes; then that SORT … STORE and BITFIELD's writes survive a
// restart (they reach the append-only log).
func TestRedisSortBitfieldObject(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	real := dialResp(t, "redis://"+runRealRedisServer(t))
	dir := t.TempDir()
	r := startRedis(t, dir)
	ours := dialResp(t, r.Env()["REDIS_URL"])
	long := strings.Repeat("x", 65)
	setup := [][]string{
		{"RPUSH", "nums", "3", "1", "10", "2", "-1.5", "2"},
		{"RPUSH", "words", "pear", "apple", "fig", "Banana"},
		{"SADD", "ids", "3", "1", "2"},
		{"ZADD", "z", "1", "c", "2", "b", "3", "a"},
		{"MSET", "w_1", "30", "w_2", "10", "w_3", "20", "name_1", "one", "name_2", "two"},
		{"HSET", "h_1", "rank", "2"},
		{"HSET", "h_2", "rank", "1"},
		{"HSET", "h_3", "rank", "3"},
		{"SET", "str", "hello"},
		{"SET", "int", "12345"}, {"SET", "lead0", "012"}, {"SET", "long", strings.Repeat("y", 45)},
		{"SADD", "intset", "1", "2", "-3"}, {"SADD", "strset", "a", "1"},
		{"HSET", "smallhash", "f", "v"}, {"HSET", "bighash", "f", long},
		{"ZADD", "bigz", "1", long}, {"ZADD", "z2", "1", "a"},
		{"XADD", "s", "1-1", "f", "v"},
	}
	for _, c := range setup {
		real.do(t, c...)
		ours.do(t, c...)
	}
	cmds := [][]string{
		{"SORT", "nums"}, {"SORT", "nums", "DESC"}, {"SORT", "nums", "LIMIT", "1", "3"},
		{"SORT", "nums", "LIMIT", "-2", "2"}, {"SORT", "nums", "LIMIT", "10", "5"},
		{"SORT", "words"}, {"SORT", "words", "ALPHA"}, {"SORT", "words", "ALPHA", "DESC", "LIMIT", "0", "2"},
		{"SORT", "ids", "BY", "w_*"}, {"SORT", "ids", "BY", "w_*", "DESC"},
		{"SORT", "ids", "BY", "w_*", "GET", "#", "GET", "name_*", "GET", "w_*"},
		{"SORT", "ids", "BY", "h_*->rank", "GET", "h_*->rank"},
		{"SORT", "ids", "BY", "nosort", "GET", "w_*"},
		{"SORT", "z", "BY", "nosort"}, {"SORT", "z", "BY", "nosort", "DESC"}, {"SORT", "z", "ALPHA"},
		{"SORT", "missing"}, {"SORT", "str"}, {"SORT", "nums", "BOGUS"}, {"SORT", "nums", "LIMIT", "x", "1"},
		{"SORT", "ids", "BY", "name_*"},
		{"SORT", "ids", "BY", "w_*", "STORE", "sorted"}, {"LRANGE", "sorted", "0", "-1"},
		{"SORT", "ids", "BY", "nosort", "STORE", "sorted2"}, {"LRANGE", "sorted2", "0", "-1"},
		{"SORT_RO", "nums", "DESC"}, {"SORT_RO", "nums", "STORE", "x"},
		{"BITFIELD", "bf", "SET", "u8", "0", "255", "GET", "u8", "0", "GET", "i8", "0"},
		{"BITFIELD", "bf", "INCRBY", "u8", "0", "10", "OVERFLOW", "SAT", "INCRBY", "u8", "0", "300", "OVERFLOW", "FAIL", "INCRBY", "u8", "0", "1"},
		{"BITFIELD", "bf", "SET", "i5", "#3", "-7", "GET", "i5", "#3", "GET", "u4", "15", "INCRBY", "i5", "#3", "-20"},
		{"BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "i8", "100", "-500", "INCRBY", "i16", "0", "1", "GET", "u32", "1"},
		{"BITFIELD", "bf", "OVERFLOW", "WRAP", "INCRBY", "u2", "300", "7", "INCRBY", "i3", "300", "3", "OVERFLOW", "SAT", "INCRBY", "u31", "400", "-1"},
		{"BITFIELD", "bf", "SET", "u16", "100", "-1", "GET", "u16", "100", "SET", "i64", "200", "-9223372036854775808"},
		{"GET", "bf"}, {"BITFIELD", "bf"}, {"BITFIELD", "missing", "GET", "u8", "0"},
		{"BITFIELD", "bf", "GET", "u64", "0"}, {"BITFIELD", "bf", "GET", "i8", "-1"}, {"BITFIELD", "bf", "GET", "i8"},
		{"BITFIELD", "bf", "OVERFLOW", "MAYBE"}, {"BITFIELD", "bf", "SET", "u8", "0", "x"}, {"BITFIELD", "str", "GET", "u8", "0"},
		{"BITFIELD", "s", "GET", "u8", "0"},
		{"BITFIELD_RO", "bf", "GET", "u8", "0"}, {"BITFIELD_RO", "bf", "SET", "u8", "0", "1"},
		{"OBJECT", "ENCODING", "str"}, {"OBJECT", "ENCODING", "int"}, {"OBJECT", "ENCODING", "lead0"},
		{"OBJECT", "ENCODING", "long"}, {"OBJECT", "ENCODING", "nums"}, {"OBJECT", "ENCODING", "intset"},
		{"OBJECT", "ENCODING", "strset"}, {"OBJECT", "ENCODING", "z2"}, {"OBJECT", "ENCODING", "bigz"},
		{"OBJECT", "ENCODING", "smallhash"}, {"OBJECT", "ENCODING", "bighash"}, {"OBJECT", "ENCODING", "s"},
		{"OBJECT", "ENCODING", "missing"}, {"OBJECT", "REFCOUNT", "nums"}, {"OBJECT", "ENCODING"},
		{"MULTI"}, {"SORT", "nums", "LIMIT", "0", "1"}, {"BITFIELD", "bf", "GET", "u8", "0"}, {"EXEC"},
	}
	for _, c := range cmds {
		want, got := real.do(t, c...), ours.do(t, c...)
		if got != want {
			t.Errorf("%q:\n got %q\nwant %q", c, got, want)
		}
	}
	bf, sorted := ours.do(t, "GET", "bf"), ours.do(t, "LRANGE", "sorted", "0", "-1")
	stopRedis(t, r)
	r = startRedis(t, dir)
	ours = dialResp(t, r.Env()["REDIS_URL"])
	if got := ours.do(t, "GET", "bf"); got != bf {
		t.Errorf("after a restart GET bf = %q, want %q", got, bf)
	}
	if got := ours.do(t, "LRANGE", "sorted", "0", "-1"); got != sorted {
		t.Errorf("after a restart the stored SORT = %q, want %q", got, sorted)
	}
}

// TestRedisMonitor: `redis-cli monitor` prints the commands other clients
// send, in Redis' format, and AUTH is not among them.
func TestRedisMonitor(t *testing.T) {
	t.Parallel()
	needRedisCLI(t)
	for _, backend := range redisBackends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testRedisMonitor(t, startRedisOn(t, t.TempDir(), backend))
		})
	}
}

func testRedisMonitor(t *testing.T, r *Redis) {
	u, err := url.Parse(r.Env()["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	password, _ := u.User.Password()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd, err := RedisCLI(ctx, r.Env(), "", "monitor")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	if l := <-lines; l != "OK" {
		t.Fatalf("first line %q, want OK", l)
	}
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	c.Set(ctx, "watched", "a \"quoted\"\nvalue", 0)
	want := `"SET" "watched" "a \"quoted\"\nvalue"`
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("redis-cli monitor ended before %s", want)
			}
			if strings.Contains(l, `"AUTH"`) || strings.Contains(l, password) {
				t.Fatalf("MONITOR shows the password: %s", l)
			}
			// redis-server shows the command as the client sent it
			// ("set" from go-redis), the embedded one in capitals.
			if strings.HasSuffix(strings.ToLower(l), strings.ToLower(want)) && strings.Contains(l, " [0 127.0.0.1:") {
				return
			}
		case <-ctx.Done():
			t.Fatalf("no %s from redis-cli monitor", want)
		}
	}
}
