package build

import (
	"path/filepath"
	"sort"
)

// builtinRelease is what Heroku's own buildpack for kind would release:
// the runtime env its profile scripts set (defaults the app's config vars
// override) and, for Node.js, the default web process. GOPATH is left
// alone: Heroku's Go dynos have no toolchain, and pointing it at the app
// would put a local `go run`'s module cache into the work tree.
func builtinRelease(kind Kind, appDir string) Release {
	switch kind {
	case Node:
		r := Release{ConfigVars: map[string]string{"NODE_ENV": "production"}}
		if isFile(filepath.Join(appDir, "package.json")) {
			r.ProcessTypes = map[string]string{"web": "npm start"}
		}
		return r
	case Python:
		return Release{ConfigVars: map[string]string{"PYTHONUNBUFFERED": "true", "PYTHONHASHSEED": "random"}}
	case Ruby:
		return Release{ConfigVars: map[string]string{"RACK_ENV": "production", "RAILS_ENV": "production",
			"RAILS_LOG_TO_STDOUT": "enabled", "RAILS_SERVE_STATIC_FILES": "enabled"}}
	}
	return Release{}
}

// ReleaseEnv adds the last build's release config vars (a buildpack's
// bin/release, a built-in's runtime defaults such as NODE_ENV) to a
// dyno's env where env does not set them: the app's own config vars win,
// as on Heroku. CI test runs do not get them (Heroku CI sets its own).
func ReleaseEnv(env []string, stateDir string) []string {
	r := LoadRelease(stateDir)
	keys := make([]string, 0, len(r.ConfigVars))
	for k := range r.ConfigVars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !hasEnv(env, k) {
			env = setenv(env, k, r.ConfigVars[k])
		}
	}
	return env
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if len(kv) > len(key) && kv[len(key)] == '=' && kv[:len(key)] == key {
			return true
		}
	}
	return false
}
