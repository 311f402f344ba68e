// Package hostcheck is the one Host-header check of dynobox's loopback
// servers (the dashboard, the Platform API): a DNS-rebinding page reaches
// 127.0.0.1 under its own name, so its requests carry that name and are
// refused.
//
// Its contract: Allowed is true only for localhost (and *.localhost), a
// loopback address, or a host in extra; it never resolves a name.
package hostcheck

import (
	"net"
	"strings"
)

// Allowed reports whether the Host header hostport names this machine's
// loopback interface, or a host in extra (lower case, no port).
func Allowed(hostport string, extra map[string]bool) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || extra[host] {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
