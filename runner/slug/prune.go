package slug

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Keep is how many of the newest slugs Prune keeps, besides those a
// release needs.
const Keep = 10

// List returns the ids of the slugs in stateDir, oldest first.
func List(stateDir string) []string {
	entries, _ := os.ReadDir(filepath.Join(stateDir, slugsDir))
	var ns []int
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".tar.gz")
		if !ok || !strings.HasPrefix(id, "b") {
			continue
		}
		if n, err := strconv.Atoi(id[1:]); err == nil && n > 0 {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	ids := make([]string, len(ns))
	for i, n := range ns {
		ids[i] = "b" + strconv.Itoa(n)
	}
	return ids
}

// Prune removes every slug but the newest keep and those in needed (the
// builds of releases that are listed, so a rollback can reach them). It
// returns the ids it removed. A removed slug's metadata stays, so a
// rollback to its release can tell it was pruned (Pruned).
func Prune(stateDir string, keep int, needed map[string]bool) ([]string, error) {
	ids := List(stateDir)
	var removed []string
	for i, id := range ids {
		if i >= len(ids)-keep || needed[id] {
			continue
		}
		for _, p := range []string{Path(stateDir, id), unpackedPath(stateDir, id)} {
			if err := os.RemoveAll(p); err != nil {
				return removed, fmt.Errorf("prune slug %s: %w", id, err)
			}
		}
		removed = append(removed, id)
	}
	return removed, nil
}

// Pruned reports whether build id had a slug that Prune removed.
func Pruned(stateDir, id string) bool {
	if id == "" || strings.ContainsAny(id, `/\`) || Exists(stateDir, id) {
		return false
	}
	_, err := os.Stat(metaPath(stateDir, id))
	return err == nil
}
