package addons

import (
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/alicebob/miniredis/v2"
	"github.com/alicebob/miniredis/v2/hyperloglog"
)

// A HyperLogLog is its registers: PFCOUNT's estimate cannot give them
// back, and adding "equivalent" elements would change the count. miniredis
// keeps each key's sketch (its own hyperloglog package, whose Sketch has
// MarshalBinary and UnmarshalBinary) in an unexported map with no
// accessor, so the log rewrite reaches it by reflection. This depends on
// miniredis v2.40.0's field names (RedisDB.hllKeys, hll.inner): an upgrade
// that renames them makes hllSketch fail with an error, and
// TestRedisAOFRewrite fails, rather than silently losing the key.

// hllSketch is the sketch behind HLL key k of db; the caller holds
// miniredis' lock, or owns db alone (the rewrite's shadow).
func hllSketch(db *miniredis.RedisDB, k string) (*hyperloglog.Sketch, error) {
	keys := reflect.ValueOf(db).Elem().FieldByName("hllKeys")
	if !keys.IsValid() || keys.Kind() != reflect.Map {
		return nil, errors.New("miniredis keeps HyperLogLogs elsewhere than this dynobox expects")
	}
	keys = reflect.NewAt(keys.Type(), unsafe.Pointer(keys.UnsafeAddr())).Elem()
	h := keys.MapIndex(reflect.ValueOf(k))
	if !h.IsValid() || h.Kind() != reflect.Pointer || h.IsNil() {
		return nil, fmt.Errorf("no HyperLogLog at %q", k)
	}
	inner := h.Elem().FieldByName("inner")
	if !inner.IsValid() {
		return nil, errors.New("miniredis keeps HyperLogLogs elsewhere than this dynobox expects")
	}
	sk, ok := reflect.NewAt(inner.Type(), unsafe.Pointer(inner.UnsafeAddr())).Elem().Interface().(*hyperloglog.Sketch)
	if !ok || sk == nil {
		return nil, errors.New("miniredis keeps HyperLogLogs elsewhere than this dynobox expects")
	}
	return sk, nil
}

// hllRegisters is HLL key k's sketch, serialised.
func hllRegisters(db *miniredis.RedisDB, k string) ([]byte, error) {
	sk, err := hllSketch(db, k)
	if err != nil {
		return nil, err
	}
	return sk.MarshalBinary()
}

// restoreHLL makes k the HyperLogLog whose registers are regs (replay of
// redisPFRestore).
func restoreHLL(db *miniredis.RedisDB, k string, regs []byte) error {
	if _, err := db.HllAdd(k); err != nil { // creates an empty one
		return err
	}
	sk, err := hllSketch(db, k)
	if err != nil {
		return err
	}
	return sk.UnmarshalBinary(regs)
}
