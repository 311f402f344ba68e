// Package e2e tests dynobox end to end: TestMain builds the binary (and
// warms the build of the demo app in ../example), and each test runs it
// as a user would — "dynobox start" on an app directory with real child
// processes, add-ons, a browser — and checks what the user sees: output,
// exit codes, HTTP answers, files. Tests of one package in-process live
// beside that package; these are the ones that need the whole program.
//
// They take minutes, so "go test -short ./..." (the developer's fast loop)
// does not run them; the full suite, "go test -race ./...", does.
package e2e

// demoDir is the demo app, the module's example/ directory.
const demoDir = "../example"
