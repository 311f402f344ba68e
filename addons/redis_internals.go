package addons

import (
	"reflect"
	"sync"
	"time"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
)

// miniredis keeps a list as a Go slice and pushes at its head by copying
// it (LPUSH is O(n)), and counts hash field TTLs down only in FastForward,
// which walks every key. Neither has an exported way round, so the two
// fast paths that need them (redis_listhead.go, redis_hashttl.go) reach
// these maps of a RedisDB, and Miniredis' databases and condition variable, by field
// name. redisInternalsOf checks each field's type once; when any differs
// (a miniredis upgrade changed them) it reports !ok and both paths fall
// back to miniredis' own, slower, code. TestRedisListHeadReachesMiniredis
// fails in that case so the upgrade is noticed.
type redisInternals struct {
	ok bool
	// Byte offsets of RedisDB's fields.
	keys, listKeys, hashKeys, hashTTLs, lru, keyVersion uintptr
	signal, dbs                                         uintptr // in Miniredis
}

var (
	redisInternalsOnce sync.Once
	redisInternalsVal  redisInternals
)

func redisInternalsOf() redisInternals {
	redisInternalsOnce.Do(func() {
		redisInternalsVal = findRedisInternals()
	})
	return redisInternalsVal
}

func findRedisInternals() redisInternals {
	var in redisInternals
	db := reflect.TypeFor[miniredis.RedisDB]()
	want := []struct {
		name string
		typ  reflect.Type
		off  *uintptr
	}{
		{"keys", reflect.TypeFor[map[string]string](), &in.keys},
		{"listKeys", reflect.TypeFor[map[string][]string](), &in.listKeys},
		{"hashKeys", reflect.TypeFor[map[string]map[string]string](), &in.hashKeys},
		{"hashTTLs", reflect.TypeFor[map[string]map[string]time.Duration](), &in.hashTTLs},
		{"lru", reflect.TypeFor[map[string]time.Time](), &in.lru},
		{"keyVersion", reflect.TypeFor[map[string]uint](), &in.keyVersion},
	}
	for _, w := range want {
		f, ok := db.FieldByName(w.name)
		// Named types with the same underlying type (listKey is []string,
		// hashKey is map[string]string) share the memory layout.
		if !ok || !sameShape(f.Type, w.typ) {
			return redisInternals{}
		}
		*w.off = f.Offset
	}
	f, ok := reflect.TypeFor[miniredis.Miniredis]().FieldByName("signal")
	if !ok || f.Type != reflect.TypeFor[*sync.Cond]() {
		return redisInternals{}
	}
	in.signal = f.Offset
	f, ok = reflect.TypeFor[miniredis.Miniredis]().FieldByName("dbs")
	if !ok || f.Type != reflect.TypeFor[map[int]*miniredis.RedisDB]() {
		return redisInternals{}
	}
	in.dbs = f.Offset
	in.ok = true
	return in
}

// sameShape tells whether got is want, or a map whose key and element
// types have want's kinds and layout (named types such as listKey).
func sameShape(got, want reflect.Type) bool {
	if got == want {
		return true
	}
	if got.Kind() != want.Kind() {
		return false
	}
	switch got.Kind() {
	case reflect.Map:
		return sameShape(got.Key(), want.Key()) && sameShape(got.Elem(), want.Elem())
	case reflect.Slice:
		return sameShape(got.Elem(), want.Elem())
	case reflect.String, reflect.Uint, reflect.Int64:
		return got.Size() == want.Size()
	case reflect.Struct:
		return got == want
	}
	return false
}

// redisDBMaps are one database's maps; use them only under miniredis' lock.
type redisDBMaps struct {
	keys       map[string]string
	listKeys   map[string][]string
	hashKeys   map[string]map[string]string
	hashTTLs   map[string]map[string]time.Duration
	lru        map[string]time.Time
	keyVersion map[string]uint
}

func (in redisInternals) maps(db *miniredis.RedisDB) redisDBMaps {
	p := unsafe.Pointer(db)
	return redisDBMaps{
		keys:       *(*map[string]string)(unsafe.Add(p, in.keys)),
		listKeys:   *(*map[string][]string)(unsafe.Add(p, in.listKeys)),
		hashKeys:   *(*map[string]map[string]string)(unsafe.Add(p, in.hashKeys)),
		hashTTLs:   *(*map[string]map[string]time.Duration)(unsafe.Add(p, in.hashTTLs)),
		lru:        *(*map[string]time.Time)(unsafe.Add(p, in.lru)),
		keyVersion: *(*map[string]uint)(unsafe.Add(p, in.keyVersion)),
	}
}

// touch is what miniredis does to a key it changes: WATCH sees the new
// version, OBJECT IDLETIME restarts.
func (m redisDBMaps) touch(key string) {
	m.lru[key] = time.Now()
	m.keyVersion[key]++
}

// signalOf is the condition blocked commands (BLPOP …) wait on.
func (in redisInternals) signalOf(mr *miniredis.Miniredis) *sync.Cond {
	return *(**sync.Cond)(unsafe.Add(unsafe.Pointer(mr), in.signal))
}

// dbsOf is miniredis' databases by number; use it only under its lock.
func (in redisInternals) dbsOf(mr *miniredis.Miniredis) map[int]*miniredis.RedisDB {
	return *(*map[int]*miniredis.RedisDB)(unsafe.Add(unsafe.Pointer(mr), in.dbs))
}
