package runner

import (
	"net/url"
	"regexp"
	"strings"
)

// secretKey matches config var names whose whole value is a secret.
var secretKey = regexp.MustCompile(`(?i)(KEY|PASSWORD|PASSWD|PASS$|SECRET|TOKEN|PRIVATE|CREDENTIAL|AUTH|SALT|SIGNATURE)`)

// MaskSecret is the one policy of what in a config var is secret, shared
// by "dynobox addons" (without --reveal) and the dashboard, which differ
// only in how they show it: it returns value with a URL's password
// replaced by marker, a PEM block's body by pemTail (its first line stays:
// it says what kind of block it is), or the whole value of a var named
// like a key, token, password or secret replaced by marker. It reports
// whether anything was hidden; an empty value hides nothing.
func MaskSecret(key, value, marker, pemTail string) (string, bool) {
	if value == "" {
		return value, false
	}
	if strings.Contains(value, "://") {
		if u, err := url.Parse(value); err == nil && u.User != nil {
			if _, ok := u.User.Password(); ok {
				u.User = url.UserPassword(u.User.Username(), "MASKEDPASSWORD")
				return strings.Replace(u.String(), "MASKEDPASSWORD", marker, 1), true
			}
		}
	}
	if strings.HasPrefix(value, "-----BEGIN ") {
		first, _, _ := strings.Cut(value, "\n")
		return first + pemTail, true
	}
	if secretKey.MatchString(key) {
		return marker, true
	}
	return value, false
}
