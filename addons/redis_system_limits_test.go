package addons

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRedisSystemDiskFull is TestRedisAOFMisconf for the system backend,
// on a real full disk (a 4 MB tmpfs, so it needs root): writes are refused
// with Redis' MISCONF error while reads go on, and a stop whose final
// flush cannot be written says so instead of reporting a clean stop
// (redis-server itself exits 0 then).
func TestRedisSystemDiskFull(t *testing.T) {
	t.Parallel()
	needRedisServer(t)
	if os.Geteuid() != 0 {
		needed(t, "a small full disk (a tmpfs mount) needs root")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m,mode=0700"); err != nil {
		needed(t, "mount a tmpfs: %v", err)
	}
	// Cleanups run last first: this one after the add-on is stopped.
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	r := startRedisOn(t, dir, RedisSystem)
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	if err := c.Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	fill, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := fill.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	fill.Close()

	value := strings.Repeat("x", 4096) // more than the page the log has left
	waitFor(t, 10*time.Second, "MISCONF", func() bool {
		err := c.Set(ctx, "big", value, 0).Err()
		return err != nil && strings.HasPrefix(err.Error(), "MISCONF Errors writing to the AOF file")
	})
	if got := c.Get(ctx, "before").Val(); got != "1" {
		t.Fatalf("reads stopped too: GET = %q", got)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = r.Stop(stopCtx)
	if err == nil || !strings.Contains(err.Error(), "final save failed") {
		t.Fatalf("Stop on a full disk = %v, want the failed final save", err)
	}
}

// TestRedisSystemMaxmemory: on redis-server CONFIG SET maxmemory is Redis'
// own and enforced (the embedded backend refuses it instead, see
// TestRedisConfigSetRefusesWhatItCannotDo).
func TestRedisSystemMaxmemory(t *testing.T) {
	t.Parallel()
	r := startRedisOn(t, t.TempDir(), RedisSystem)
	ctx := t.Context()
	c := newGoRedis(t, r.Env()["REDIS_URL"])
	if err := c.ConfigSet(ctx, "maxmemory", "4mb").Err(); err != nil {
		t.Fatalf("CONFIG SET maxmemory 4mb: %v", err)
	}
	if got := c.ConfigGet(ctx, "maxmemory").Val()["maxmemory"]; got != "4194304" {
		t.Fatalf("CONFIG GET maxmemory = %q", got)
	}
	value := strings.Repeat("x", 64<<10)
	for i := 0; ; i++ {
		err := c.Set(ctx, fmt.Sprint("k", i), value, 0).Err()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "OOM command not allowed") {
				t.Fatalf("SET %d: %v", i, err)
			}
			break
		}
		if i > 1000 { // 64 MB written under a 4 MB limit
			t.Fatal("maxmemory is not enforced")
		}
	}
	if err := c.Get(ctx, "k0").Err(); err != nil {
		t.Fatalf("reads stopped too: %v", err)
	}
}
