package addons

import (
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2/server"
)

// Hash field TTLs (HEXPIRE, HSETEX) count down hash by hash. miniredis
// counts them only in FastForward, which walks (and sorts) every key of
// every database under its lock: ~100 ms–1 s at 200k keys, once a second,
// a stall for every client, however few hashes have field TTLs. We keep
// the index of hashes that may have one (redisExpiry.hashes, fed by the
// commands that set or move them and a scan at start) and count down only
// those, redisExpireChunk hashes per internal script run, so miniredis'
// lock is held for a bounded time per step as Redis' own active expiry
// does. A field that runs out is removed with HDEL (which also deletes a
// hash left empty), and that HDEL goes to the append-only log: the log
// holds HEXPIRE with a relative TTL, which a replay would restart.
const redisHashExpireTick = "DYNOBOX.HEXPIRE"

// hashFieldDel is the HDEL of fields that expired, for the log.
type hashFieldDel struct {
	db  int
	cmd []string
}

// countDownHashes subtracts ms from every field TTL of the tracked
// hashes, a chunk per internal script run.
func (s *redisServer) countDownHashes(ms int64) {
	if !redisInternalsOf().ok || ms <= 0 {
		return // FastForward does it (see noteTTL)
	}
	all := s.expiry.listOf(s.expiry.hashes)
	for len(all) > 0 {
		n := min(redisExpireChunk, len(all))
		// The write lock: the HDELs reach the log in miniredis' order.
		s.writeMu.Lock()
		s.expiry.mu.Lock()
		s.expiry.hchunk, s.expiry.elapsedMS, s.expiry.drop, s.expiry.hdels = all[:n], ms, nil, nil
		s.expiry.mu.Unlock()
		all = all[n:]
		_, err := s.internal.do("EVAL", "return redis.pcall('"+redisHashExpireTick+"', ARGV[1])", "0", s.token)
		s.expiry.mu.Lock()
		drop, dels := s.expiry.drop, s.expiry.hdels
		s.expiry.hchunk, s.expiry.drop, s.expiry.hdels = nil, nil, nil
		for _, k := range drop {
			delete(s.expiry.hashes[k.db], k.key)
		}
		s.expiry.mu.Unlock()
		if s.aof != nil {
			for _, d := range dels {
				s.aof.append(d.db, [][]string{d.cmd})
			}
		}
		s.writeMu.Unlock()
		s.changes.Add(int64(len(dels)))
		if err != nil {
			select {
			case <-s.done:
			default:
				s.logf("expire hash fields: %v", err)
			}
			return
		}
	}
}

// hashExpireChunk runs inside the internal script, under miniredis' lock,
// on the peer whose nested context it uses for HDEL.
func (s *redisServer) hashExpireChunk(c *server.Peer, args []string) {
	if len(args) != 1 || args[0] != s.token {
		c.WriteError("ERR unknown command '" + redisHashExpireTick + "'")
		return
	}
	in := redisInternalsOf()
	s.expiry.mu.Lock()
	chunk, ms := s.expiry.hchunk, s.expiry.elapsedMS
	s.expiry.mu.Unlock()
	var drop []dbKey
	var dels []hashFieldDel
	dbs := in.dbsOf(s.mr)
	for _, k := range chunk {
		rdb := dbs[k.db]
		if rdb == nil {
			drop = append(drop, k)
			continue
		}
		ttls := in.maps(rdb).hashTTLs[k.key]
		var expired []string
		for f, ttl := range ttls {
			ttl -= time.Duration(ms) * time.Millisecond
			if ttl <= 0 {
				expired = append(expired, f)
				delete(ttls, f)
				continue
			}
			ttls[f] = ttl
		}
		if len(ttls) == 0 {
			drop = append(drop, k) // no field TTL left (or not a hash any more)
		}
		if len(expired) > 0 {
			cmd := append([]string{"HDEL", k.key}, expired...)
			s.nested(c, "SELECT", strconv.Itoa(k.db))
			s.nested(c, cmd...)
			dels = append(dels, hashFieldDel{k.db, cmd})
		}
	}
	s.expiry.mu.Lock()
	s.expiry.drop, s.expiry.hdels = drop, dels
	s.expiry.mu.Unlock()
	c.WriteOK()
}
