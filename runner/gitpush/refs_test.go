package gitpush

import (
	"errors"
	"strings"
	"testing"
)

const (
	shaA = "1111111111111111111111111111111111111111"
	shaB = "2222222222222222222222222222222222222222"
)

func TestDeployable(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    string // the commit to build; "" none
		refused string // a line of the refusal
	}{
		{"main", zeroSHA + " " + shaA + " refs/heads/main\n", shaA, ""},
		{"master", shaB + " " + shaA + " refs/heads/master\n", shaA, ""},
		{"other:main is a push to main", shaB + " " + shaA + " refs/heads/main", shaA, ""},
		{"main and master at one commit", zeroSHA + " " + shaA + " refs/heads/main\n" + zeroSHA + " " + shaA + " refs/heads/master\n", shaA, ""},
		{"main and master apart", zeroSHA + " " + shaA + " refs/heads/main\n" + zeroSHA + " " + shaB + " refs/heads/master\n", "", "different commits"},
		{"other branch", zeroSHA + " " + shaA + " refs/heads/feature\n", "", "Pushed to non-main branch, skipping build."},
		{"a tag", zeroSHA + " " + shaA + " refs/tags/v1\n", "", "git push dynobox v1:main"},
		{"main with another branch", zeroSHA + " " + shaA + " refs/heads/main\n" + zeroSHA + " " + shaA + " refs/heads/dev\n", "", "not refs/heads/dev"},
		{"deleting main builds nothing", shaA + " " + zeroSHA + " refs/heads/main\n", "", ""},
		{"nothing", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ups, err := ReadUpdates(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			u, ok, err := Deployable(ups)
			var refused *RefusedError
			if tc.refused != "" {
				if !errors.As(err, &refused) || !strings.Contains(strings.Join(refused.Lines, "\n"), tc.refused) {
					t.Fatalf("got %v, want a refusal saying %q", err, tc.refused)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := map[bool]string{true: u.New, false: ""}[ok]; got != tc.want {
				t.Fatalf("builds %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadUpdatesRejectsGarbage(t *testing.T) {
	if _, err := ReadUpdates(strings.NewReader("only two\n")); err == nil {
		t.Fatal("no error for a malformed line")
	}
}
