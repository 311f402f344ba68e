package addons

import (
	"bufio"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

// Keys expire in real time. miniredis counts TTLs down only when told
// (FastForward), and each FastForward sorts every key of every database
// under its lock: 0.1–1 s at 200k keys, a stall for every client. So we
// track the keys that may have a TTL (from the commands that set one, and
// a scan at start) and count down only those, a chunk at a time: each
// chunk runs as one internal script, so reading a key's TTL and setting
// the new one is atomic, and miniredis' lock is held for about a
// millisecond at a time. Hash field TTLs (HEXPIRE, HSETEX) are counted
// down the same way, hash by hash, for the hashes that may have one
// (redis_hashttl.go); only if miniredis' internals are out of reach do we
// fall back to FastForward once a client sets one.
const (
	redisExpireTick  = "DYNOBOX.EXPIRE"
	redisExpireChunk = 200
)

// redisExpiry is the set of keys that may have a TTL.
type redisExpiry struct {
	mu        sync.Mutex
	keys      map[int]map[string]struct{}
	hashTTL   bool                        // a hash field TTL was set and hashes is unusable: use FastForward
	hashes    map[int]map[string]struct{} // hashes that may have field TTLs
	hchunk    []dbKey                     // hashes being counted down by the running tick
	hdels     []hashFieldDel              // fields that tick expired, for the log
	rescan    bool                        // after SWAPDB: scanTTLs at the next tick
	chunk     []dbKey                     // being counted down by the running tick
	elapsedMS int64                       // for the running tick
	drop      []dbKey                     // keys found without a TTL by the running tick
}

type dbKey struct {
	db  int
	key string
}

func newRedisExpiry() *redisExpiry {
	return &redisExpiry{keys: map[int]map[string]struct{}{}, hashes: map[int]map[string]struct{}{}}
}

func (e *redisExpiry) add(db int, keys ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	addKeys(e.keys, db, keys)
}

// addHash records hashes that may have field TTLs.
func (e *redisExpiry) addHash(db int, keys ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	addKeys(e.hashes, db, keys)
}

func addKeys(set map[int]map[string]struct{}, db int, keys []string) {
	m := set[db]
	if m == nil {
		m = map[string]struct{}{}
		set[db] = m
	}
	for _, k := range keys {
		m[k] = struct{}{}
	}
}

func (e *redisExpiry) list() []dbKey { return e.listOf(e.keys) }

func (e *redisExpiry) listOf(set map[int]map[string]struct{}) []dbKey {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []dbKey
	for db, m := range set {
		for k := range m {
			out = append(out, dbKey{db, k})
		}
	}
	return out
}

// noteTTL records the keys a command may have given a TTL (or moved one
// to): conservative, as a key without a TTL is dropped at the next tick.
func (s *redisServer) noteTTL(db int, cmd string, args []string) {
	if len(args) == 0 {
		return
	}
	switch cmd {
	case "SET", "SETEX", "PSETEX", "EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT", "GETEX", "RESTORE", "RENAME", "RENAMENX":
		if cmd == "SET" && len(args) <= 2 || cmd == "GETEX" && len(args) == 1 {
			return // no TTL option
		}
		keys := args[:1]
		if cmd == "RENAME" || cmd == "RENAMENX" {
			keys = args[min(1, len(args)-1):min(2, len(args))]
		}
		s.expiry.add(db, keys...)
		if cmd == "RENAME" || cmd == "RENAMENX" {
			s.expiry.addHash(db, keys...) // a hash keeps its field TTLs
		}
	case "COPY":
		if len(args) >= 2 {
			dst := db
			for i := 2; i+1 < len(args); i++ {
				if strings.EqualFold(args[i], "DB") {
					if n, ok := parseDBIndex(args[i+1]); ok {
						dst = n
					}
				}
			}
			s.expiry.add(dst, args[1])
			s.expiry.addHash(dst, args[1])
		}
	case "MOVE":
		if n, ok := parseDBIndex(args[min(1, len(args)-1)]); ok {
			s.expiry.add(n, args[0])
			s.expiry.addHash(n, args[0])
		}
	case "SWAPDB":
		// Rescanned by the expire loop: a script's SWAPDB runs under
		// miniredis' lock, which scanTTLs takes.
		s.expiry.mu.Lock()
		s.expiry.rescan = true
		s.expiry.mu.Unlock()
	case "HEXPIRE", "HSETEX", "HPEXPIRE", "HEXPIREAT", "HPEXPIREAT":
		s.expiry.mu.Lock()
		if redisInternalsOf().ok {
			addKeys(s.expiry.hashes, db, args[:1])
		} else {
			s.expiry.hashTTL = true
		}
		s.expiry.mu.Unlock()
	}
}

// scanTTLs tracks every key that has a TTL now, and every hash with a
// field TTL (at start, and after SWAPDB).
func (s *redisServer) scanTTLs() {
	for i := range redisDatabases {
		db := s.mr.DB(i)
		var keys []string
		for _, k := range db.Keys() {
			if db.TTL(k) != 0 {
				keys = append(keys, k)
			}
		}
		s.expiry.add(i, keys...)
	}
	in := redisInternalsOf()
	if !in.ok {
		s.expiry.mu.Lock()
		s.expiry.hashTTL = true // cannot tell: count down with FastForward
		s.expiry.mu.Unlock()
		return
	}
	s.mr.Lock()
	var hashes []dbKey
	for i, rdb := range in.dbsOf(s.mr) {
		for k, ttls := range in.maps(rdb).hashTTLs {
			if len(ttls) > 0 {
				hashes = append(hashes, dbKey{i, k})
			}
		}
	}
	s.mr.Unlock()
	for _, h := range hashes {
		s.expiry.addHash(h.db, h.key)
	}
}

func (e *redisExpiry) usesFastForward() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hashTTL
}

// expireLoop counts TTLs down every redisExpireMin, or less often when a
// pass is slow (many keys with TTLs), keeping it near 5% of a core.
func (s *redisServer) expireLoop() {
	defer s.wg.Done()
	last := time.Now()
	wait := redisExpireMin
	for {
		select {
		case <-s.done:
			return
		case <-time.After(wait):
		}
		s.expiry.mu.Lock()
		rescan := s.expiry.rescan
		s.expiry.rescan = false
		s.expiry.mu.Unlock()
		if rescan {
			s.scanTTLs()
		}
		now := time.Now()
		elapsed := now.Sub(last)
		if s.expiry.usesFastForward() {
			s.mr.FastForward(elapsed)
			last = now
		} else {
			// Count down by whole milliseconds, keeping the remainder.
			ms := elapsed.Milliseconds()
			last = last.Add(time.Duration(ms) * time.Millisecond)
			s.countDown(ms)
			s.countDownHashes(ms)
		}
		took := time.Since(now)
		wait = min(max(20*took, redisExpireMin), redisExpireMax)
	}
}

// countDown subtracts ms from the TTL of every tracked key, a chunk per
// internal script run.
func (s *redisServer) countDown(ms int64) {
	all := s.expiry.list()
	for len(all) > 0 && ms > 0 {
		n := min(redisExpireChunk, len(all))
		s.expiry.mu.Lock()
		s.expiry.chunk, s.expiry.elapsedMS, s.expiry.drop = all[:n], ms, nil
		s.expiry.mu.Unlock()
		all = all[n:]
		if _, err := s.internal.do("EVAL", "return redis.pcall('"+redisExpireTick+"', ARGV[1])", "0", s.token); err != nil {
			select {
			case <-s.done:
			default:
				s.logf("expire keys: %v", err)
			}
			return
		}
		s.expiry.mu.Lock()
		for _, k := range s.expiry.drop {
			delete(s.expiry.keys[k.db], k.key)
		}
		s.expiry.mu.Unlock()
	}
}

// expireChunk runs inside the internal script, under miniredis' lock, on
// the peer whose nested context it uses for PTTL and PEXPIRE.
func (s *redisServer) expireChunk(c *server.Peer, args []string) {
	if len(args) != 1 || args[0] != s.token {
		c.WriteError("ERR unknown command '" + redisExpireTick + "'")
		return
	}
	s.expiry.mu.Lock()
	chunk, ms := s.expiry.chunk, s.expiry.elapsedMS
	s.expiry.mu.Unlock()
	var drop []dbKey
	for _, k := range chunk {
		s.nested(c, "SELECT", strconv.Itoa(k.db))
		pttl := s.nested(c, "PTTL", k.key)
		if pttl.kind != ':' || pttl.num < 0 {
			drop = append(drop, k) // gone, or no TTL any more
			continue
		}
		s.nested(c, "PEXPIRE", k.key, strconv.FormatInt(pttl.num-ms, 10)) // ≤ 0 deletes it
		if pttl.num-ms <= 0 {
			drop = append(drop, k)
		}
	}
	s.expiry.mu.Lock()
	s.expiry.drop = drop
	s.expiry.mu.Unlock()
	c.WriteOK()
}

// nested runs a command with the nested context of peer c.
func (s *redisServer) nested(c *server.Peer, args ...string) respValue {
	var out strings.Builder
	w := newBufWriter(&out)
	p := server.NewPeer(w)
	p.Ctx = c.Ctx
	s.mr.Server().Dispatch(p, args)
	w.Flush()
	v, err := readResp(newBufReader(out.String()))
	if err != nil {
		return respValue{kind: '-', str: err.Error()}
	}
	return v
}

func newBufWriter(w io.Writer) *bufio.Writer { return bufio.NewWriter(w) }
func newBufReader(s string) *bufio.Reader    { return bufio.NewReader(strings.NewReader(s)) }
