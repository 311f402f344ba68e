// Package slug keeps the results of pushed builds as Heroku keeps them: a
// slug is an immutable, compressed archive (tar.gz) of the built app, and
// every dyno of a release runs in its own unpacked copy of it, made fresh
// at each start, so what a dyno writes is gone when it restarts.
//
// Layout under the state directory:
//
//	slugs/bN.tar.gz   the slug of build bN (read-only once written)
//	slugs/bN.json     its metadata: commit, size, when
//	slugs/bN/         the unpacked slug, the source of every dyno's copy
//	dynos/NAME-XXXX/  one dyno's copy, removed when its process ends
//
// Its contract: it never prints; every error names the file or step. A
// slug is written to a temporary name and renamed, so a slug that exists
// is complete; Unpacked and Copy never change it.
package slug

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/klauspost/pgzip"
)

// Heroku's slug limits: over MaxSize a slug is refused, over WarnSize the
// push says it is large.
const (
	MaxSize  = 500 << 20
	WarnSize = 300 << 20
)

// ErrTooLarge is a slug over MaxSize.
var ErrTooLarge = errors.New("slug too large")

// maxSize is MaxSize; tests lower it.
var maxSize int64 = MaxSize

const (
	slugsDir = "slugs"
	dynosDir = "dynos"
)

// Meta describes a slug.
type Meta struct {
	ID      string    `json:"id"`     // the build's id, bN
	Commit  string    `json:"commit"` // the pushed commit's full sha
	Size    int64     `json:"size"`   // bytes, compressed
	Created time.Time `json:"created_at"`
}

// Path is where slug id lives in stateDir.
func Path(stateDir, id string) string { return filepath.Join(stateDir, slugsDir, id+".tar.gz") }

func metaPath(stateDir, id string) string {
	return filepath.Join(stateDir, slugsDir, id+".json")
}

func unpackedPath(stateDir, id string) string { return filepath.Join(stateDir, slugsDir, id) }

// Exists reports whether build id has a slug: its release runs from it.
func Exists(stateDir, id string) bool {
	if id == "" || strings.ContainsAny(id, `/\`) {
		return false
	}
	_, err := os.Stat(Path(stateDir, id))
	return err == nil
}

// Read returns slug id's metadata.
func Read(stateDir, id string) (Meta, error) {
	var m Meta
	data, err := os.ReadFile(metaPath(stateDir, id))
	if err != nil {
		return m, fmt.Errorf("slug %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, fmt.Errorf("slug %s: %s: %w", id, metaPath(stateDir, id), err)
	}
	return m, nil
}

// Write archives dir (the built app) as slug id of commit, and keeps dir
// itself as the slug's unpacked copy (it is moved: the caller's dir is gone
// on success). While it compresses, it makes the slug's first spare, which
// the release's first dyno (its release phase) takes. A slug over MaxSize
// is an error wrapping ErrTooLarge, and nothing is kept.
func Write(stateDir, id, commit, dir string) (Meta, error) {
	m := Meta{ID: id, Commit: commit, Created: time.Now().UTC()}
	sdir := filepath.Join(stateDir, slugsDir)
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return m, fmt.Errorf("slug %s: %w", id, err)
	}
	tmp, err := os.CreateTemp(sdir, "."+id+".*.partial")
	if err != nil {
		return m, fmt.Errorf("slug %s: %w", id, err)
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	// A spare that cannot be made is simply none: a dyno copies instead.
	spared := make(chan struct{})
	go func() { makeSpare(stateDir, id, func() (string, error) { return dir, nil }, false); close(spared) }()
	err = archive(tmp, dir)
	<-spared
	written := false
	defer func() {
		if !written { // no spare without its slug
			os.RemoveAll(sparePath(stateDir, id))
		}
	}()
	if err != nil {
		tmp.Close()
		return m, fmt.Errorf("slug %s: compress %s: %w", id, dir, err)
	}
	st, err := tmp.Stat()
	if err == nil {
		err = tmp.Chmod(0o400) // immutable: a slug never changes once written
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return m, fmt.Errorf("slug %s: %w", id, err)
	}
	m.Size = st.Size()
	if m.Size > maxSize {
		return m, fmt.Errorf("%w: %s compressed, over Heroku's limit of %s", ErrTooLarge, Size(m.Size), Size(maxSize))
	}
	data, _ := json.Marshal(m)
	if err := os.WriteFile(metaPath(stateDir, id), data, 0o600); err != nil {
		return m, fmt.Errorf("slug %s: %w", id, err)
	}
	unpacked := unpackedPath(stateDir, id)
	os.RemoveAll(unpacked)
	if err := os.Rename(dir, unpacked); err != nil {
		return m, fmt.Errorf("slug %s: keep the unpacked copy: %w", id, err)
	}
	if err := os.Rename(tmp.Name(), Path(stateDir, id)); err != nil {
		return m, fmt.Errorf("slug %s: %w", id, err)
	}
	written = true
	return m, nil
}

// archive writes dir as a gzipped tar to w: regular files, directories
// and symlinks, with their modes.
func archive(w io.Writer, dir string) error {
	// A push waits for it: klauspost's parallel gzip compresses blocks on
	// every core (one gzip stream, as tar -xz and every reader read it),
	// about three times the standard library's speed at BestSpeed.
	gz, err := pgzip.NewWriterLevel(w, pgzip.BestSpeed)
	if err != nil {
		return err
	}
	if err := gz.SetConcurrency(256<<10, 2*runtime.GOMAXPROCS(0)); err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		} else if !info.Mode().IsRegular() && !info.IsDir() {
			return nil // sockets, fifos: nothing a dyno can use
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// Size is Heroku's short size: 12.3M, 845K.
func Size(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
