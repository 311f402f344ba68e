package watch

import (
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// A write that changes no bytes is no change. Remembering a digest of
// every path once it has been reported drops the events of a save without
// edits, and ends the build loops of builds that write into the watched
// tree (npm's package-lock.json, Bundler's Gemfile.lock, a build script's
// dist/ when .gitignore misses it): the second, identical write is
// dropped. Paths never seen before always count, so a first save, or a
// deletion of a file that was there from the start, is never lost. The
// cost: `touch` alone no longer triggers a build.

// maxDigest caps the bytes hashed per file; bigger files always count.
const maxDigest = 4 << 20

type digestKind byte

const (
	absent digestKind = iota
	regular
	directory
	symlink
	uncheckable // too big or unreadable: always a change
)

type digest struct {
	kind digestKind
	sum  [sha256.Size]byte
}

func digestOf(p string) digest {
	fi, err := os.Lstat(p)
	switch {
	case err != nil:
		return digest{kind: absent}
	case fi.IsDir():
		return digest{kind: directory}
	case fi.Mode()&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return digest{kind: uncheckable}
		}
		return digest{kind: symlink, sum: sha256.Sum256([]byte(target))}
	case !fi.Mode().IsRegular() || fi.Size() > maxDigest:
		return digest{kind: uncheckable}
	}
	f, err := os.Open(p)
	if err != nil {
		return digest{kind: uncheckable}
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, io.LimitReader(f, maxDigest+1)); err != nil {
		return digest{kind: uncheckable}
	}
	d := digest{kind: regular}
	h.Sum(d.sum[:0])
	return d
}

// digests remembers what each reported path looked like.
type digests map[string]digest

// filter removes from paths those whose content is what it was when last
// reported, those created within the batch (paths[rel] true) that are
// gone again, and directories that exist (a directory holds no code: the
// files in a new or moved-in one are reported themselves; mkdir alone
// deploys nothing), and remembers the rest.
func (ds digests) filter(root string, paths map[string]bool) {
	for rel, created := range paths {
		d := digestOf(filepath.Join(root, filepath.FromSlash(rel)))
		prev, known := ds[rel]
		if d.kind == uncheckable {
			delete(ds, rel)
			continue
		}
		ds[rel] = d
		if known && prev == d || !known && created && d.kind == absent || d.kind == directory {
			delete(paths, rel)
		}
	}
}
