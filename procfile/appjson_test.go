package procfile

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const fullAppJSON = `{
  "name": "Small Sharp Tool",
  "description": "This app does one little thing, and does it well.",
  "keywords": ["productivity", "HTML5"],
  "website": "https://small-sharp-tool.example/",
  "repository": "https://example.com/jane/small-sharp-tool",
  "logo": "https://small-sharp-tool.example/logo.svg",
  "success_url": "/welcome",
  "stack": "heroku-24",
  "image": "ignored: unknown keys are fine",
  "scripts": {"postdeploy": "bundle exec rake bootstrap"},
  "env": {
    "PLAIN": "value",
    "SECRET_TOKEN": {"description": "signs cookies", "generator": "secret"},
    "WEB_CONCURRENCY": {"description": "processes", "value": "5"},
    "OPTIONAL": {"description": "maybe", "required": false},
    "NEEDED": {"description": "an API key"}
  },
  "formation": {
    "web": {"quantity": 2, "size": "standard-1x"},
    "worker": {"size": "basic"},
    "clock": {"quantity": 0}
  },
  "addons": [
    "heroku-redis",
    {"plan": "heroku-postgresql:essential-0", "as": "DATABASE", "options": {"version": "16"}}
  ],
  "buildpacks": [{"url": "heroku/ruby"}],
  "environments": {"test": {"scripts": {"test": "bundle exec rake test"}}}
}
`

func TestParseAppJSON(t *testing.T) {
	a, err := ParseAppJSON("app.json", []byte(fullAppJSON))
	if err != nil {
		t.Fatal(err)
	}
	want := &AppJSON{
		Path:        "app.json",
		Name:        "Small Sharp Tool",
		Description: "This app does one little thing, and does it well.",
		Website:     "https://small-sharp-tool.example/",
		Repository:  "https://example.com/jane/small-sharp-tool",
		Logo:        "https://small-sharp-tool.example/logo.svg",
		SuccessURL:  "/welcome",
		Stack:       "heroku-24",
		Keywords:    []string{"productivity", "HTML5"},
		Env: map[string]EnvSpec{
			"PLAIN":           {Value: "value", Required: true},
			"SECRET_TOKEN":    {Description: "signs cookies", Generator: "secret", Required: true},
			"WEB_CONCURRENCY": {Description: "processes", Value: "5", Required: true},
			"OPTIONAL":        {Description: "maybe", Required: false},
			"NEEDED":          {Description: "an API key", Required: true},
		},
		Formation: map[string]FormationSpec{
			"web":    {Quantity: 2, Size: "standard-1x"},
			"worker": {Quantity: 1, Size: "basic"},
			"clock":  {Quantity: 0},
		},
		Addons: []AddonSpec{
			{Plan: "heroku-redis"},
			{Plan: "heroku-postgresql:essential-0", As: "DATABASE", Options: map[string]any{"version": "16"}},
		},
		Scripts: map[string]string{"postdeploy": "bundle exec rake bootstrap"},
		Buildpacks: []struct {
			URL string `json:"url"`
		}{{URL: "heroku/ruby"}},
		Environments: map[string]json.RawMessage{"test": json.RawMessage(`{"scripts": {"test": "bundle exec rake test"}}`)},
	}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("\n got %+v\nwant %+v", a, want)
	}
}

func TestParseAppJSONMinimal(t *testing.T) {
	for _, in := range []string{`{}`, "\ufeff{}", ` {"env": null, "addons": null} `} {
		a, err := ParseAppJSON("app.json", []byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if a.Env != nil || a.Addons != nil || a.Formation != nil {
			t.Errorf("%q: got %+v", in, a)
		}
	}
}

func TestParseAppJSONErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		err  string
	}{
		{"empty file", "", `app.json:1:1: unexpected end of JSON input`},
		{"missing value", "{\n  \"name\": \n}\n", `app.json:3:1: invalid character '}' looking for beginning of value`},
		{"trailing comma", "{\n  \"name\": \"x\",\n}\n", `app.json:2:14: trailing comma before "}"; JSON does not allow one, remove it`},
		{"trailing comma in array", `{"keywords": ["a", ]}`, `app.json:1:18: trailing comma before "]"; JSON does not allow one, remove it`},
		{"unclosed", "{\n  \"name\": \"x\"\n\n", `app.json:2:14: unexpected end of JSON input`},
		{"column counts characters", "{\"name\": \"é\" x}", `app.json:1:14: invalid character 'x' after object key:value pair`},
		{"bom does not shift columns", "\ufeff{\"name\" 1}", `app.json:1:9: invalid character '1' after object key`},
		{"top level array", "\n  [1]", `app.json:2:3: the top level must be an object, not an array`},
		{"name not a string", "{\n  \"name\": 12\n}", `app.json:2:11: "name" must be a string, not a number`},
		{"keywords not an array", `{"keywords": "a, b"}`, `app.json:1:14: "keywords" must be an array, not a string`},
		{"keyword not a string", `{"keywords": ["a", 2]}`, `app.json:1:20: keywords[1] must be a string, not a number`},
		{"env not an object", `{"env": ["A"]}`, `app.json:1:9: "env" must be an object, not an array`},
		{"env entry a number", `{"env": {"A": 1}}`, `app.json:1:15: env "A" must be a string or an object, not a number`},
		{"env value a number", `{"env": {"WEB_CONCURRENCY": {"value": 2}}}`, `app.json:1:39: env "WEB_CONCURRENCY" value must be a string, not a number; write "2"`},
		{"env required not a bool", `{"env": {"A": {"required": "yes"}}}`, `app.json:1:28: env "A" required must be true or false, not a string`},
		{"unknown generator", "{\"env\": {\n  \"A\": {\"generator\": \"uuid\"}\n}}", `app.json:2:22: env "A" has unknown generator "uuid"; the only generator is "secret"`},
		{"bad env name", `{"env": {"A=B": "x"}}`, `app.json:1:17: invalid config var name "A=B"`},
		{"quantity a string", `{"formation": {"web": {"quantity": "2"}}}`, `app.json:1:36: formation "web" quantity must be a whole number, not a string`},
		{"quantity a fraction", `{"formation": {"web": {"quantity": 1.5}}}`, `app.json:1:36: formation "web" quantity must be a whole number, not 1.5`},
		{"quantity negative", `{"formation": {"web": {"quantity": -1}}}`, `app.json:1:36: formation "web" quantity must not be negative, got -1`},
		{"quantity huge", `{"formation": {"web": {"quantity": 99999999999999999999}}}`, `app.json:1:36: formation "web" quantity 99999999999999999999 is too large`},
		{"formation entry a number", `{"formation": {"web": 2}}`, `app.json:1:23: formation "web" must be an object like {"quantity": 1}, not a number`},
		{"formation bad type name", `{"formation": {"we b": {}}}`, `app.json:1:16: invalid process type "we b" in "formation": use letters, digits, "-" and "_"`},
		{"addons not an array", `{"addons": "heroku-redis"}`, `app.json:1:12: "addons" must be an array, not a string`},
		{"addon without plan", "{\"addons\": [\n  \"heroku-redis\",\n  {\"as\": \"CACHE\"}\n]}", `app.json:3:3: addons[1] has no "plan"; add one such as "plan": "heroku-postgresql"`},
		{"addon empty string", `{"addons": [""]}`, `app.json:1:13: addons[0] is empty; name a plan such as "heroku-postgresql"`},
		{"addon a number", `{"addons": [1]}`, `app.json:1:13: addons[0] must be a string or an object, not a number`},
		{"addon options not an object", `{"addons": [{"plan": "x", "options": [1]}]}`, `app.json:1:38: addons[0] options must be an object, not an array`},
		{"buildpack a string", `{"buildpacks": ["heroku/go"]}`, `app.json:1:17: buildpacks[0] must be an object like {"url": "heroku/go"}, not a string`},
		{"buildpack without url", `{"buildpacks": [{}]}`, `app.json:1:17: buildpacks[0] has no "url"`},
		{"script not a string", `{"scripts": {"postdeploy": ["a"]}}`, `app.json:1:28: scripts "postdeploy" must be a string, not an array`},
		{
			"every problem is reported",
			"{\n  \"name\": 1,\n  \"formation\": {\"web\": {\"quantity\": -2}},\n  \"addons\": [{}]\n}",
			"app.json:2:11: \"name\" must be a string, not a number\n" +
				"app.json:3:37: formation \"web\" quantity must not be negative, got -2\n" +
				"app.json:4:14: addons[0] has no \"plan\"; add one such as \"plan\": \"heroku-postgresql\"",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := ParseAppJSON("app.json", []byte(tt.in))
			if err == nil {
				t.Fatalf("no error, got %+v", a)
			}
			if err.Error() != tt.err {
				t.Errorf("\n got %s\nwant %s", err, tt.err)
			}
			var p Problem
			if !errors.As(err, &p) || p.Line == 0 || p.Col == 0 {
				t.Errorf("error has no line:col Problem: %#v", err)
			}
		})
	}
}

func TestReadAppJSON(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadAppJSON(filepath.Join(dir, "app.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: error = %v, want fs.ErrNotExist", err)
	}
	path := filepath.Join(dir, "app.json")
	if err := os.WriteFile(path, []byte(`{"name": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := ReadAppJSON(path)
	if want := path + `:1:10: "name" must be a string, not a number`; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	if err := os.WriteFile(path, []byte(`{"name": "x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if a, err := ReadAppJSON(path); err != nil || a.Name != "x" || a.Path != path {
		t.Errorf("ReadAppJSON = %+v, %v", a, err)
	}
}

func TestResolveEnv(t *testing.T) {
	a, err := ParseAppJSON("app.json", []byte(`{"env": {
		"PLAIN": "p",
		"DEFAULTED": {"value": "d"},
		"ALREADY": {"value": "default"},
		"SECRET_KEY_BASE": {"generator": "secret"},
		"GIVEN_SECRET": {"generator": "secret"},
		"OPTIONAL": {"required": false},
		"EMPTY_SET": {"description": "set to empty is still set"}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{"ALREADY": "mine", "GIVEN_SECRET": "s3", "EMPTY_SET": ""}
	var asked []string
	secret := func(k string) (string, error) { asked = append(asked, k); return "gen-" + k, nil }
	got, err := a.ResolveEnv(have, secret)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"PLAIN": "p", "DEFAULTED": "d", "SECRET_KEY_BASE": "gen-SECRET_KEY_BASE"}
	if !maps.Equal(got, want) {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	if !reflect.DeepEqual(asked, []string{"SECRET_KEY_BASE"}) {
		t.Errorf("secret asked for %q", asked)
	}
	if have["ALREADY"] != "mine" || len(have) != 3 {
		t.Errorf("have was modified: %q", have)
	}
}

func TestResolveEnvRequired(t *testing.T) {
	a, err := ParseAppJSON("app.json", []byte(`{"env": {
		"SECRET_KEY": {"description": "signs sessions"},
		"API_TOKEN": {},
		"FINE": {"value": "x"}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.ResolveEnv(nil, nil)
	want := `app.json: required config var "API_TOKEN" is not set; set it in .env` + "\n" +
		`app.json: required config var "SECRET_KEY" is not set (description: signs sessions); set it in .env`
	if err == nil || err.Error() != want {
		t.Errorf("\n got %v\nwant %s", err, want)
	}
	got, err := a.ResolveEnv(map[string]string{"SECRET_KEY": "k", "API_TOKEN": "t"}, nil)
	if err != nil || !maps.Equal(got, map[string]string{"FINE": "x"}) {
		t.Errorf("all set: %q, %v", got, err)
	}
}

func TestResolveEnvSecret(t *testing.T) {
	a := &AppJSON{Env: map[string]EnvSpec{"S": {Generator: "secret", Required: true}}}
	got, err := a.ResolveEnv(nil, nil) // GenerateSecret by default
	if err != nil || len(got["S"]) != 64 || strings.Trim(got["S"], "0123456789abcdef") != "" {
		t.Errorf("default secret: %q, %v", got, err)
	}
	boom := errors.New("no entropy")
	_, err = a.ResolveEnv(nil, func(string) (string, error) { return "", boom })
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), `app.json: generate secret for "S": `) {
		t.Errorf("secret error = %v", err)
	}
}
