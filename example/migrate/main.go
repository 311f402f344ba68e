// Command migrate is the demo app's release phase: it creates the visits
// table and the Kafka topic before any dyno of a new release boots, as a
// Procfile release command does on Heroku.
package main

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/dynobox/dynobox/example/internal/services"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := services.Postgres(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE IF NOT EXISTS visits (id bigserial PRIMARY KEY, path text NOT NULL, dyno text NOT NULL, at timestamptz NOT NULL DEFAULT now())`); err != nil {
		log.Fatalf("postgres: %v", err)
	}
	log.Print("table visits is ready")
	kafka, err := services.Kafka()
	if err != nil {
		log.Fatal(err)
	}
	defer kafka.Close()
	// Topics are created explicitly on Heroku's Kafka; "exists" is fine.
	res, err := kadm.NewClient(kafka).CreateTopic(ctx, 1, -1, nil, services.Topic(services.VisitsTopic))
	if err == nil {
		err = res.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		log.Fatalf("kafka: create topic: %v", err)
	}
	log.Printf("topic %s is ready", services.Topic(services.VisitsTopic))
}
