package hostcheck

import "testing"

func TestAllowed(t *testing.T) {
	extra := map[string]bool{"192.168.1.5": true}
	for host, want := range map[string]bool{
		"localhost:5006":      true,
		"LOCALHOST.":          true,
		"app.localhost:6006":  true,
		"127.0.0.1:6007":      true,
		"127.1.2.3":           true,
		"[::1]:6006":          true,
		"192.168.1.5:6006":    true,
		"192.168.1.6:6006":    false,
		"evil.example:6006":   false,
		"localhost.evil.test": false,
		"":                    false,
		"0.0.0.0:6006":        false,
	} {
		if got := Allowed(host, extra); got != want {
			t.Errorf("Allowed(%q) = %v, want %v", host, got, want)
		}
	}
}
