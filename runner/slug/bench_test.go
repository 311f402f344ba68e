package slug

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// bigSlug writes a slug of files files totalling size bytes (random
// bytes: as incompressible as binaries and images), in 50 directories.
func bigSlug(b *testing.B, files, size int) string {
	b.Helper()
	state := b.TempDir()
	dir := filepath.Join(b.TempDir(), "build")
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, size/files)
	for i := range files {
		for j := range buf {
			buf[j] = byte(r.Uint32())
		}
		p := filepath.Join(dir, "d"+strconv.Itoa(i%50), "f"+strconv.Itoa(i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := Write(state, "b1", "c", dir); err != nil {
		b.Fatal(err)
	}
	return state
}

// BenchmarkCopy is what starting a dyno of a pushed release costs on top
// of its process: a fresh copy of a 100 MB, 5,000-file slug (the issue's
// target: under 1 s).
func BenchmarkCopy(b *testing.B) {
	state := bigSlug(b, 5000, 100<<20)
	b.SetBytes(100 << 20)
	b.ResetTimer()
	for b.Loop() {
		_, remove, err := Copy(state, "b1", "web.1")
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		remove()
		b.StartTimer()
	}
}

// BenchmarkUnpack is the first start after the unpacked copy is gone:
// unpacking the archive, then the dyno's copy.
func BenchmarkUnpack(b *testing.B) {
	state := bigSlug(b, 5000, 100<<20)
	b.SetBytes(100 << 20)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		os.RemoveAll(unpackedPath(state, "b1"))
		b.StartTimer()
		_, remove, err := Copy(state, "b1", "web.1")
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		remove()
		b.StartTimer()
	}
}

// BenchmarkLinkTree measures the alternative to Copy the issue suggests
// trying: hard links into the unpacked copy instead of copying the bytes.
// It is not what Copy does — a dyno that opens one of its files for
// writing in place would change the unpacked slug and every other dyno's
// copy (permissions do not stop a process of the same user, nor root) —
// and is measured for the report only.
func BenchmarkLinkTree(b *testing.B) {
	state := bigSlug(b, 5000, 100<<20)
	src, err := Unpacked(state, "b1")
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		dst := filepath.Join(b.TempDir(), "web.1")
		err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dst, rel), 0o755)
			}
			return os.Link(p, filepath.Join(dst, rel))
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCopyWarm is a dyno's start in a long-running dynobox: its copy
// is the spare made ahead (made again, untimed, between iterations).
func BenchmarkCopyWarm(b *testing.B) {
	state := bigSlug(b, 5000, 100<<20)
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		if err := PrepareSpare(state, "b1"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		_, remove, err := CopyWarm(state, "b1", "web.1")
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		remove()
		PrepareSpare(state, "b1") // the background maker, before the next round or the cleanup
		b.StartTimer()
	}
}
