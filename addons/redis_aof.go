package addons

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// Persistence is an append-only log of write commands, as Redis' AOF with
// appendfsync everysec: our connection layer appends each write command
// that ran (in the order miniredis ran them) to a buffer, a background loop
// writes and fsyncs it every second, and a start replays the log. Nothing
// reads the data set while clients wait, so a large data set never stalls
// the server; every type (HyperLogLogs, stream consumer groups) survives,
// because the log holds the commands that built it.
//
// Commands whose effect depends on when or how they ran are logged as
// their effect, as Redis does for its AOF: relative TTLs become absolute
// (SET … PXAT, PEXPIREAT), XADD * gets the ID it was given, SPOP becomes
// SREM, blocking pops their non-blocking twin for the key they popped, and
// a script is logged as the write commands it ran.
const (
	redisAOFName = "appendonly.aof"
	// redisAOFBase marks a log that holds the whole data set from its
	// start, so an older dump.gob beside it is not loaded again.
	redisAOFBase = "DYNOBOX.BASE"
)

// redisAOFSpareMax bounds the buffer kept for reuse between flushes.
const redisAOFSpareMax = 8 << 20

// appendCommand appends a command in RESP, as the log holds it.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = appendBulk(b, a)
	}
	return b
}

// aofFile is the log's file (a test may put a failing one in its place).
type aofFile interface {
	io.Writer
	Sync() error
	Close() error
}

type redisAOF struct {
	path string

	flushMu sync.Mutex // one flush at a time
	mu      sync.Mutex // guards the fields below
	file    aofFile
	buf     []byte // appended, not yet written to file
	spare   []byte // a written buffer, reused as the next buf
	db      int    // database the log's next command runs in; -1 unknown
	err     error  // last write or sync error; writes are refused while set
	pending int64  // commands in buf or written but not yet fsynced

	size     atomic.Int64
	lastSync atomic.Int64 // unix seconds of the last successful fsync
	synced   atomic.Int64 // commands fsynced since start
}

func openRedisAOF(path string) (*redisAOF, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	a := &redisAOF{path: path, file: f, db: -1}
	a.size.Store(fi.Size())
	a.lastSync.Store(time.Now().Unix())
	return a, nil
}

// append logs the commands one write ran in database db; several are
// wrapped in MULTI/EXEC so a replay applies all or none.
func (a *redisAOF) append(db int, cmds [][]string) {
	if len(cmds) == 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if db != a.db {
		a.buf = appendCommand(a.buf, "SELECT", strconv.Itoa(db))
		a.db = db
	}
	if len(cmds) > 1 {
		a.buf = appendCommand(a.buf, "MULTI")
	}
	for _, c := range cmds {
		a.buf = appendCommand(a.buf, c...)
		if strings.EqualFold(c[0], "SELECT") {
			a.db = -1 // a script's SELECT: say it again next time
		}
	}
	if len(cmds) > 1 {
		a.buf = appendCommand(a.buf, "EXEC")
	}
	a.pending += int64(len(cmds))
}

// flush writes the buffer and fsyncs, without holding up appends. On
// failure the unwritten bytes stay buffered for the next try, and writes
// are refused until one succeeds.
func (a *redisAOF) flush() error {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	buf, pending, file, failed := a.buf, a.pending, a.file, a.err != nil
	a.buf, a.spare = a.spare, nil
	a.mu.Unlock()
	if file == nil {
		return errors.New("append-only log closed")
	}
	fail := func(err error, unwritten []byte) error {
		a.mu.Lock()
		a.buf = append(unwritten, a.buf...)
		a.err = err
		a.mu.Unlock()
		return err
	}
	if len(buf) > 0 {
		n, err := file.Write(buf)
		a.size.Add(int64(n))
		if err != nil {
			return fail(fmt.Errorf("write %s: %w", a.path, err), buf[n:])
		}
		if cap(buf) <= redisAOFSpareMax {
			a.mu.Lock()
			a.spare = buf[:0]
			a.mu.Unlock()
		}
	}
	if pending == 0 && !failed {
		return nil
	}
	if err := file.Sync(); err != nil {
		return fail(fmt.Errorf("fsync %s: %w", a.path, err), nil)
	}
	a.mu.Lock()
	a.pending -= pending
	a.err = nil
	a.mu.Unlock()
	a.synced.Add(pending)
	a.lastSync.Store(time.Now().Unix())
	return nil
}

// failure is the error that refuses writes, or nil.
func (a *redisAOF) failure() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *redisAOF) unsynced() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.pending
}

func (a *redisAOF) close() error {
	err := a.flush()
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.file != nil {
		err = errors.Join(err, a.file.Close())
		a.file = nil
	}
	return err
}

// setFile swaps the log's file, for tests that inject failures.
func (a *redisAOF) setFile(f aofFile) aofFile {
	a.mu.Lock()
	defer a.mu.Unlock()
	old := a.file
	a.file = f
	return old
}

// misconf is the reply to a write while the log cannot be written, as
// redis-server words it.
func misconf(err error) string {
	msg := err.Error()
	var errno syscall.Errno
	if errors.As(err, &errno) {
		msg = errno.Error()
	}
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return "MISCONF Errors writing to the AOF file: " + msg
}

// syncLoop writes and fsyncs the log every second, as appendfsync
// everysec; after a failure it retries every second.
func (s *redisServer) syncLoop() {
	defer s.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		err := s.aof.flush()
		if err == nil {
			s.maybeRewrite()
		}
		switch {
		case err != nil && !failing:
			s.logf("append-only log: %v; refusing writes until it can be written (MISCONF)", err)
		case err == nil && failing:
			s.logf("append-only log: writing again")
		}
		failing = err != nil
	}
}

// replayAOF loads the log into the not yet serving miniredis. A command
// cut short by a crash at the end is dropped (and cut from the file), as
// redis-server does with aof-load-truncated. It reports whether the log
// holds the whole data set (see redisAOFBase).
func (s *redisServer) replayAOF(path string) (based bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read append-only log: %w", err)
	}
	defer f.Close()
	start := time.Now()
	st, err := replayLog(s.mr, f)
	if err != nil {
		return st.based, s.truncateAOF(path, st.good, st.n, err)
	}
	if st.n > 0 {
		s.mr.FastForward(0) // drops what expired while we were down
		failed := strconv.Itoa(st.failed)
		if st.firstFail != "" {
			failed += ", the first " + st.firstFail
		}
		s.logf("replayed %d commands from %s in %v (%s failed)", st.n, path, time.Since(start).Round(time.Millisecond), failed)
	}
	return st.based, nil
}

// replayStats describes a replay: commands run and failed, the offset
// after the last whole command, and whether the log starts with
// redisAOFBase.
type replayStats struct {
	n, failed int
	good      int64
	based     bool
	firstFail string // the first failed command and its error
}

// replayLog runs a log's commands on mr, which serves no one yet (the
// add-on before it listens, or a rewrite's shadow). It stops with an error
// at the first thing that is not a whole command.
func replayLog(mr *miniredis.Miniredis, src io.Reader) (replayStats, error) {
	var st replayStats
	cr := &countingReader{r: src}
	r := bufio.NewReaderSize(cr, 64*1024)
	var out strings.Builder
	w := bufio.NewWriter(&out)
	peer := server.NewPeer(w)
	db := 0
	for {
		v, err := readResp(r)
		if err == io.EOF {
			return st, nil
		}
		if err != nil || v.kind != '*' || len(v.elems) == 0 {
			if err == nil {
				err = errRespProtocol
			}
			return st, err
		}
		args := strs(v.elems)
		st.good = cr.n - int64(r.Buffered())
		st.n++
		switch cmd := strings.ToUpper(args[0]); {
		case st.n == 1 && args[0] == redisAOFBase:
			st.based = true
			continue
		case cmd == redisPFRestore && len(args) == 3:
			if err := restoreHLL(mr.DB(db), args[1], []byte(args[2])); err != nil {
				st.failed++
			}
			continue
		case cmd == "SELECT" && len(args) == 2:
			if n, ok := parseDBIndex(args[1]); ok {
				db = n
			}
		}
		mr.Server().Dispatch(peer, args)
		w.Flush()
		if strings.HasPrefix(out.String(), "-") {
			st.failed++
			if st.firstFail == "" {
				st.firstFail = fmt.Sprintf("%.60q: %s", strings.Join(args, " "), strings.TrimSpace(out.String()[1:]))
			}
		}
		out.Reset()
	}
}

// truncateAOF cuts a log whose end is not a whole command.
func (s *redisServer) truncateAOF(path string, good int64, n int, cause error) error {
	if cause == nil {
		cause = errRespProtocol
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !errors.Is(cause, io.ErrUnexpectedEOF) && !errors.Is(cause, io.EOF) && fi.Size()-good > 1<<20 {
		return fmt.Errorf("append-only log %s is damaged %d bytes from its end after %d commands (%v); move it away to start without it",
			path, fi.Size()-good, n, cause)
	}
	s.logf("append-only log %s ends with an incomplete command (%d bytes, %v): dropped it after %d commands", path, fi.Size()-good, cause, n)
	return os.Truncate(path, good)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// migrateDump turns the data loaded from an older version's dump.gob into
// the start of the log, so later starts replay the log alone; dump.gob is
// kept as dump.gob.migrated.
func (s *redisServer) migrateDump() error {
	dump, n, err := s.readDump()
	if err != nil {
		return err
	}
	tmp := s.aofPath + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	w.Write(respBulks([]string{redisAOFBase, "1"}).appendResp(nil, false))
	for _, db := range dump.DBs {
		w.Write(respBulks([]string{"SELECT", strconv.Itoa(db.Index)}).appendResp(nil, false))
		for _, k := range db.Keys {
			for _, c := range dumpKeyCommands(k) {
				w.Write(respBulks(c).appendResp(nil, false))
			}
		}
	}
	err = errors.Join(w.Flush(), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, s.aofPath)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("migrate %s: %w", s.dumpPath, err)
	}
	s.logf("moved %d keys from %s into %s", n, s.dumpPath, s.aofPath)
	return os.Rename(s.dumpPath, s.dumpPath+".migrated")
}

// dumpKeyCommands rebuilds one key of an older snapshot.
func dumpKeyCommands(k redisDumpKey) [][]string {
	var cmds [][]string
	switch k.Type {
	case "string":
		cmds = append(cmds, []string{"SET", k.Name, k.Value})
	case "list":
		cmds = append(cmds, append([]string{"RPUSH", k.Name}, k.Items...))
	case "set":
		cmds = append(cmds, append([]string{"SADD", k.Name}, k.Items...))
	case "zset":
		c := []string{"ZADD", k.Name}
		for i, m := range k.Items {
			c = append(c, strconv.FormatFloat(k.Scores[i], 'g', 17, 64), m)
		}
		cmds = append(cmds, c)
	case "hash":
		cmds = append(cmds, append([]string{"HSET", k.Name}, k.Items...))
		for f, at := range k.FieldExpireAt {
			secs := max((at-time.Now().UnixMilli()+999)/1000, 1)
			cmds = append(cmds, []string{"HEXPIRE", k.Name, strconv.FormatInt(secs, 10), "FIELDS", "1", f})
		}
	case "stream":
		for _, e := range k.Entries {
			cmds = append(cmds, append([]string{"XADD", k.Name, e.ID}, e.Values...))
		}
	}
	if k.ExpireAt != 0 && len(cmds) > 0 {
		cmds = append(cmds, []string{"PEXPIREAT", k.Name, strconv.FormatInt(k.ExpireAt, 10)})
	}
	return cmds
}

// load restores the data set at start: an older version's dump.gob (once,
// then moved into the log), and the log; then opens the log for writing.
func (s *redisServer) load() error {
	s.aofPath = filepath.Join(s.opts.Dir, redisAOFName)
	based, err := aofIsBased(s.aofPath)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(s.dumpPath)
	hasDump := statErr == nil
	if hasDump && !based {
		if err := s.restore(); err != nil {
			return err
		}
	}
	if _, err := s.replayAOF(s.aofPath); err != nil {
		return err
	}
	switch {
	case hasDump && !based:
		if err := s.migrateDump(); err != nil {
			return err
		}
	case hasDump:
		os.Rename(s.dumpPath, s.dumpPath+".migrated") // moved into the log already
	}
	s.aof, err = openRedisAOF(s.aofPath)
	if err == nil {
		s.rewrite.baseSize.Store(s.aof.size.Load())
	}
	return err
}

// aofIsBased tells whether the log starts with redisAOFBase.
func aofIsBased(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read append-only log: %w", err)
	}
	defer f.Close()
	v, err := readResp(bufio.NewReader(f))
	return err == nil && len(v.elems) > 0 && v.elems[0].str == redisAOFBase, nil
}
