package build

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
)

// Dependency installs run only when what they depend on changed since the
// last successful one: a stamp per kind under StateDir/deps holds the hash
// of the manifests, lockfiles and install command.

// stampOf hashes the given strings and the contents of the given files
// (relative to the app directory; a missing file hashes as missing).
func (b *builder) stampOf(parts []string, files ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	for _, f := range files {
		h.Write([]byte(f))
		if data, err := os.ReadFile(filepath.Join(b.appDir, f)); err == nil {
			h.Write([]byte{1})
			h.Write(data)
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (b *builder) stampFile(kind Kind) string {
	return filepath.Join(b.stateDir, "deps", string(kind))
}

// stampMatches reports whether the last successful install had stamp s.
// A slug build starts from a clean checkout: nothing is installed yet.
func (b *builder) stampMatches(kind Kind, s string) bool {
	if b.slug {
		return false
	}
	data, err := os.ReadFile(b.stampFile(kind))
	return err == nil && string(data) == s
}

// saveStamp records a successful install; a slug build's is not the work
// tree's, so it records nothing.
func (b *builder) saveStamp(kind Kind, s string) error {
	if b.slug {
		return nil
	}
	f := b.stampFile(kind)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return err
	}
	return os.WriteFile(f, []byte(s), 0o600)
}
