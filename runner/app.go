package runner

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/dynobox/dynobox/procfile"
)

// DefaultPort is the public port of `heroku local`.
const DefaultPort = 5006

// App is an app directory read and checked: its Procfile, env files and
// app.json, and the environment its dynos get.
type App struct {
	Dir          string
	ProcfilePath string // "" when the Procfile is implied (web: npm start)
	Procfile     *procfile.Procfile
	AppJSON      *procfile.AppJSON // nil without app.json
	EnvFiles     []string          // env files actually read
	FileEnv      map[string]string // from env files and app.json defaults
	Port         int               // the public port
	Warnings     []procfile.Problem
}

// LoadOptions say where to look; zero values mean the defaults.
type LoadOptions struct {
	Dir          string   // app directory (default: current directory)
	ProcfilePath string   // -f; default Dir/Procfile
	EnvFiles     []string // -e; default Dir/.env when it exists
	Port         int      // -p; 0 means PORT from env files, else DefaultPort
	// ProcfileOptional: a missing default Procfile is fine (one-off dynos).
	ProcfileOptional bool
	// NoProcfile reads no Procfile at all: a start whose current release
	// is a pushed one runs that release's own Procfile (see loadPushed).
	NoProcfile bool
	// Secret returns the kept value of an app.json generator:"secret" var,
	// generating it on first use. Nil leaves such vars unset (check mode).
	Secret func(key string) (string, error)
}

// InputError marks problems in the user's files or arguments (exit code 2).
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() error { return e.Err }

// LoadApp reads the app and reports every problem it finds at once, as an
// *InputError.
func LoadApp(opts LoadOptions) (*App, error) {
	dir := opts.Dir
	if dir == "" {
		dir = "."
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	app := &App{Dir: dir}
	var problems []error

	// Procfile, or the implied "web: npm start" of a Node app.
	pfPath := opts.ProcfilePath
	if pfPath == "" {
		pfPath = filepath.Join(dir, "Procfile")
	}
	pf, warns, err := procfile.ReadFile(displayPath(pfPath))
	switch {
	case opts.NoProcfile:
		pf, warns = &procfile.Procfile{}, nil
	case errors.Is(err, fs.ErrNotExist) && opts.ProcfilePath == "" && exists(filepath.Join(dir, "package.json")):
		pf, _, _ = procfile.Parse("Procfile", strings.NewReader("web: npm start\n"))
	case errors.Is(err, fs.ErrNotExist) && opts.ProcfilePath == "" && (opts.ProcfileOptional || buildNamesTypes(dir)):
		pf = &procfile.Procfile{}
	case errors.Is(err, fs.ErrNotExist):
		problems = append(problems, fmt.Errorf("%s: no Procfile found; create one with a line like \"web: ./server\", or pass -f PATH", displayPath(pfPath)))
	case err != nil:
		problems = append(problems, err)
	default:
		app.ProcfilePath = pfPath
	}
	app.Procfile = withDefaultTypes(pf, dir, opts.ProcfilePath)
	app.Warnings = append(app.Warnings, warns...)

	// Env files: later files win; expansion sees the OS environment.
	envFiles := opts.EnvFiles
	if len(envFiles) == 0 {
		if def := filepath.Join(dir, ".env"); exists(def) {
			envFiles = []string{def}
		}
	}
	for i, f := range envFiles {
		envFiles[i] = displayPath(f)
	}
	app.EnvFiles = envFiles
	var readable []string
	for _, f := range envFiles {
		if _, err := os.Stat(f); err != nil {
			problems = append(problems, fmt.Errorf("%s: env file not found; create it or leave it out of -e", f))
			continue
		}
		readable = append(readable, f)
	}
	fileEnv, err := procfile.ReadEnvFiles(readable, os.LookupEnv)
	if err != nil {
		problems = append(problems, err)
	}
	if fileEnv == nil {
		fileEnv = map[string]string{}
	}

	// app.json: defaults, required vars and generated secrets.
	aj, err := procfile.ReadAppJSON(displayPath(filepath.Join(dir, "app.json")))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		problems = append(problems, err)
	default:
		app.AppJSON = aj
		have := envMap(os.Environ())
		for k, v := range fileEnv {
			have[k] = v
		}
		secret := opts.Secret
		if secret == nil {
			secret = func(string) (string, error) { return "(generated on start)", nil }
		}
		added, err := aj.ResolveEnv(have, secret)
		if err != nil {
			problems = append(problems, err)
		}
		for k, v := range added {
			fileEnv[k] = v
		}
	}
	app.FileEnv = fileEnv

	switch {
	case opts.Port != 0:
		app.Port = opts.Port
	case fileEnv["PORT"] != "":
		p, err := strconv.Atoi(fileEnv["PORT"])
		if err != nil || p <= 0 || p > 65535 {
			problems = append(problems, fmt.Errorf("PORT=%q in the env files is not a port number (1-65535)", fileEnv["PORT"]))
		}
		app.Port = p
	default:
		app.Port = DefaultPort
	}
	if len(problems) > 0 {
		return app, &InputError{errors.Join(problems...)}
	}
	return app, nil
}

// StrictProblems turns warnings into errors for `check --strict`.
func (a *App) StrictProblems() error {
	if len(a.Warnings) == 0 {
		return nil
	}
	errs := make([]error, len(a.Warnings))
	for i, w := range a.Warnings {
		errs[i] = w
	}
	return &InputError{errors.Join(errs...)}
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// displayPath shortens a path below the working directory, so errors read
// "Procfile:3: …" rather than a long absolute path.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return abs
}

// Secrets keeps app.json generator:"secret" values in the state directory,
// so each is generated once and stays the same across runs.
type Secrets struct{ path string }

// NewSecrets stores secrets in the file at path (mode 0600).
func NewSecrets(path string) *Secrets { return &Secrets{path: path} }

// Get returns the kept secret for key, generating a 64-hex-digit value (as
// Heroku's generator does) on first use.
func (s *Secrets) Get(key string) (string, error) {
	m := map[string]string{}
	data, err := os.ReadFile(s.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("read secrets: %w", err)
	}
	if len(data) > 0 {
		if err := json.Unmarshal(data, &m); err != nil {
			return "", fmt.Errorf("%s is not valid JSON (%v); fix or delete it to generate new secrets", s.path, err)
		}
	}
	if v, ok := m[key]; ok {
		return v, nil
	}
	b := make([]byte, 32)
	rand.Read(b)
	m[key] = hex.EncodeToString(b)
	out, _ := json.MarshalIndent(m, "", "  ")
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, append(out, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("save secrets: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return "", fmt.Errorf("save secrets: %w", err)
	}
	return m[key], nil
}
