package addons

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestSplitInlineArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want []string
		ok   bool
	}{
		{"PING", []string{"PING"}, true},
		{"  SET  k\tv  ", []string{"SET", "k", "v"}, true},
		{"", nil, true},
		{`SET k "a b\x41\n\"q\""`, []string{"SET", "k", "a bA\n\"q\""}, true},
		{`SET k 'it\'s "x"'`, []string{"SET", "k", `it's "x"`}, true},
		{`SET k ""`, []string{"SET", "k", ""}, true},
		{`SET k "unterminated`, nil, false},
		{`SET k 'x`, nil, false},
		{`SET k "a"b`, nil, false},
		{`SET k a"b"`, []string{"SET", "k", "ab"}, true},
	} {
		got, ok := splitInlineArgs(tc.line)
		if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitInlineArgs(%q) = %q, %v; want %q, %v", tc.line, got, ok, tc.want, tc.ok)
		}
	}
}

// TestRedisInlineCommands talks to the server as nc or telnet would:
// lines of words, mixed with RESP, split across writes.
func TestRedisInlineCommands(t *testing.T) {
	t.Parallel()
	for _, backend := range redisBackends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			testRedisInlineCommands(t, startRedisOn(t, t.TempDir(), backend))
		})
	}
}

func testRedisInlineCommands(t *testing.T, r *Redis) {
	u, _ := url.Parse(r.Env()["REDIS_URL"])
	pw, _ := u.User.Password()
	nc, err := dialTCP(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, part := range []string{
		"AUTH " + pw + "\r\nPI", "NG\r\n", "SET k \"a b\\x41\"\n", "\r\n",
		"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nEXISTS k nope\r\n", "ECHO 'unbalanced\r\nPING\r\n",
	} {
		if _, err := nc.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(nc) // the server closes after the protocol error
	want := "+OK\r\n+PONG\r\n+OK\r\n$4\r\na bA\r\n:1\r\n-ERR Protocol error: unbalanced quotes in request\r\n"
	if string(got) != want {
		t.Fatalf("replies %q (%v), want %q", got, err, want)
	}
}

func needRedisTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		needed(t, "%s not installed (apt-get install redis-tools)", name)
	}
}

// TestRedisCLIPipe feeds redis-cli --pipe a mass insertion file, half in
// RESP and half as inline commands, as the Redis docs describe.
func TestRedisCLIPipe(t *testing.T) {
	t.Parallel()
	needRedisCLI(t)
	r := startRedis(t, t.TempDir())
	u, _ := url.Parse(r.Env()["REDIS_URL"])
	pw, _ := u.User.Password()
	var in bytes.Buffer
	const n = 20000
	for i := range n {
		if i%2 == 0 {
			in.Write(respBulks([]string{"SET", fmt.Sprintf("key:%d", i), fmt.Sprintf("value %d", i)}).appendResp(nil, false))
		} else {
			fmt.Fprintf(&in, "SET key:%d \"value %d\"\r\n", i, i)
		}
	}
	cmd := exec.CommandContext(t.Context(), "redis-cli", "-h", u.Hostname(), "-p", u.Port(), "--pipe")
	cmd.Env = append(cmd.Environ(), "REDISCLI_AUTH="+pw)
	cmd.Stdin = &in
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), fmt.Sprintf("errors: 0, replies: %d", n)) {
		t.Fatalf("redis-cli --pipe: %v\n%s", err, out)
	}
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	if got := c.DBSize(t.Context()).Val(); got != n {
		t.Fatalf("DBSIZE = %d, want %d", got, n)
	}
	if got := c.Get(t.Context(), "key:19999").Val(); got != "value 19999" {
		t.Fatalf("GET key:19999 = %q", got)
	}
}

// TestRedisPipelinedReplies: replies to a pipeline come back whole and in
// order (they are sent together); a reply before a blocking command is
// sent before it blocks, so a client that waits for it before letting
// another client unblock the pop does not hang; a subscriber pipelining
// commands gets its messages.
func TestRedisPipelinedReplies(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	u, _ := url.Parse(r.Env()["REDIS_URL"])
	pw, _ := u.User.Password()
	nc, err := dialTCP(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	var req bytes.Buffer
	req.Write(respBulks([]string{"AUTH", pw}).appendResp(nil, false))
	for i := range 2000 {
		req.Write(respBulks([]string{"INCR", "n"}).appendResp(nil, false))
		if i%500 == 0 {
			req.WriteString("PING\r\n")
		}
	}
	req.Write(respBulks([]string{"SET", "before-pop", "1"}).appendResp(nil, false))
	req.Write(respBulks([]string{"BLPOP", "q", "0"}).appendResp(nil, false))
	req.Write(respBulks([]string{"GET", "after-pop"}).appendResp(nil, false))
	if _, err := nc.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(nc)
	next := func() string {
		t.Helper()
		v, err := readResp(rd)
		if err != nil {
			t.Fatal(err)
		}
		return string(v.appendResp(nil, false))
	}
	if got := next(); got != "+OK\r\n" {
		t.Fatalf("AUTH: %q", got)
	}
	for i := range 2000 {
		if got, want := next(), fmt.Sprintf(":%d\r\n", i+1); got != want {
			t.Fatalf("reply %d = %q, want %q", i, got, want)
		}
		if i%500 == 0 {
			if got := next(); got != "+PONG\r\n" {
				t.Fatalf("inline PING: %q", got)
			}
		}
	}
	// The SET's reply arrives while BLPOP waits; only then does another
	// client push.
	if got := next(); got != "+OK\r\n" {
		t.Fatalf("SET before BLPOP: %q", got)
	}
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	c.Set(t.Context(), "after-pop", "2", 0)
	c.RPush(t.Context(), "q", "job")
	if got := next(); got != "*2\r\n$1\r\nq\r\n$3\r\njob\r\n" {
		t.Fatalf("BLPOP: %q", got)
	}
	if got := next(); got != "$1\r\n2\r\n" {
		t.Fatalf("GET after BLPOP: %q", got)
	}

	sub := newGoRedis(t, r.Env()["REDIS_URL"]).Subscribe(t.Context(), "ch")
	defer sub.Close()
	if _, err := sub.Receive(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := sub.Ping(t.Context(), "hi"); err != nil {
		t.Fatal(err)
	}
	c.Publish(t.Context(), "ch", "message")
	waitFor(t, 10*time.Second, "the subscriber's message", func() bool {
		m, err := sub.ReceiveTimeout(t.Context(), 5*time.Second)
		msg, ok := m.(*redis.Message)
		return err == nil && ok && msg.Payload == "message"
	})
}

// TestRedisStopWithClientNotReading: a client that pipelines large
// replies and never reads them leaves the server blocked writing to it;
// Stop still ends that connection and returns.
func TestRedisStopWithClientNotReading(t *testing.T) {
	t.Parallel()
	r := startRedis(t, t.TempDir())
	u, _ := url.Parse(r.Env()["REDIS_URL"])
	pw, _ := u.User.Password()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	if err := c.Set(t.Context(), "big", strings.Repeat("x", 1<<20), 0).Err(); err != nil {
		t.Fatal(err)
	}
	nc, err := dialTCP(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var req bytes.Buffer
	req.Write(respBulks([]string{"AUTH", pw}).appendResp(nil, false))
	for range 64 {
		req.Write(respBulks([]string{"GET", "big"}).appendResp(nil, false))
	}
	if _, err := nc.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
	// 64 MB of replies cannot all fit in the sockets' buffers: wait until
	// the server is stuck writing, then stop it.
	// The server answers GETs until the sockets' buffers are full, then
	// blocks in a write: wait until its command count stops moving.
	last, still := int64(-1), 0
	waitFor(t, 20*time.Second, "the server to block writing to the client", func() bool {
		n := r.running.commands.Load()
		if n == last && n >= 4 {
			still++
		} else {
			still = 0
		}
		last = n
		return still >= 20
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("Stop waited for the client that does not read")
	}
}
