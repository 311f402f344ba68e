package state

import (
	"testing"
	"time"
)

// TestAutoscaleRemembered: autoscaling set survives closing and reopening
// the database; disabling forgets it.
func TestAutoscaleRemembered(t *testing.T) {
	t.Parallel()
	s, path := openTemp(t)
	if _, ok, err := s.Autoscale("web"); ok || err != nil {
		t.Fatalf("fresh store: ok=%v err=%v", ok, err)
	}
	want := Autoscale{Type: "web", Min: 1, Max: 3, P95: 500 * time.Millisecond, Notifications: true}
	if err := s.SetAutoscale(want); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, ok, err := s.Autoscale("web")
	if !ok || err != nil || got != want {
		t.Fatalf("after reopen: %+v ok=%v err=%v", got, ok, err)
	}
	if ok, err := s.DeleteAutoscale("web"); !ok || err != nil {
		t.Fatalf("delete: ok=%v err=%v", ok, err)
	}
	if ok, _ := s.DeleteAutoscale("web"); ok {
		t.Fatal("deleted twice")
	}
}
