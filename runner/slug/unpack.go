package slug

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// Extract writes the tar stream r into dir (created if needed): regular
// files, directories and symlinks. An entry that would land outside dir is
// an error: a slug or a commit must not write elsewhere.
func Extract(r io.Reader, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		name := filepath.FromSlash(strings.TrimSuffix(hdr.Name, "/"))
		if name == "" || name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return fmt.Errorf("archive entry %q points outside the directory", hdr.Name)
		}
		p := filepath.Join(dir, name)
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, mode|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode|0o600)
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			os.Remove(p)
			if err := os.Symlink(hdr.Linkname, p); err != nil {
				return err
			}
		case tar.TypeXGlobalHeader: // git archive's commit id
		default:
			// Devices, fifos, hard links: nothing a built app needs.
		}
	}
}

// Unpacked returns the unpacked copy of slug id, unpacking the archive
// again if the copy is gone.
func Unpacked(stateDir, id string) (string, error) {
	dir := unpackedPath(stateDir, id)
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	f, err := os.Open(Path(stateDir, id))
	if err != nil {
		return "", fmt.Errorf("slug %s: %w", id, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", fmt.Errorf("slug %s: %w", id, err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+id+".*.unpack")
	if err != nil {
		return "", fmt.Errorf("slug %s: %w", id, err)
	}
	if err := Extract(gz, tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("slug %s: unpack: %w", id, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if _, serr := os.Stat(dir); serr == nil {
			return dir, nil // another dyno unpacked it meanwhile
		}
		return "", fmt.Errorf("slug %s: %w", id, err)
	}
	return dir, nil
}

// Copy makes a fresh copy of slug id for one process named name (web.1,
// release.1234) and returns its directory and a func that removes it.
func Copy(stateDir, id, name string) (dir string, remove func(), err error) {
	src, err := Unpacked(stateDir, id)
	if err != nil {
		return "", nil, err
	}
	parent := filepath.Join(stateDir, dynosDir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, fmt.Errorf("copy slug %s: %w", id, err)
	}
	dir, err = os.MkdirTemp(parent, strings.ReplaceAll(name, "/", "_")+"-")
	if err != nil {
		return "", nil, fmt.Errorf("copy slug %s: %w", id, err)
	}
	remove = func() { os.RemoveAll(dir) }
	if err := copyTree(src, dir); err != nil {
		remove()
		return "", nil, fmt.Errorf("copy slug %s for %s: %w", id, name, err)
	}
	return dir, remove, nil
}

// CleanCopies removes every dyno's copy: those of a dynobox that was
// killed before it could remove them.
func CleanCopies(stateDir string) error {
	return os.RemoveAll(filepath.Join(stateDir, dynosDir))
}

// copyTree copies all of src into dst (which exists).
func copyTree(src, dst string) error { return CopyTree(src, dst, nil) }

// CopyTree copies src's files into dst (which exists): directories and
// symlinks first, in one walk, then the regular files on a few goroutines
// (a dyno's start waits for its copy). Files go through os.File's
// ReadFrom, which uses copy_file_range: a reflink on file systems that
// have them. Modes are kept (made readable and writable by the owner);
// sockets and fifos are left out. skipDir, when not nil, leaves out the
// directories it is true for (rel: the path under src).
func CopyTree(src, dst string, skipDir func(rel, path string) bool) error {
	type file struct {
		src, dst string
		mode     fs.FileMode
	}
	var files []file
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil || rel == "." {
			return err
		}
		if d.IsDir() && skipDir != nil && skipDir(rel, p) {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.Mkdir(target, info.Mode().Perm()|0o700)
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case info.Mode().IsRegular():
			files = append(files, file{p, target, info.Mode().Perm()})
		}
		return nil
	})
	if err != nil {
		return err
	}
	const workers = 4
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			var err error
			for i := w; i < len(files) && err == nil; i += workers {
				err = copyFile(files[i].src, files[i].dst, files[i].mode)
			}
			errs <- err
		}()
	}
	for range workers {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	return err
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode|0o600)
	if err != nil {
		return err
	}
	_, err = out.ReadFrom(in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
