package addons

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/dynobox/dynobox/internal/testutil"
)

func startKafka(t *testing.T, dir string, cfg KafkaConfig) *Kafka {
	t.Helper()
	k := NewKafka(Options{Dir: dir, Log: testLog(t, "kafka")}, cfg)
	if err := k.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopKafka(t, k) })
	return k
}

func stopKafka(t *testing.T, k *Kafka) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.Stop(ctx); err != nil {
		t.Error(err)
	}
}

// kafkaClient is a franz-go client configured from the add-on's env.
func kafkaClient(t testing.TB, env map[string]string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base, err := KafkaClientOpts(env, "")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t testing.TB, env map[string]string, topic string, partitions int32) {
	t.Helper()
	if _, err := kadm.NewClient(kafkaClient(t, env)).CreateTopic(context.Background(), partitions, -1, nil, topic); err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

func produceN(t testing.TB, env map[string]string, topic string, from, n int) {
	t.Helper()
	cl := kafkaClient(t, env) // acks=all is franz-go's default
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprint(from + i)), Value: []byte(fmt.Sprintf("value-%d", from+i))}
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// consumeGroup reads n records as a member of group, committing them.
func consumeGroup(t testing.TB, env map[string]string, topic, group string, n int) []string {
	t.Helper()
	cl := kafkaClient(t, env, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.FetchMaxWait(100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fetches := cl.PollRecords(ctx, n-len(got))
		if err := fetchErr(fetches); err != nil {
			t.Fatalf("consume: %v (after %d records)", err, len(got))
		}
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(got), n)
		}
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Key)) })
		if err := cl.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
	cl.Close()
	return got
}

func TestKafkaTLSProduceConsumeGroup(t *testing.T) {
	t.Parallel()
	k := startKafka(t, t.TempDir(), KafkaConfig{})
	env := k.Env()
	if !strings.HasPrefix(env["KAFKA_URL"], "kafka+ssl://127.0.0.1:") {
		t.Fatalf("KAFKA_URL = %q", env["KAFKA_URL"])
	}
	for _, v := range []string{"KAFKA_TRUSTED_CERT", "KAFKA_CLIENT_CERT", "KAFKA_CLIENT_CERT_KEY"} {
		if !strings.HasPrefix(env[v], "-----BEGIN ") {
			t.Fatalf("%s = %q", v, env[v])
		}
	}
	if !strings.HasPrefix(env["KAFKA_CLIENT_CERT_KEY"], "-----BEGIN RSA PRIVATE KEY-----") {
		t.Error("client key is not PKCS#1 RSA like Heroku's")
	}
	createTopic(t, env, "orders", 3)
	produceN(t, env, "orders", 0, 300)
	got := consumeGroup(t, env, "orders", "billing", 300)
	if len(got) != 300 {
		t.Fatalf("got %d records", len(got))
	}
	lag, err := kadm.NewClient(kafkaClient(t, env)).Lag(t.Context(), "billing")
	if err != nil {
		t.Fatal(err)
	}
	if total := lag["billing"].Lag.Total(); total != 0 {
		t.Fatalf("group lag %d after committing everything", total)
	}
}

func TestKafkaTLSRequiresClientCertificate(t *testing.T) {
	t.Parallel()
	k := startKafka(t, t.TempDir(), KafkaConfig{})
	env := k.Env()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(env["KAFKA_TRUSTED_CERT"]))
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.DialTLSConfig(&tls.Config{RootCAs: pool}),
		kgo.RequestRetries(0), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err == nil {
		t.Fatal("TLS without a client certificate was accepted")
	}
}

func TestKafkaPrefixEnforced(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := startKafka(t, dir, KafkaConfig{Prefix: "tenant-7."})
	env := k.Env()
	if env["KAFKA_PREFIX"] != "tenant-7." {
		t.Fatalf("KAFKA_PREFIX = %q", env["KAFKA_PREFIX"])
	}
	checkPrefix(t, env, "tenant-7.", "events")
	stopKafka(t, k)

	// Still enforced after a restart on the same data, and a changed
	// prefix takes effect.
	k = startKafka(t, dir, KafkaConfig{Prefix: "tenant-8."})
	env = k.Env()
	checkPrefix(t, env, "tenant-8.", "more-events")
	if err := produceErr(t, env, "tenant-7.events"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("old prefix: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
}

func checkPrefix(t *testing.T, env map[string]string, prefix, topic string) {
	t.Helper()
	ctx := t.Context()
	adm := kadm.NewClient(kafkaClient(t, env))
	if _, err := adm.CreateTopic(ctx, 1, -1, nil, topic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("create %s without prefix: %v, want TOPIC_AUTHORIZATION_FAILED", topic, err)
	}
	createTopic(t, env, prefix+topic, 2)
	produceN(t, env, prefix+topic, 0, 10)
	if got := consumeGroup(t, env, prefix+topic, prefix+"workers", 10); len(got) != 10 {
		t.Fatalf("prefixed group got %d records", len(got))
	}
	cl := kafkaClient(t, env, kgo.ConsumerGroup("workers"), kgo.ConsumeTopics(prefix+topic))
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fetches := cl.PollFetches(pctx)
	if err := fetches.Err0(); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Errorf("group without prefix: %v, want GROUP_AUTHORIZATION_FAILED", err)
	}
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range topics.Names() {
		if !strings.HasPrefix(name, prefix) {
			t.Errorf("topic %s visible to the tenant", name)
		}
	}
}

func produceErr(t *testing.T, env map[string]string, topic string) error {
	cl := kafkaClient(t, env, kgo.RecordDeliveryTimeout(5*time.Second))
	return cl.ProduceSync(t.Context(), &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr()
}

func TestKafkaDataSurvivesRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k := startKafka(t, dir, KafkaConfig{})
	env := k.Env()
	createTopic(t, env, "log", 2)
	produceN(t, env, "log", 0, 50)
	consumeGroup(t, env, "log", "readers", 20)
	stopKafka(t, k)
	stopKafka(t, k) // idempotent

	k = startKafka(t, dir, KafkaConfig{})
	if got := k.Env(); got["KAFKA_URL"] != env["KAFKA_URL"] || got["KAFKA_CLIENT_CERT"] != env["KAFKA_CLIENT_CERT"] {
		t.Fatal("URL or certificates changed across a restart")
	}
	checkGroupResumes(t, env, "log", "readers", 50, 20)
}

// checkGroupResumes checks the topic holds total records and the group
// resumes after its committed offsets.
func checkGroupResumes(t *testing.T, env map[string]string, topic, group string, total, committed int) {
	t.Helper()
	ends, err := kadm.NewClient(kafkaClient(t, env)).ListEndOffsets(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	if n != int64(total) {
		t.Fatalf("topic holds %d records, want %d", n, total)
	}
	rest := consumeGroup(t, env, topic, group, total-committed)
	seen := map[string]bool{}
	for _, k := range rest {
		seen[k] = true
	}
	if len(seen) != total-committed {
		t.Fatalf("group re-read %d distinct records, want %d (committed offsets lost?)", len(seen), total-committed)
	}
}

// TestKafkaKill9 produces (acks=all) and commits through a broker in a
// child process, SIGKILLs it, and checks a new broker on the same
// directory has every acknowledged record and the committed offsets.
func TestKafkaKill9(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	child, url := startAddonChild(t, "kafka", dir)
	env := map[string]string{"KAFKA_URL": url}
	createTopic(t, env, "payments", 4)
	produceN(t, env, "payments", 0, 1000)
	consumeGroup(t, env, "payments", "ledger", 400)
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()

	k := startKafka(t, dir, KafkaConfig{Plaintext: true})
	if k.Env()["KAFKA_URL"] != url {
		t.Fatalf("KAFKA_URL changed: %s → %s", url, k.Env()["KAFKA_URL"])
	}
	checkGroupResumes(t, env, "payments", "ledger", 1000, 400)
}

func TestKafkaPlaintextAndAttachment(t *testing.T) {
	t.Parallel()
	k := startKafka(t, t.TempDir(), KafkaConfig{Plaintext: true})
	_ = k
	a := NewKafka(Options{Dir: t.TempDir(), As: "EVENTS"}, KafkaConfig{Plaintext: true, Prefix: "p."})
	if a.Name() != "events" || a.Plan() != "heroku-kafka" {
		t.Fatalf("name %q plan %q", a.Name(), a.Plan())
	}
	if err := a.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer stopKafka(t, a)
	env := a.Env()
	if !strings.HasPrefix(env["EVENTS_URL"], "kafka://127.0.0.1:") || env["EVENTS_PREFIX"] != "p." || env["KAFKA_URL"] != "" {
		t.Fatalf("env = %v", env)
	}
	if _, ok := env["EVENTS_TRUSTED_CERT"]; ok {
		t.Fatal("plaintext add-on sets certificates")
	}
	if err := kafkaClient(t, k.Env()).Ping(t.Context()); err != nil { // plaintext works
		t.Fatal(err)
	}
}

func TestKafkaCLIHelpers(t *testing.T) {
	t.Parallel()
	k := startKafka(t, t.TempDir(), KafkaConfig{Prefix: "app."})
	env := k.Env()
	ctx := t.Context()
	var out bytes.Buffer
	if err := KafkaCreateTopic(ctx, env, "", "clicks", 3, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "app.clicks with 3 partitions") {
		t.Fatalf("create: %q", out.String())
	}
	tail := &testutil.Buffer{}
	tctx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	tailDone := make(chan error, 1)
	go func() { tailDone <- KafkaTail(tctx, env, "", "clicks", tail, ready) }()
	select {
	case <-ready:
	case err := <-tailDone:
		t.Fatalf("tail: %v", err)
	}
	out.Reset()
	if err := KafkaWrite(ctx, env, "", "app.clicks", "hello tail", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "Wrote to app.clicks partition ") {
		t.Fatalf("write: %q", out.String())
	}
	waitFor(t, 10*time.Second, "tail output", func() bool { return strings.Contains(tail.String(), " 10 hello tail\n") })
	cancel()
	if err := <-tailDone; err != nil {
		t.Fatalf("tail: %v", err)
	}
	out.Reset()
	if err := KafkaTopics(ctx, env, "", &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "=== Kafka Topics on KAFKA_URL") || !regexpFields(out.String(), "app.clicks", "3", "1") {
		t.Fatalf("topics:\n%s", out.String())
	}
	if err := KafkaTail(ctx, env, "", "missing", tail, nil); err == nil {
		t.Fatal("tail of a missing topic succeeded")
	}
	if _, err := KafkaClientOpts(map[string]string{}, ""); err == nil || !strings.Contains(err.Error(), "KAFKA_URL is not set") {
		t.Fatalf("no env: %v", err)
	}
}

// regexpFields reports whether a line of text has exactly these fields.
func regexpFields(text string, fields ...string) bool {
	for _, line := range strings.Split(text, "\n") {
		if strings.Join(strings.Fields(line), " ") == strings.Join(fields, " ") {
			return true
		}
	}
	return false
}

func TestKafkaEphemeral(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "kafka")
	k := NewKafka(Options{Dir: dir, Ephemeral: true}, KafkaConfig{Prefix: "e."})
	if err := k.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	createTopic(t, k.Env(), "e.t", 1)
	produceN(t, k.Env(), "e.t", 0, 5)
	stopKafka(t, k)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("ephemeral directory left behind: %v", err)
	}
}
