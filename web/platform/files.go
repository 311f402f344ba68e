package platform

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The key stays across starts (an exported HEROKU_API_KEY keeps working);
// the URL file exists while a dynobox serves the API.
const (
	keyFile = "platform-api.key"
	urlFile = "platform-api.json"
)

// Key returns the app's API key, kept in stateDir (mode 0600); the first
// call makes it.
func Key(stateDir string) (string, error) {
	path := filepath.Join(stateDir, keyFile)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 16 {
		return strings.TrimSpace(string(b)), nil
	}
	key, err := NewKey()
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("platform api key: %w", err)
	}
	return key, os.Chmod(path, 0o600) // an older file keeps its mode otherwise
}

// Address is where a running dynobox serves the API: `info --json`'s
// platform_api.
type Address struct {
	URL string `json:"url"`
	Key string `json:"key"`
	App string `json:"app"` // the name to pass to heroku -a
}

// Publish records a as where the API answers; the func it returns removes
// the record (at stop). The key is not repeated: it stays in its own file.
func Publish(stateDir string, a Address) (unpublish func(), err error) {
	path := filepath.Join(stateDir, urlFile)
	b, _ := json.Marshal(Address{URL: a.URL, App: a.App})
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("platform api: %w", err)
	}
	return func() { os.Remove(path) }, nil
}

// Published is where a running dynobox serves the API, with its key; ok
// is false when none does.
func Published(stateDir string) (a Address, ok bool) {
	b, err := os.ReadFile(filepath.Join(stateDir, urlFile))
	if err != nil || json.Unmarshal(b, &a) != nil {
		return Address{}, false
	}
	k, err := os.ReadFile(filepath.Join(stateDir, keyFile))
	if err != nil {
		return Address{}, false
	}
	a.Key = strings.TrimSpace(string(k))
	return a, true
}

// PortOffset puts the API at the public port + 1001 (the dashboard is at
// + 1000), so the exported HEROKU_HOST stays the same across starts.
const PortOffset = 1001

// Listen listens on loopback at the public port + PortOffset, or on any
// free port when that one is taken.
func Listen(publicPort int) (net.Listener, error) {
	if p := publicPort + PortOffset; publicPort > 0 && p < 65536 {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			return l, nil
		}
		var op *net.OpError
		if !errors.As(err, &op) {
			return nil, fmt.Errorf("platform api: %w", err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("platform api: %w", err)
	}
	return l, nil
}
