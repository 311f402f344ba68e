package addons

import (
	"sync"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
)

// LPUSH onto a long list in amortised O(1). miniredis stores a list as a
// []string and pushes at the head by building a new slice (O(n): about
// 200 pushes/s on a 100 000-element list). For a list of at least
// redisListHeadMin elements, our connection layer does LPUSH/LPUSHX itself:
// it keeps, per list, a backing array with free room in front of the
// elements and stores in miniredis' map a slice of it that starts at the
// first element, so a push writes one cell in front and moves the slice's
// start back. Everything else (RPUSH's append, LPOP's l[1:], LRANGE…) is
// miniredis' own code on that slice; a command that replaces the slice
// (LINSERT, LSET on a copy, RENAME to another key) just makes the next
// head push rebuild the room, found by checking that the stored slice
// still lies inside the backing array we kept. Lua scripts' LPUSH takes
// the same path (pushLocked); short lists and MULTI keep miniredis'.
const (
	redisListHeadMin  = 512
	redisListHeadKeep = 4096 // buffers kept before pruning those of gone lists
)

type redisListHeads struct {
	in  redisInternals
	mr  *miniredis.Miniredis
	mu  sync.Mutex // guards buf; taken under miniredis' lock
	buf map[dbKey]listHead
}

// listHead is a list's backing array, and the database it was made in
// (SWAPDB moves databases between numbers).
type listHead struct {
	rdb *miniredis.RedisDB
	buf []string
}

func newRedisListHeads(mr *miniredis.Miniredis) *redisListHeads {
	return &redisListHeads{in: redisInternalsOf(), mr: mr, buf: map[dbKey]listHead{}}
}

// push runs LPUSH or LPUSHX (full is the command with its arguments) on
// database db when the list is long; !ok leaves it to miniredis.
func (h *redisListHeads) push(db int, full []string) (respValue, bool) {
	if h == nil || !h.in.ok || len(full) < 3 || (full[0] != "LPUSH" && full[0] != "LPUSHX") {
		return respValue{}, false
	}
	rdb := h.mr.DB(db)
	h.mr.Lock()
	defer h.mr.Unlock()
	return h.pushIn(rdb, full)
}

// pushLocked is push for a Lua script's redis.call, which runs under
// miniredis' lock; full[0] is upper-case.
func (h *redisListHeads) pushLocked(db int, full []string) (respValue, bool) {
	if h == nil || !h.in.ok || len(full) < 3 || (full[0] != "LPUSH" && full[0] != "LPUSHX") {
		return respValue{}, false
	}
	rdb := h.in.dbsOf(h.mr)[db]
	if rdb == nil {
		return respValue{}, false
	}
	return h.pushIn(rdb, full)
}

// pushIn pushes onto the list in rdb, under miniredis' lock.
func (h *redisListHeads) pushIn(rdb *miniredis.RedisDB, full []string) (respValue, bool) {
	key, vals := full[1], full[2:]
	m := h.in.maps(rdb)
	if m.keys[key] != "list" {
		return respValue{}, false // missing or another type: miniredis' reply
	}
	l := m.listKeys[key]
	if len(l) < redisListHeadMin {
		return respValue{}, false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := dbKey{0, key}
	for i, d := range h.in.dbsOf(h.mr) {
		if d == rdb {
			k.db = i
		}
	}
	head := h.buf[k]
	buf := head.buf
	off, inside := sliceOffset(buf, l)
	inside = inside && head.rdb == rdb
	for _, v := range vals {
		if !inside || off == 0 {
			if !inside && len(h.buf) >= redisListHeadKeep {
				h.prune()
			}
			// Room in front and behind as large as the list: doubling,
			// so pushes at either end are amortised O(1).
			room := len(l) + 16
			buf = make([]string, room+len(l)+room)
			copy(buf[room:], l)
			off, inside = room, true
			h.buf[k] = listHead{rdb, buf}
		}
		off--
		buf[off] = v
		l = buf[off : off+len(l)+1 : len(buf)]
	}
	m.listKeys[key] = l
	m.touch(key)
	h.in.signalOf(h.mr).Broadcast() // wakes BRPOP and friends, as miniredis does
	return respValue{kind: ':', num: int64(len(l))}, true
}

// sliceOffset tells whether l lies inside buf's backing array, and where
// it starts.
func sliceOffset(buf, l []string) (int, bool) {
	if cap(buf) == 0 || len(l) == 0 {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(buf[:cap(buf)])))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(l)))
	size := unsafe.Sizeof("")
	if p < base || (p-base)%size != 0 {
		return 0, false
	}
	off := int((p - base) / size)
	if off >= cap(buf) || off+len(l) > cap(buf) {
		return 0, false
	}
	return off, true
}

// prune drops the buffers of lists that are gone or no longer ours;
// called with both locks held.
func (h *redisListHeads) prune() {
	for k, head := range h.buf {
		m := h.in.maps(head.rdb)
		if _, inside := sliceOffset(head.buf, m.listKeys[k.key]); !inside {
			delete(h.buf, k)
		}
	}
}
