package addons

// Helpers behind the kafka:* CLI verbs, in the shape of Heroku's Kafka
// plugin. They are ordinary Kafka clients reading the add-on's config vars,
// so they work from any process that has the app's environment.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaClientOpts returns franz-go options that reach the Kafka add-on as
// an app on Heroku does: the brokers of <name>_URL (kafka+ssl:// or
// kafka://) and, for TLS, the CA and client certificate of
// <name>_TRUSTED_CERT, _CLIENT_CERT and _CLIENT_CERT_KEY. name is the
// config var prefix, "" for KAFKA.
func KafkaClientOpts(env map[string]string, name string) ([]kgo.Opt, error) {
	if name == "" {
		name = "KAFKA"
	}
	raw := env[name+"_URL"]
	if raw == "" {
		return nil, fmt.Errorf("kafka: %s_URL is not set; is the heroku-kafka add-on running?", name)
	}
	var seeds []string
	useTLS := false
	for _, s := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("kafka: %s_URL: bad broker URL %q", name, s)
		}
		switch u.Scheme {
		case "kafka+ssl":
			useTLS = true
		case "kafka":
		default:
			return nil, fmt.Errorf("kafka: %s_URL: scheme %q, want kafka+ssl or kafka", name, u.Scheme)
		}
		seeds = append(seeds, u.Host)
	}
	opts := []kgo.Opt{kgo.SeedBrokers(seeds...)}
	if useTLS {
		cfg, err := kafkaClientTLS(env, name)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(cfg))
	}
	return opts, nil
}

func kafkaClientTLS(env map[string]string, name string) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(env[name+"_TRUSTED_CERT"])) {
		return nil, fmt.Errorf("kafka: %s_TRUSTED_CERT holds no PEM certificate", name)
	}
	cert, err := tls.X509KeyPair([]byte(env[name+"_CLIENT_CERT"]), []byte(env[name+"_CLIENT_CERT_KEY"]))
	if err != nil {
		return nil, fmt.Errorf("kafka: %s_CLIENT_CERT and _CLIENT_CERT_KEY: %w", name, err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// KafkaTopic returns the full topic name: on a prefixed add-on
// (<name>_PREFIX), names are given with or without the prefix, as with
// Heroku's CLI.
func KafkaTopic(env map[string]string, name, topic string) string {
	if name == "" {
		name = "KAFKA"
	}
	if p := env[name+"_PREFIX"]; p != "" && !strings.HasPrefix(topic, p) {
		return p + topic
	}
	return topic
}

func kafkaCLIClient(env map[string]string, name string, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := KafkaClientOpts(env, name)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka: %w", err)
	}
	return cl, nil
}

// KafkaTopics writes the topics with their partitions and retained
// messages (kafka:topics).
func KafkaTopics(ctx context.Context, env map[string]string, name string, w io.Writer) error {
	cl, err := kafkaCLIClient(env, name)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("kafka:topics: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics.Names()...)
	if err != nil {
		return fmt.Errorf("kafka:topics: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topics.Names()...)
	if err != nil {
		return fmt.Errorf("kafka:topics: %w", err)
	}
	fmt.Fprintf(w, "=== Kafka Topics on %s_URL\n\n", varName(name))
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "Name\tPartitions\tMessages")
	for _, t := range topics.Sorted() {
		var messages int64
		for p := range t.Partitions {
			end, _ := ends.Lookup(t.Topic, p)
			start, _ := starts.Lookup(t.Topic, p)
			messages += end.Offset - start.Offset
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\n", t.Topic, len(t.Partitions), messages)
	}
	return tw.Flush()
}

// KafkaCreateTopic creates a topic (kafka:topics:create NAME --partitions
// N); partitions <= 0 means the broker's default.
func KafkaCreateTopic(ctx context.Context, env map[string]string, name, topic string, partitions int, w io.Writer) error {
	cl, err := kafkaCLIClient(env, name)
	if err != nil {
		return err
	}
	defer cl.Close()
	topic = KafkaTopic(env, name, topic)
	if partitions <= 0 {
		partitions = -1
	}
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(partitions), -1, nil, topic)
	if err != nil {
		return fmt.Errorf("kafka:topics:create %s: %w", topic, err)
	}
	fmt.Fprintf(w, "Created topic %s with %d partitions\n", topic, resp.NumPartitions)
	return nil
}

// KafkaWrite produces one message and waits for the broker's
// acknowledgement (kafka:topics:write NAME MESSAGE).
func KafkaWrite(ctx context.Context, env map[string]string, name, topic, message string, w io.Writer) error {
	cl, err := kafkaCLIClient(env, name)
	if err != nil {
		return err
	}
	defer cl.Close()
	topic = KafkaTopic(env, name, topic)
	rec := kgo.StringRecord(message)
	rec.Topic = topic
	r, err := cl.ProduceSync(ctx, rec).First()
	if err != nil {
		return fmt.Errorf("kafka:topics:write %s: %w", topic, err)
	}
	fmt.Fprintf(w, "Wrote to %s partition %d offset %d\n", topic, r.Partition, r.Offset)
	return nil
}

// kafkaTailMax is how much of each value tail prints, as Heroku's
// kafka:topics:tail (--max-length 80).
const kafkaTailMax = 80

// KafkaTail prints the records written to topic from now on, one line
// each ("TOPIC PARTITION OFFSET LENGTH VALUE"), until ctx ends
// (kafka:topics:tail NAME). ready, if not nil, is closed once every
// partition's current end is known: records written later are printed.
func KafkaTail(ctx context.Context, env map[string]string, name, topic string, w io.Writer, ready chan<- struct{}) error {
	topic = KafkaTopic(env, name, topic)
	ends, err := kafkaEndOffsets(ctx, env, name, topic)
	if err != nil {
		return err
	}
	cl, err := kafkaCLIClient(env, name, kgo.ConsumePartitions(ends), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	if ready != nil {
		close(ready)
	}
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err := fetchErr(fetches); err != nil {
			return fmt.Errorf("kafka:topics:tail %s: %w", topic, err)
		}
		fetches.EachRecord(func(r *kgo.Record) {
			v := r.Value
			if len(v) > kafkaTailMax {
				v = v[:kafkaTailMax]
			}
			fmt.Fprintf(w, "%s %d %d %d %s\n", r.Topic, r.Partition, r.Offset, len(r.Value), v)
		})
	}
}

// kafkaEndOffsets returns where each partition of topic ends now.
func kafkaEndOffsets(ctx context.Context, env map[string]string, name, topic string) (map[string]map[int32]kgo.Offset, error) {
	cl, err := kafkaCLIClient(env, name)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("kafka:topics:tail %s: %w", topic, err)
	}
	if len(ends[topic]) == 0 {
		return nil, fmt.Errorf("kafka:topics:tail %s: no such topic", topic)
	}
	return ends.KOffsets(), nil
}

func fetchErr(f kgo.Fetches) error {
	var errs []error
	for _, e := range f.Errors() {
		if !errors.Is(e.Err, context.Canceled) {
			errs = append(errs, fmt.Errorf("%s/%d: %w", e.Topic, e.Partition, e.Err))
		}
	}
	return errors.Join(errs...)
}

func varName(name string) string {
	if name == "" {
		return "KAFKA"
	}
	return name
}
