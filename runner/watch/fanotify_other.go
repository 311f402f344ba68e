//go:build !linux

package watch

// fanWatch exists on Linux only; elsewhere writers are found by the
// files dynobox's processes hold open, where Writers can list them.
type fanWatch struct{}

func openFan(string, Writers, func(string, bool, bool)) *fanWatch { return nil }
func (*fanWatch) add(string)                                      {}
func (*fanWatch) remove(string)                                   {}
func (*fanWatch) drain()                                          {}
func (*fanWatch) close()                                          {}
