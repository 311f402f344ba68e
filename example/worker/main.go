// Command worker is the demo app's background process: it does a unit of
// work every few seconds and stops cleanly on SIGTERM.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	every := 5 * time.Second
	if d, err := time.ParseDuration(os.Getenv("WORK_INTERVAL")); err == nil {
		every = d
	}
	log.Printf("%s started, working every %s", os.Getenv("DYNO"), every)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			log.Print("SIGTERM received, stopping")
			return
		case <-tick.C:
			log.Printf("job %d done", n)
		}
	}
}
