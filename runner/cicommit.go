package runner

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CheckoutCommit writes the tree of the git commit ref of the repository at
// appDir into dest (a clean checkout, without .git), for "dynobox ci
// --commit". It returns the commit's full hash and ref's branch name when
// ref names a branch (else ""). An unknown ref is an InputError.
func CheckoutCommit(appDir, ref, dest string) (commit, branch string, err error) {
	commit = gitOutput(appDir, "rev-parse", "--verify", "--quiet", ref+"^{commit}")
	if commit == "" {
		return "", "", &InputError{fmt.Errorf("--commit %s: not a commit of the git repository at %s", ref, appDir)}
	}
	// "main" and "HEAD" name a branch; a hash names none.
	if b := gitOutput(appDir, "rev-parse", "--abbrev-ref", ref); b != "HEAD" && !strings.HasPrefix(commit, b) {
		branch = b
	}
	// The commit's tree only, as Heroku CI checks it out: the app.json,
	// Procfile and code of that commit, nothing of the work tree.
	cmd := exec.Command("git", "archive", "--format=tar", commit)
	cmd.Dir = appDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", "", err
	}
	if err := cmd.Start(); err != nil {
		return "", "", fmt.Errorf("git archive: %w", err)
	}
	xerr := extractTar(out, dest)
	io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		return "", "", fmt.Errorf("git archive %s: %w: %s", ref, err, strings.TrimSpace(stderr.String()))
	}
	return commit, branch, xerr
}

// extractTar writes a git archive's directories, files and symlinks under
// dest, refusing names that would land outside it.
func extractTar(r io.Reader, dest string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("git archive: %w", err)
		}
		name := filepath.Clean(h.Name)
		if name == "." || filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		p := filepath.Join(dest, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			os.MkdirAll(filepath.Dir(p), 0o755)
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			var f *os.File
			f, err = os.OpenFile(p, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, os.FileMode(h.Mode)&0o777)
			if err == nil {
				_, err = io.Copy(f, tr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		}
		if err != nil {
			return err
		}
	}
}
