// Command worker is the demo app's background process: it consumes the
// visits the web dynos publish on Kafka, as a consumer group, and stops
// cleanly on SIGTERM.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/dynobox/dynobox/example/internal/services"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	topic := services.Topic(services.VisitsTopic)
	client, err := services.Kafka(
		kgo.ConsumeTopics(topic),
		kgo.ConsumerGroup(services.Topic("demo-worker")),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	log.Printf("%s started, consuming %s", os.Getenv("DYNO"), topic)
	for {
		fetches := client.PollFetches(ctx)
		if ctx.Err() != nil {
			log.Print("SIGTERM received, stopping")
			return
		}
		fetches.EachError(func(t string, p int32, err error) { log.Printf("fetch %s[%d]: %v", t, p, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			log.Printf("consumed visit: %s (partition %d, offset %d)", r.Value, r.Partition, r.Offset)
		})
	}
}
