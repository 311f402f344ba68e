package state

import (
	"path/filepath"
	"sync"
	"testing"
)

// A start and a verb reading the stopped app (or two verbs) may open a new
// database at once: each must find it migrated, none fail halfway through
// a migration the other applied.
func TestConcurrentOpensOfANewDatabase(t *testing.T) {
	t.Parallel()
	for round := 0; round < 5; round++ {
		path := filepath.Join(t.TempDir(), "state.db")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(path)
				if err == nil {
					_, err = s.Releases(0)
					s.Close()
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
