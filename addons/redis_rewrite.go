package addons

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Compaction of the append-only log, as BGREWRITEAOF: the log is replaced
// by the commands that build today's data set, followed by what was
// written while that file was made.
//
// Design (of the two the first version's note weighed): we rebuild the
// data set in a *shadow* miniredis, not the serving one. Reading the
// serving data set means holding miniredis' lock over every key (the
// 0.5–15 s freezes the log replaced); instead we cut the log at an offset
// (a moment's lock), replay the log up to the cut into a private miniredis
// in the background, and serialise that one, which no client touches, at
// leisure. The other design — rewriting only while no HyperLogLog or
// consumer group exists — would leave the logs of exactly the job queues
// that write most uncompacted. The price is CPU and memory for a second
// copy of the data set while a rewrite runs.
//
// Every type is written out, none dropped: strings, lists, sets, sorted
// sets, hashes (field TTLs too), streams with their last ID, consumer
// groups, consumers and pending entries (owner, delivery count, delivery
// time, through XCLAIM … FORCE), and HyperLogLogs as their registers
// (redis_hll.go), since a HyperLogLog cannot be rebuilt from its count.
//
// The switch to the new file holds the log's lock only to write the
// commands buffered since the last copy and rename the file (no fsync
// under the lock): clients wait for that, a few milliseconds at most.
const (
	// redisPFRestore rebuilds a HyperLogLog from its registers; only the
	// log's replay runs it (a client sending it gets "unknown command").
	redisPFRestore = "DYNOBOX.PFRESTORE"
	// redisRewriteChunk bounds the items one rebuilding command carries.
	redisRewriteChunk = 1000
	// redisRewriteMinSize is the size below which the log is not
	// rewritten by itself (Redis' auto-aof-rewrite-min-size is 64mb).
	redisRewriteMinSize = 64 << 20
)

// redisRewriteStats is what INFO persistence reports about rewrites.
type redisRewriteStats struct {
	running  atomic.Bool
	count    atomic.Int64
	baseSize atomic.Int64 // the log's size after the last rewrite (or at start)
	lastErr  atomic.Value // string: "" when the last rewrite succeeded
	lastTook atomic.Int64 // milliseconds, -1 before the first
	minSize  int64        // redisRewriteMinSize, smaller in tests
	held     atomic.Int64 // how long the last switch held up writes (ns)
}

// startRewrite runs a rewrite in the background unless one runs already;
// it reports whether it started one.
func (s *redisServer) startRewrite(why string) bool {
	if s.aof == nil || !s.rewrite.running.CompareAndSwap(false, true) {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.rewrite.running.Store(false)
		start := time.Now()
		before := s.aof.size.Load()
		err := s.rewriteAOF()
		s.rewrite.lastTook.Store(time.Since(start).Milliseconds())
		if err != nil {
			s.rewrite.lastErr.Store(err.Error())
			select {
			case <-s.done:
			default:
				s.logf("append-only log rewrite (%s) failed: %v", why, err)
			}
			return
		}
		s.rewrite.lastErr.Store("")
		s.rewrite.count.Add(1)
		s.logf("append-only log rewritten (%s): %d → %d bytes in %v; writes waited %v for the switch", why, before, s.aof.size.Load(),
			time.Since(start).Round(time.Millisecond), time.Duration(s.rewrite.held.Load()).Round(time.Microsecond))
	}()
	return true
}

// maybeRewrite starts a rewrite when the log has doubled since the last
// one and is past the minimum size (auto-aof-rewrite-percentage 100).
func (s *redisServer) maybeRewrite() {
	size, base := s.aof.size.Load(), s.rewrite.baseSize.Load()
	if size >= s.rewrite.minSize && size >= 2*base {
		s.startRewrite("the log doubled since its last rewrite")
	}
}

// rewriteAOF builds the compacted log beside the current one and swaps
// it in.
func (s *redisServer) rewriteAOF() error {
	cut, err := s.aof.cut()
	if err != nil {
		return err
	}
	now := time.Now()
	shadow, err := s.shadowAt(cut, now)
	if err != nil {
		return err
	}
	defer shadow.Close()
	tmp := s.aofPath + ".rewrite"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(&stoppable{w: f, done: s.done}, 256<<10)
	err = writeDataSet(w, shadow, now)
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	held, err := s.aof.swap(f, tmp, cut)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	s.rewrite.baseSize.Store(s.aof.size.Load())
	s.rewrite.held.Store(int64(held))
	return nil
}

// shadowAt replays the first cut bytes of the log into a private
// miniredis whose clock stands still at now, so every TTL in it is
// relative to now.
func (s *redisServer) shadowAt(cut int64, now time.Time) (*miniredis.Miniredis, error) {
	mr := miniredis.NewMiniRedis()
	c, err := mr.Dial() // starts it without a listener
	if err != nil {
		return nil, fmt.Errorf("start miniredis: %w", err)
	}
	c.Close()
	mr.SetTime(now)
	f, err := os.Open(s.aofPath)
	if err != nil {
		mr.Close()
		return nil, err
	}
	defer f.Close()
	if _, err := replayLog(mr, &stoppable{r: io.LimitReader(f, cut), done: s.done}); err != nil {
		mr.Close()
		return nil, fmt.Errorf("replay the log to rewrite it: %w", err)
	}
	return mr, nil
}

// writeDataSet writes the commands that rebuild mr's data set; TTLs become
// absolute from now, the instant mr's clock stands at.
func writeDataSet(w io.Writer, mr *miniredis.Miniredis, now time.Time) error {
	conn := newRedisInternalConn(mr.Server())
	defer conn.close()
	put := func(args ...string) error {
		_, err := w.Write(respBulks(args).appendResp(nil, false))
		return err
	}
	if err := put(redisAOFBase, "1"); err != nil {
		return err
	}
	for i := range redisDatabases {
		db := mr.DB(i)
		keys := db.Keys()
		if len(keys) == 0 {
			continue
		}
		if err := put("SELECT", strconv.Itoa(i)); err != nil {
			return err
		}
		if _, err := conn.do("SELECT", strconv.Itoa(i)); err != nil {
			return err
		}
		for _, k := range keys {
			cmds, err := keyCommands(db, conn, k, now)
			if err != nil {
				return fmt.Errorf("db %d key %q: %w", i, k, err)
			}
			for _, c := range cmds {
				if err := put(c...); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// keyCommands rebuilds one key of the shadow.
func keyCommands(db *miniredis.RedisDB, conn *redisInternalConn, k string, now time.Time) ([][]string, error) {
	ttl := db.TTL(k)
	if ttl < 0 {
		return nil, nil // expired as of now
	}
	var cmds [][]string
	chunked := func(head []string, items []string, per int) {
		for len(items) > 0 {
			n := min(len(items), redisRewriteChunk*per)
			cmds = append(cmds, append(append([]string{}, head...), items[:n]...))
			items = items[n:]
		}
	}
	switch t := db.Type(k); t {
	case "string":
		v, err := db.Get(k)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, []string{"SET", k, v})
	case "list":
		items, err := db.List(k)
		if err != nil {
			return nil, err
		}
		chunked([]string{"RPUSH", k}, items, 1)
	case "set":
		items, err := db.Members(k)
		if err != nil {
			return nil, err
		}
		chunked([]string{"SADD", k}, items, 1)
	case "zset":
		scores, err := db.SortedSet(k)
		if err != nil {
			return nil, err
		}
		members := make([]string, 0, len(scores))
		for m := range scores {
			members = append(members, m)
		}
		sort.Strings(members)
		pairs := make([]string, 0, 2*len(members))
		for _, m := range members {
			pairs = append(pairs, strconv.FormatFloat(scores[m], 'g', -1, 64), m)
		}
		chunked([]string{"ZADD", k}, pairs, 2)
	case "hash":
		fields, err := db.HKeys(k)
		if err != nil {
			return nil, err
		}
		pairs := make([]string, 0, 2*len(fields))
		for _, f := range fields {
			pairs = append(pairs, f, db.HGet(k, f))
		}
		chunked([]string{"HSET", k}, pairs, 2)
		for _, f := range fields {
			if fttl := db.HTTL(k, f); fttl > 0 {
				// HEXPIRE (miniredis has no HPEXPIREAT): counted from the replay.
				secs := int64((fttl + time.Second - 1) / time.Second)
				cmds = append(cmds, []string{"HEXPIRE", k, strconv.FormatInt(secs, 10), "FIELDS", "1", f})
			}
		}
	case "stream":
		sc, err := streamCommands(db, conn, k, now)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, sc...)
	case "hll":
		regs, err := hllRegisters(db, k)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, []string{redisPFRestore, k, string(regs)})
	default:
		return nil, fmt.Errorf("type %q has no rewrite", t)
	}
	if ttl > 0 && len(cmds) > 0 {
		cmds = append(cmds, []string{"PEXPIREAT", k, strconv.FormatInt(now.Add(ttl).UnixMilli(), 10)})
	}
	return cmds, nil
}

// streamCommands rebuilds a stream: its entries, its last ID (kept when
// the newest entries were deleted, so XADD still refuses smaller IDs), and
// its consumer groups with their consumers and pending entries.
func streamCommands(db *miniredis.RedisDB, conn *redisInternalConn, k string, now time.Time) ([][]string, error) {
	entries, err := db.Stream(k)
	if err != nil {
		return nil, err
	}
	var cmds [][]string
	for _, e := range entries {
		cmds = append(cmds, append([]string{"XADD", k, e.ID}, e.Values...))
	}
	info, err := conn.do("XINFO", "STREAM", k)
	if err != nil {
		return nil, err
	}
	last, _ := info.mapGet("last-generated-id")
	if last.str != "" && last.str != "0-0" && (len(entries) == 0 || entries[len(entries)-1].ID != last.str) {
		cmds = append(cmds, []string{"XADD", k, last.str, "dynobox", "last-id"}, []string{"XDEL", k, last.str})
	}
	groups, err := conn.do("XINFO", "GROUPS", k)
	if err != nil {
		return nil, err
	}
	for _, g := range groups.elems {
		name, _ := g.mapGet("name")
		lastID, _ := g.mapGet("last-delivered-id")
		cmds = append(cmds, []string{"XGROUP", "CREATE", k, name.str, lastID.str, "MKSTREAM"})
		consumers, err := conn.do("XINFO", "CONSUMERS", k, name.str)
		if err != nil {
			return nil, err
		}
		for _, c := range consumers.elems {
			cn, _ := c.mapGet("name")
			cmds = append(cmds, []string{"XGROUP", "CREATECONSUMER", k, name.str, cn.str})
		}
		pending, err := conn.do("XPENDING", k, name.str, "-", "+", strconv.Itoa(1<<30))
		if err != nil {
			return nil, err
		}
		for _, p := range pending.elems { // [id, consumer, idle ms, deliveries]
			if len(p.elems) != 4 {
				continue
			}
			at := now.UnixMilli() - p.elems[2].num
			cmds = append(cmds, []string{"XCLAIM", k, name.str, p.elems[1].str, "0", p.elems[0].str,
				"TIME", strconv.FormatInt(at, 10), "RETRYCOUNT", strconv.FormatInt(p.elems[3].num, 10), "FORCE", "JUSTID"})
		}
	}
	return cmds, nil
}

// cut ends the part of the log a rewrite replaces: everything appended
// before it is in the file below the returned offset. The next command
// appended after it starts with a SELECT, as the rewritten log's tail
// cannot know the database the log was in.
func (a *redisAOF) cut() (int64, error) {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	buf, file, failed := a.buf, a.file, a.err
	a.buf, a.db = nil, -1
	a.mu.Unlock()
	if file == nil {
		return 0, errors.New("append-only log closed")
	}
	if failed != nil {
		a.mu.Lock()
		a.buf = append(buf, a.buf...)
		a.mu.Unlock()
		return 0, fmt.Errorf("the log cannot be written: %w", failed)
	}
	if len(buf) > 0 {
		n, err := file.Write(buf)
		a.size.Add(int64(n))
		if err != nil {
			a.mu.Lock()
			a.buf = append(buf[n:], a.buf...)
			a.err = fmt.Errorf("write %s: %w", a.path, err)
			a.mu.Unlock()
			return 0, a.err
		}
	}
	return a.size.Load(), nil
}

// swap makes the rewritten file (holding the data set as of the cut) the
// log: the old log's bytes after the cut are copied over in the background,
// then, holding the lock only for the few commands appended meanwhile, the
// file is renamed into place.
func (a *redisAOF) swap(nf *os.File, tmp string, cut int64) (held time.Duration, err error) {
	a.flushMu.Lock() // no flushes meanwhile: appends wait in a.buf
	defer a.flushMu.Unlock()
	old, err := os.Open(a.path)
	if err != nil {
		nf.Close()
		return 0, err
	}
	defer old.Close()
	end := a.size.Load()
	if _, err := old.Seek(cut, io.SeekStart); err != nil {
		nf.Close()
		return 0, err
	}
	if _, err := io.CopyN(nf, old, end-cut); err != nil {
		nf.Close()
		return 0, fmt.Errorf("copy the log's tail: %w", err)
	}
	if err := nf.Sync(); err != nil {
		nf.Close()
		return 0, err
	}
	a.mu.Lock()
	locked := time.Now()
	if a.file == nil || a.err != nil {
		a.mu.Unlock()
		nf.Close()
		return 0, errors.New("the log failed or closed during the rewrite")
	}
	_, err = nf.Write(a.buf)
	if err == nil {
		err = os.Rename(tmp, a.path)
	}
	if err != nil {
		a.mu.Unlock()
		nf.Close()
		return 0, err
	}
	oldFile := a.file
	a.file, a.buf = nf, nil
	fi, statErr := nf.Stat()
	if statErr == nil {
		a.size.Store(fi.Size())
	}
	held = time.Since(locked)
	a.mu.Unlock()
	oldFile.Close()
	return held, syncDir(filepath.Dir(a.path))
}

// stoppable reads or writes until the server stops, so a Stop need not
// wait for a long rewrite to finish.
type stoppable struct {
	r    io.Reader
	w    io.Writer
	done <-chan struct{}
}

var errRewriteStopped = errors.New("the server is stopping")

func (s *stoppable) Read(p []byte) (int, error) {
	select {
	case <-s.done:
		return 0, errRewriteStopped
	default:
	}
	return s.r.Read(p)
}

func (s *stoppable) Write(p []byte) (int, error) {
	select {
	case <-s.done:
		return 0, errRewriteStopped
	default:
	}
	return s.w.Write(p)
}
