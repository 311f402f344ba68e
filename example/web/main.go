// Command web is the demo app's web process: it answers on $PORT, as a
// Heroku web dyno must, and records each visit in all three add-ons: a row
// in Postgres, a counter in Redis and a message on a Kafka topic that the
// worker consumes.
package main

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/dynobox/dynobox/example/internal/services"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
)

type app struct {
	db    *pgxpool.Pool
	cache *redis.Client
	kafka *kgo.Client
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	a, err := connect(ctx)
	if err != nil {
		log.Fatal(err)
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "5006"
	}
	srv := &http.Server{Addr: ":" + port, Handler: http.HandlerFunc(a.visit), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		log.Print("SIGTERM received, finishing requests")
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	log.Printf("listening on :%s", port)
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

func connect(ctx context.Context) (*app, error) {
	db, err := services.Postgres(ctx)
	if err != nil {
		return nil, err
	}
	cache, err := services.Redis()
	if err != nil {
		return nil, err
	}
	kafka, err := services.Kafka(kgo.DefaultProduceTopic(services.Topic(services.VisitsTopic)))
	if err != nil {
		return nil, err
	}
	return &app{db: db, cache: cache, kafka: kafka}, nil
}

// visit records the request in Postgres, Redis and Kafka, and says so.
func (a *app) visit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	dyno := os.Getenv("DYNO")
	var rows int64
	err := a.db.QueryRow(ctx, `WITH v AS (INSERT INTO visits(path, dyno) VALUES ($1, $2)) SELECT count(*) + 1 FROM visits`, r.URL.Path, dyno).Scan(&rows)
	if err != nil {
		http.Error(w, "postgres: "+err.Error(), http.StatusInternalServerError)
		return
	}
	hits, err := a.cache.Incr(ctx, "hits").Result()
	if err != nil {
		http.Error(w, "redis: "+err.Error(), http.StatusInternalServerError)
		return
	}
	msg := fmt.Sprintf("%s %s %s", dyno, r.Method, r.URL.Path)
	if err := a.kafka.ProduceSync(ctx, &kgo.Record{Value: []byte(msg)}).FirstErr(); err != nil {
		http.Error(w, "kafka: "+err.Error(), http.StatusInternalServerError)
		return
	}
	log.Printf("%s %s: visit %d recorded", r.Method, r.URL.Path, hits)
	fmt.Fprintf(w, "Hello from %s, request %d. %s\nPostgres has %d visits, Redis counted %d, and the worker hears about each one on Kafka.\n",
		dyno, hits, os.Getenv("GREETING"), rows, hits)
}
