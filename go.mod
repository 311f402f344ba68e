module github.com/dynobox/dynobox

go 1.26.8

require (
	github.com/creack/pty v1.1.24
	github.com/joho/godotenv v1.5.1
	golang.org/x/sys v0.50.0
	golang.org/x/term v0.48.0
)
