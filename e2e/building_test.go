package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// While the first release builds, the router's port answers at once with
// a page that says so and where to watch — not a request held until H20.
func TestFirstBuildAnswersWithTheBuildingPage(t *testing.T) {
	t.Parallel()
	sentinel := filepath.Join(t.TempDir(), "go")
	dir := writeApp(t, map[string]string{"Procfile": "web: " + helperCommand(t) + "\n"})
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	p := startDynobox(t, dir, "start", "-p", strconv.Itoa(port), "--dashboard", "127.0.0.1:0",
		"--build", "echo waiting for the sentinel; while [ ! -e "+sentinel+" ]; do sleep 0.05; done; echo built")
	p.waitOutput("app[build] | waiting for the sentinel")
	dash := regexp.MustCompile(`Dashboard on (http://\S+)`).FindStringSubmatch(p.out.String())
	if dash == nil {
		t.Fatalf("no dashboard address in the output:\n%s", p.out)
	}

	// Without the page the request would wait for a web dyno up to H20's
	// 75 s; the client gives up long before that.
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Get(url + "some/page?x=1")
	if err != nil {
		t.Fatalf("a request during the first build: %v\n%s", err, p.out)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("during the build: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	for _, want := range []string{filepath.Base(dir) + " is building", dash[1], "dynobox logs --tail", "dynobox builds"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("the building page lacks %q:\n%s", want, body)
		}
	}
	p.waitOutput(`heroku[router] | at=info desc="App is building: answered with the building page" method=GET path="/some/page?x=1"`)
	if !p.hasOutput("status=503") {
		t.Errorf("the router line lacks the status:\n%s", p.out)
	}
	if _, _, code := runDynobox(t, dir, "info"); code != 0 {
		t.Fatal("info during the build failed")
	}
	if out, _, _ := runDynobox(t, dir, "ps"); !strings.Contains(out, "=== Build building for") {
		t.Errorf("ps during the build does not say so:\n%s", out)
	}

	// Once built, the same client (its connections included) reaches the app.
	if err := os.WriteFile(sentinel, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && strings.HasPrefix(string(body), "hello from web.1") {
				break
			}
		}
		if time.Now().After(deadline) || p.exited() {
			t.Fatalf("the app did not answer after the build:\n%s\n%s", p.out, p.err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopApp(t, p)
}
