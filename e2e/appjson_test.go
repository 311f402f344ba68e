package e2e

import (
	"strings"
	"testing"
)

func TestAppJSONEnvAndFormation(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "web: exec sleep 1000\nworker: exec sleep 1000\n",
		"app.json": `{
  "name": "demo",
  "env": {
    "GREETING": {"description": "what to say", "value": "hello from app.json"},
    "SECRET_KEY_BASE": {"generator": "secret"},
    "FROM_ENV_FILE": {"value": "app.json loses"}
  },
  "formation": {"web": {"quantity": 0}, "worker": {"quantity": 2}}
}`,
		".env": "FROM_ENV_FILE=env file wins\n",
	})
	out, stderr, code := runDynobox(t, dir, "check", "-p", "7000")
	if code != 0 || strings.Contains(out, "web.1") || !strings.Contains(out, "worker.2") {
		t.Fatalf("check: exit %d\n%s%s", code, out, stderr)
	}
	show := `echo "$GREETING|$FROM_ENV_FILE|$SECRET_KEY_BASE"`
	first, stderr, code := runDynobox(t, dir, "run", show)
	if code != 0 {
		t.Fatalf("run: exit %d %s", code, stderr)
	}
	parts := strings.Split(strings.TrimSpace(first), "|")
	if len(parts) != 3 || parts[0] != "hello from app.json" || parts[1] != "env file wins" || len(parts[2]) != 64 {
		t.Fatalf("run saw %q", first)
	}
	if again, _, _ := runDynobox(t, dir, "run", show); again != first {
		t.Fatalf("the generated secret changed between runs: %q then %q", first, again)
	}
}

func TestAppJSONRequiredVarMissing(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "web: exec sleep 1000\n",
		"app.json": `{"env": {"API_TOKEN": {"description": "token for the API", "required": true}}}`,
	})
	_, stderr, code := runDynobox(t, dir, "check")
	if code != 2 || !strings.Contains(stderr, `required config var "API_TOKEN" is not set`) {
		t.Fatalf("check: exit %d %s", code, stderr)
	}
	if _, stderr, code := runDynobox(t, dir, "run", "true"); code != 2 || !strings.Contains(stderr, "API_TOKEN") {
		t.Fatalf("run: exit %d %s", code, stderr)
	}
}

func TestEnvFilesOrderAndPort(t *testing.T) {
	t.Parallel()
	dir := writeApp(t, map[string]string{
		"Procfile": "web: exec sleep 1000\n",
		"a.env":    "A=from-a\nB=from-a\nC=from-a\nPORT=6123\n",
		"b.env":    "B=from-b\nC=from-b\n",
		"c.env":    "C=from-c\nD=${A}-expanded\n",
	})
	out, stderr, code := runDynobox(t, dir, "run", "-e", "a.env", "-e", "b.env,c.env", `echo "$A $B $C $D"`)
	if code != 0 || out != "from-a from-b from-c from-a-expanded\n" {
		t.Fatalf("run: exit %d %q %s", code, out, stderr)
	}
	out, _, _ = runDynobox(t, dir, "check", "-e", "a.env")
	if !strings.Contains(out, "router  :6123") {
		t.Fatalf("PORT from the env file is not the public port:\n%s", out)
	}
	out, _, _ = runDynobox(t, dir, "check", "-e", "a.env", "-p", "6200")
	if !strings.Contains(out, "router  :6200") {
		t.Fatalf("-p does not win over PORT in the env file:\n%s", out)
	}
	if _, stderr, code := runDynobox(t, dir, "check", "-e", "missing.env"); code != 2 || !strings.Contains(stderr, "missing.env") {
		t.Fatalf("missing env file: exit %d %s", code, stderr)
	}
}
