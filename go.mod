module github.com/dynobox/dynobox

go 1.26.8

require (
	github.com/joho/godotenv v1.5.1 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/term v0.48.0 // indirect
)
