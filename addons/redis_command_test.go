package addons

import (
	"bufio"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// TestRedisCommandTable checks that the stored COMMAND table covers every
// command miniredis serves. With DYNOBOX_UPDATE_REDIS_COMMANDS=1 it first
// regenerates redis_commands.resp from a real redis-server.
func TestRedisCommandTable(t *testing.T) {
	mr := miniredis.NewMiniRedis()
	if err := mr.Start(); err != nil {
		t.Fatal(err)
	}
	defer mr.Close()
	served := func(name string) bool {
		return (mr.Server().IsRegisteredCommand(name) || isRedisOwnCommand(name)) && !redisLeftOut[name]
	}
	if os.Getenv("DYNOBOX_UPDATE_REDIS_COMMANDS") == "1" {
		regenerateRedisCommands(t, served)
	}
	table, err := loadRedisCommands(redisCommandsRESP, served)
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, name := range miniredisCommandNames(t) {
		if !mr.Server().IsRegisteredCommand(name) {
			t.Errorf("miniredis no longer serves %s", name)
		}
	}
	for _, name := range append(append([]string{}, redisOwnCommands...), miniredisCommandNames(t)...) {
		if served(name) && table.byName[name] == nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		t.Errorf("commands served but missing from the COMMAND table: %v", missing)
	}
	if _, docs, ok := table.lookup("client|setname"); !ok || docs.kind != '%' {
		t.Errorf("client|setname docs = %+v, %v", docs.kind, ok)
	}
}

// miniredisCommandNames is what miniredis v2.40.0 registers; the test
// fails when an upgrade drops one, and lists those COMMAND lacks.
func miniredisCommandNames(t *testing.T) []string {
	t.Helper()
	return strings.Fields(`append auth bitcount bitop bitpos blmove blpop brpop brpoplpush bzmpop
	bzpopmax bzpopmin client cluster command copy dbsize decr decrby del delex discard dump echo eval
	eval_ro evalsha evalsha_ro exec exists expire expireat expiretime flushall flushdb geoadd geodist
	geopos georadius georadius_ro georadiusbymember georadiusbymember_ro geosearch get getbit getdel
	getex getrange getset hdel hello hexists hexpire hget hgetall hincrby hincrbyfloat hkeys hlen hmget
	hmset hpersist hpttl hrandfield hscan hset hsetex hsetnx hstrlen httl hvals incr incrby incrbyfloat
	info keys lindex linsert llen lmove lmpop lpop lpos lpush lpushx lrange lrem lset ltrim memory mget
	move mset msetnx multi object persist pexpire pexpireat pexpiretime pfadd pfcount pfmerge ping
	psetex psubscribe pttl publish pubsub punsubscribe quit randomkey rename renamenx restore rpop
	rpoplpush rpush rpushx sadd scan scard script sdiff sdiffstore select set setbit setex setnx
	setrange sinter sintercard sinterstore sismember smembers smismember smove spop srandmember srem
	sscan strlen subscribe sunion sunionstore swapdb time touch ttl type unlink unsubscribe unwatch
	wait watch xack xadd xautoclaim xclaim xdel xgroup xinfo xlen xpending xrange xread xreadgroup
	xrevrange xtrim zadd zcard zcount zincrby zinter zinterstore zlexcount zmpop zmscore zpopmax
	zpopmin zrandmember zrange zrangebylex zrangebyscore zrank zrem zremrangebylex zremrangebyrank
	zremrangebyscore zrevrange zrevrangebylex zrevrangebyscore zrevrank zscan zscore zunion
	zunionstore`)
}

func regenerateRedisCommands(t *testing.T, served func(string) bool) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("regenerating the command table needs redis-server (apt-get install redis-server)")
	}
	addr := runRealRedisServer(t)
	ctx := t.Context()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 3})
	defer c.Close()
	ver, err := c.Do(ctx, "INFO", "server").Text()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ver, "redis_version:"+redisVersion+"\r\n") {
		t.Fatalf("redis-server is not %s; update redisVersion in redis_command.go first", redisVersion)
	}
	conn := rawRedisConn(t, addr)
	infos := conn.do(t, "COMMAND")
	docs := conn.do(t, "COMMAND", "DOCS")
	byName := map[string]respValue{}
	for _, info := range infos.elems {
		byName[info.elems[0].str] = info
	}
	var names []string
	for name := range byName {
		if served(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	out := respArray()
	for _, name := range names {
		d, _ := docs.mapGet(name)
		out.elems = append(out.elems, keepSubcommands(respArray(respBulk(name), byName[name], d)))
	}
	if err := os.WriteFile("redis_commands.resp", out.appendResp(nil, true), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d commands to redis_commands.resp", len(names))
}

// rawConn speaks RESP3 to a server, for replies go-redis would reshape.
type rawConn struct {
	w *bufio.Writer
	r *bufio.Reader
}

func rawRedisConn(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := dialTCP(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{w: bufio.NewWriter(nc), r: bufio.NewReader(nc)}
	c.do(t, "HELLO", "3")
	return c
}

func (c *rawConn) do(t *testing.T, args ...string) respValue {
	t.Helper()
	cmd := respBulks(args)
	if _, err := c.w.Write(cmd.appendResp(nil, true)); err != nil {
		t.Fatal(err)
	}
	if err := c.w.Flush(); err != nil {
		t.Fatal(err)
	}
	v, err := readResp(c.r)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}
