// Package services connects the demo app to its backing services from
// the config vars Heroku's add-ons set — the same code runs on Heroku and
// under dynobox.
package services

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"github.com/twmb/franz-go/pkg/kgo"
)

// VisitsTopic is the Kafka topic the web produces to and the worker reads.
const VisitsTopic = "visits"

// Postgres connects to DATABASE_URL.
func Postgres(ctx context.Context) (*pgxpool.Pool, error) {
	u := os.Getenv("DATABASE_URL")
	if u == "" {
		return nil, errors.New("DATABASE_URL is not set: attach heroku-postgresql")
	}
	return pgxpool.New(ctx, u)
}

// Redis connects to REDIS_URL (rediss:// with Heroku's self-signed cert).
func Redis() (*redis.Client, error) {
	u := os.Getenv("REDIS_URL")
	if u == "" {
		return nil, errors.New("REDIS_URL is not set: attach heroku-redis")
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		return nil, err
	}
	if opts.TLSConfig != nil {
		opts.TLSConfig.InsecureSkipVerify = true // Heroku's Redis certificates are self-signed
	}
	return redis.NewClient(opts), nil
}

// Topic is name with KAFKA_PREFIX, as multi-tenant Kafka plans require.
func Topic(name string) string { return os.Getenv("KAFKA_PREFIX") + name }

// Kafka returns client options for KAFKA_URL with the TLS client
// certificate in KAFKA_CLIENT_CERT(_KEY), trusting KAFKA_TRUSTED_CERT.
func Kafka(extra ...kgo.Opt) (*kgo.Client, error) {
	raw := os.Getenv("KAFKA_URL")
	if raw == "" {
		return nil, errors.New("KAFKA_URL is not set: attach heroku-kafka")
	}
	var seeds []string
	secure := false
	for _, s := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("KAFKA_URL: %w", err)
		}
		secure = secure || u.Scheme == "kafka+ssl"
		seeds = append(seeds, u.Host)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...)}
	if secure {
		cert, err := tls.X509KeyPair([]byte(os.Getenv("KAFKA_CLIENT_CERT")), []byte(os.Getenv("KAFKA_CLIENT_CERT_KEY")))
		if err != nil {
			return nil, fmt.Errorf("KAFKA_CLIENT_CERT: %w", err)
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(os.Getenv("KAFKA_TRUSTED_CERT")))
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{
			Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12,
		}))
	}
	return kgo.NewClient(append(opts, extra...)...)
}
