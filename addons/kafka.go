package addons

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const kafkaAddonName = "heroku-kafka"

// KafkaConfig chooses how the broker looks to apps.
type KafkaConfig struct {
	// Plaintext serves kafka://127.0.0.1:PORT without TLS, for tools
	// that want it; the default is Heroku's kafka+ssl:// with client
	// certificates required.
	Plaintext bool
	// Prefix emulates the KAFKA_PREFIX of Heroku's multi-tenant plans:
	// topics and consumer groups not starting with it are refused. ""
	// means none.
	Prefix string
}

// Kafka is Apache Kafka on Heroku (heroku-kafka) on loopback: franz-go's
// kfake speaking the real Kafka protocol, with data, topics and group
// offsets persisted (fsynced) in Options.Dir.
type Kafka struct {
	opts Options
	cfg  KafkaConfig

	mu      sync.Mutex // guards the fields below
	cluster *kfake.Cluster
	env     map[string]string
	addr    string
}

// NewKafka returns the add-on; Start runs it.
func NewKafka(opts Options, cfg KafkaConfig) *Kafka {
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	return &Kafka{opts: opts, cfg: cfg}
}

// Name is "heroku-kafka", or the attachment name.
func (k *Kafka) Name() string {
	if k.opts.As != "" {
		return AttachmentName(k.opts.As)
	}
	return kafkaAddonName
}

// Plan is the add-on's plan.
func (k *Kafka) Plan() string { return kafkaAddonName }

// Addr is the broker's listen address.
func (k *Kafka) Addr() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.addr
}

// Env returns KAFKA_URL, and for TLS KAFKA_TRUSTED_CERT, KAFKA_CLIENT_CERT
// and KAFKA_CLIENT_CERT_KEY, plus KAFKA_PREFIX when configured (NAME_… for
// an attachment --as NAME).
func (k *Kafka) Env() map[string]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	env := make(map[string]string, len(k.env))
	for key, v := range k.env {
		env[key] = v
	}
	return env
}

// Start starts the broker, loading what an earlier run persisted; it
// returns once the broker accepts connections.
func (k *Kafka) Start(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.cluster != nil {
		return errors.New("kafka: already started")
	}
	if err := k.start(); err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	return nil
}

func (k *Kafka) start() error {
	dir := k.opts.Dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	prefix := envPrefix(k.opts.As, "KAFKA")
	env := map[string]string{}
	kopts := []kfake.Opt{kfake.NumBrokers(1), kfake.WithLogger(kafkaLogger{k.opts.Log})}
	if !k.cfg.Plaintext {
		tlsCfg, pems, err := kafkaTLS(filepath.Join(dir, "tls"))
		if err != nil {
			return err
		}
		kopts = append(kopts, kfake.TLS(tlsCfg))
		env[prefix+"_TRUSTED_CERT"] = pems.ca
		env[prefix+"_CLIENT_CERT"] = pems.cert
		env[prefix+"_CLIENT_CERT_KEY"] = pems.key
	}
	dataDir := filepath.Join(dir, "data")
	if !k.opts.Ephemeral {
		// SyncWrites: a produce acknowledged with acks=all is on disk.
		kopts = append(kopts, kfake.DataDir(dataDir), kfake.SyncWrites())
	}
	if k.cfg.Prefix != "" {
		aclOpts, err := kafkaPrefixACLs(dataDir, k.cfg.Prefix, !k.opts.Ephemeral)
		if err != nil {
			return err
		}
		kopts = append(kopts, aclOpts...)
		env[prefix+"_PREFIX"] = k.cfg.Prefix
	}
	ln, err := listenSticky(filepath.Join(dir, "port"), func(f string, a ...any) { k.opts.Log(fmt.Sprintf(f, a...)) })
	if err != nil {
		return err
	}
	kopts = append(kopts, kfake.ListenFn(func(string, string) (net.Listener, error) { return ln, nil }))
	cluster, err := kfake.NewCluster(kopts...)
	if err != nil {
		ln.Close()
		return fmt.Errorf("start broker: %w", err)
	}
	k.cluster = cluster
	k.addr = ln.Addr().String()
	scheme := "kafka+ssl"
	if k.cfg.Plaintext {
		scheme = "kafka"
	}
	env[prefix+"_URL"] = scheme + "://" + k.addr
	k.env = env
	k.opts.Log(fmt.Sprintf("listening on %s", env[prefix+"_URL"]))
	return nil
}

// Stop persists and closes the broker; it is idempotent and returns when
// ctx ends even if the broker has not finished closing.
func (k *Kafka) Stop(ctx context.Context) error {
	k.mu.Lock()
	cluster := k.cluster
	k.cluster = nil
	k.mu.Unlock()
	if cluster == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		cluster.Close() // closes the listener, saves state, closes files
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("kafka: stop: %w", ctx.Err())
	}
	if k.opts.Ephemeral {
		err = errors.Join(err, os.RemoveAll(k.opts.Dir))
	}
	return err
}

// kafkaPEMs are the PEM config vars of the TLS shape.
type kafkaPEMs struct{ ca, cert, key string }

// kafkaTLS loads (or creates once) the app's local CA, the broker's
// certificate and the client certificate apps present; the broker requires
// a client certificate signed by that CA, as Heroku's does.
func kafkaTLS(dir string) (*tls.Config, kafkaPEMs, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, kafkaPEMs{}, fmt.Errorf("create %s: %w", dir, err)
	}
	ca, err := loadOrCreateCA(dir, "dynobox Kafka CA")
	if err != nil {
		return nil, kafkaPEMs{}, err
	}
	broker, err := ca.issue(dir, "broker", keyECDSA, x509.ExtKeyUsageServerAuth, loopbackHosts)
	if err != nil {
		return nil, kafkaPEMs{}, err
	}
	client, err := ca.issue(dir, "client", keyRSA, x509.ExtKeyUsageClientAuth, nil)
	if err != nil {
		return nil, kafkaPEMs{}, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{broker.TLS()},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
		MinVersion:   tls.VersionTLS12,
	}
	return cfg, kafkaPEMs{ca: string(ca.certPEM), cert: string(client.certPEM), key: string(client.keyPEM)}, nil
}

// kafkaPrefixACLs turns on kfake's ACLs so that apps (which connect
// without SASL, as User:ANONYMOUS) may use only topics and groups that
// start with prefix — what Heroku's multi-tenant plans enforce, with the
// same TOPIC/GROUP_AUTHORIZATION_FAILED errors.
//
// kfake seeds ACLs only into a new data directory and otherwise loads
// them from its acls.json, so for an existing directory we rewrite that
// file; a changed prefix thus takes effect on the next start.
func kafkaPrefixACLs(dataDir, prefix string, persisted bool) ([]kfake.Opt, error) {
	acls := []kfake.ACL{
		{Resource: kmsg.ACLResourceTypeTopic, Name: prefix, Pattern: kmsg.ACLResourcePatternTypePrefixed, Operation: kmsg.ACLOperationAll, Allow: true},
		{Resource: kmsg.ACLResourceTypeGroup, Name: prefix, Pattern: kmsg.ACLResourcePatternTypePrefixed, Operation: kmsg.ACLOperationAll, Allow: true},
		{Resource: kmsg.ACLResourceTypeTransactionalId, Name: "*", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationAll, Allow: true},
		{Resource: kmsg.ACLResourceTypeCluster, Name: "kafka-cluster", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true},
		{Resource: kmsg.ACLResourceTypeCluster, Name: "kafka-cluster", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationIdempotentWrite, Allow: true},
		{Resource: kmsg.ACLResourceTypeCluster, Name: "kafka-cluster", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribeConfigs, Allow: true},
	}
	if persisted {
		if err := rewriteKafkaACLs(dataDir, acls); err != nil {
			return nil, err
		}
	}
	// The SASL user only carries the ACLs: SASL stays off, and its
	// password is random and never handed out.
	return []kfake.Opt{kfake.EnableACLs(), kfake.User("PLAIN", "ANONYMOUS", randomHex(16), acls...)}, nil
}

// rewriteKafkaACLs replaces the ACLs of an existing kfake data directory
// (its acls.json, in kfake's persistence format version 1).
func rewriteKafkaACLs(dataDir string, acls []kfake.ACL) error {
	if _, err := os.Stat(filepath.Join(dataDir, "meta.json")); errors.Is(err, fs.ErrNotExist) {
		return nil // new directory: kfake seeds the ACLs itself
	}
	type persistACL struct {
		Principal    string `json:"principal"`
		Host         string `json:"host"`
		ResourceType int8   `json:"resource_type"`
		ResourceName string `json:"resource_name"`
		Pattern      int8   `json:"pattern"`
		Operation    int8   `json:"operation"`
		Permission   int8   `json:"permission"`
	}
	file := struct {
		Version int          `json:"version"`
		ACLs    []persistACL `json:"acls"`
	}{Version: 1}
	for _, a := range acls {
		file.ACLs = append(file.ACLs, persistACL{Principal: "User:ANONYMOUS", Host: "*",
			ResourceType: int8(a.Resource), ResourceName: a.Name, Pattern: int8(a.Pattern),
			Operation: int8(a.Operation), Permission: int8(kmsg.ACLPermissionTypeAllow)})
	}
	b, err := json.Marshal(file)
	if err != nil {
		return fmt.Errorf("encode acls: %w", err)
	}
	return writeFileAtomic(filepath.Join(dataDir, "acls.json"), b, 0o600)
}

// kafkaLogger passes kfake's warnings and errors to the add-on log.
type kafkaLogger struct{ log func(string) }

func (l kafkaLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	if level > kfake.LogLevelWarn || level == kfake.LogLevelNone {
		return
	}
	l.log(strings.ToLower(level.String()) + ": " + fmt.Sprintf(msg, args...))
}

var _ Addon = (*Kafka)(nil)
