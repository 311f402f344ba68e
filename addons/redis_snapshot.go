package addons

import (
	"bufio"
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/server"
)

// redisDumpVersion is bumped when redisDump changes incompatibly.
const redisDumpVersion = 1

// redisDump is the snapshot file (gob: binary-safe strings, exact floats).
type redisDump struct {
	Version int
	SavedAt time.Time
	DBs     []redisDumpDB
}

type redisDumpDB struct {
	Index int
	Keys  []redisDumpKey
}

type redisDumpKey struct {
	Name     string
	Type     string // string, list, set, zset, hash, stream
	ExpireAt int64  // unix milliseconds; 0 = no TTL
	Value    string
	Items    []string  // list and set members; hash field, value pairs; zset members
	Scores   []float64 // zset, parallel to Items
	// FieldExpireAt holds the hash fields with a TTL (unix milliseconds).
	FieldExpireAt map[string]int64
	Entries       []miniredis.StreamEntry
}

// redisDumpScript reads one database inside a single EVAL, which miniredis
// runs under its lock: each database is saved as of one instant, and no
// value is shared with a running command (miniredis' Go accessors return
// internal slices and maps, which a concurrent command may change).
// HLL keys (no portable read) are left out; so are stream consumer groups.
const redisDumpScript = `
local out = {}
local keys = redis.call('KEYS', '*')
for i = 1, #keys do
  local k = keys[i]
  local t = redis.call('TYPE', k)['ok']
  local e = {k, t, redis.call('PTTL', k), {}, {}}
  if t == 'string' then e[4] = {redis.call('GET', k)}
  elseif t == 'list' then e[4] = redis.call('LRANGE', k, 0, -1)
  elseif t == 'set' then e[4] = redis.call('SMEMBERS', k)
  elseif t == 'zset' then e[4] = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  elseif t == 'stream' then e[4] = redis.call('XRANGE', k, '-', '+')
  elseif t == 'hash' then
    local fv = redis.call('HGETALL', k)
    local fields, ttls = {}, {}
    for j = 1, #fv, 2 do fields[#fields + 1] = fv[j] end
    for j = 1, #fields, 100 do
      local n = math.min(100, #fields - j + 1)
      local r = redis.call('HPTTL', k, 'FIELDS', n, unpack(fields, j, j + n - 1))
      for x = 1, #r do ttls[#ttls + 1] = r[x] end
    end
    e[4], e[5] = fv, ttls
  end
  out[#out + 1] = e
end
return out
`

// redisInternalConn is an in-process connection to miniredis for reading
// an older snapshot and for counting TTLs down; it has no preamble, so our
// hook lets it through unchecked.
type redisInternalConn struct {
	mu   sync.Mutex // one command at a time (the expire loop, SWAPDB's rescan)
	conn net.Conn
	r    *bufio.Reader
}

func newRedisInternalConn(srv *server.Server) *redisInternalConn {
	client, peer := net.Pipe()
	srv.ServeConn(peer)
	return &redisInternalConn{conn: client, r: bufio.NewReader(client)}
}

func (c *redisInternalConn) do(args ...string) (respValue, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.conn.Write(respBulks(args).appendResp(nil, false)); err != nil {
		return respValue{}, err
	}
	v, err := readResp(c.r)
	if err == nil && v.kind == '-' {
		err = errors.New(v.str)
	}
	return v, err
}

func (c *redisInternalConn) close() { c.conn.Close() }

// readDump reads all databases, for moving an older version's dump.gob
// into the append-only log (at start, before clients connect).
func (s *redisServer) readDump() (*redisDump, int, error) {
	dump := &redisDump{Version: redisDumpVersion, SavedAt: time.Now()}
	total := 0
	for i := range redisDatabases {
		if _, err := s.internal.do("SELECT", strconv.Itoa(i)); err != nil {
			return nil, 0, fmt.Errorf("snapshot db %d: %w", i, err)
		}
		v, err := s.internal.do("EVAL", redisDumpScript, "0")
		if err != nil {
			return nil, 0, fmt.Errorf("snapshot db %d: %w", i, err)
		}
		now := time.Now()
		db := redisDumpDB{Index: i}
		for _, e := range v.elems {
			if k, ok := dumpKey(e, now); ok {
				db.Keys = append(db.Keys, k)
			}
		}
		if len(db.Keys) > 0 {
			dump.DBs = append(dump.DBs, db)
			total += len(db.Keys)
		}
	}
	return dump, total, nil
}

// dumpKey converts one [name, type, pttl, payload, field ttls] entry.
func dumpKey(e respValue, now time.Time) (redisDumpKey, bool) {
	if len(e.elems) < 5 {
		return redisDumpKey{}, false
	}
	k := redisDumpKey{Name: e.elems[0].str, Type: e.elems[1].str}
	if pttl := e.elems[2].num; pttl >= 0 {
		k.ExpireAt = now.UnixMilli() + pttl
	}
	payload := e.elems[3].elems
	switch k.Type {
	case "string":
		if len(payload) != 1 {
			return k, false
		}
		k.Value = payload[0].str
	case "list", "set":
		k.Items = strs(payload)
	case "zset":
		for i := 0; i+1 < len(payload); i += 2 {
			score, err := strconv.ParseFloat(payload[i+1].str, 64)
			if err != nil {
				return k, false
			}
			k.Items = append(k.Items, payload[i].str)
			k.Scores = append(k.Scores, score)
		}
	case "hash":
		k.Items = strs(payload)
		k.FieldExpireAt = fieldExpiry(k.Items, e.elems[4].elems, now)
	case "stream":
		for _, entry := range payload {
			if len(entry.elems) == 2 {
				k.Entries = append(k.Entries, miniredis.StreamEntry{ID: entry.elems[0].str, Values: strs(entry.elems[1].elems)})
			}
		}
	default:
		return k, false // hll
	}
	return k, true
}

func fieldExpiry(fieldValues []string, ttls []respValue, now time.Time) map[string]int64 {
	var out map[string]int64
	for i, t := range ttls {
		if t.num < 0 || 2*i >= len(fieldValues) {
			continue
		}
		if out == nil {
			out = map[string]int64{}
		}
		out[fieldValues[2*i]] = now.UnixMilli() + t.num
	}
	return out
}

func strs(vs []respValue) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.str
	}
	return out
}

// restore loads dump.gob, if any, into the not yet serving miniredis,
// dropping what expired meanwhile.
func (s *redisServer) restore() error {
	b, err := os.ReadFile(s.dumpPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read snapshot: %w", err)
	}
	var dump redisDump
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&dump); err != nil {
		return fmt.Errorf("read snapshot %s: %w (move it away to start empty)", s.dumpPath, err)
	}
	if dump.Version != redisDumpVersion {
		return fmt.Errorf("snapshot %s has version %d, want %d", s.dumpPath, dump.Version, redisDumpVersion)
	}
	now := time.Now()
	n := 0
	for _, db := range dump.DBs {
		d := s.mr.DB(db.Index)
		for _, k := range db.Keys {
			if restoreKey(d, k, now) {
				n++
			}
		}
	}
	s.lastSave.Store(dump.SavedAt.Unix())
	s.logf("restored %d keys from %s (saved %s)", n, s.dumpPath, dump.SavedAt.Format(time.RFC3339))
	return nil
}

func restoreKey(d *miniredis.RedisDB, k redisDumpKey, now time.Time) bool {
	ttl := time.Duration(k.ExpireAt-now.UnixMilli()) * time.Millisecond
	if k.ExpireAt != 0 && ttl <= 0 {
		return false
	}
	switch k.Type {
	case "string":
		d.Set(k.Name, k.Value)
	case "list":
		d.Push(k.Name, k.Items...)
	case "set":
		d.SetAdd(k.Name, k.Items...)
	case "zset":
		for i, m := range k.Items {
			d.ZAdd(k.Name, k.Scores[i], m)
		}
	case "hash":
		d.HSet(k.Name, k.Items...)
		for f, at := range k.FieldExpireAt {
			if fttl := time.Duration(at-now.UnixMilli()) * time.Millisecond; fttl > 0 {
				d.HExpire(k.Name, f, fttl)
			} else {
				d.HDel(k.Name, f)
			}
		}
	case "stream":
		for _, e := range k.Entries {
			d.XAdd(k.Name, e.ID, e.Values)
		}
	default:
		return false
	}
	if k.ExpireAt != 0 && d.Exists(k.Name) {
		d.SetTTL(k.Name, ttl)
	}
	return d.Exists(k.Name)
}
