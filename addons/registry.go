package addons

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
)

// The add-on services dynobox provides, by Heroku's add-on name.
const (
	PostgresService = "heroku-postgresql"
	RedisService    = "heroku-redis"
	KafkaService    = "heroku-kafka"
)

var services = []string{PostgresService, RedisService, KafkaService}

// Spec is one add-on to attach: a plan from app.json or addons:create.
type Spec struct {
	Plan      string // "heroku-postgresql" or "heroku-postgresql:essential-0"
	As        string // attachment name ("" for the default config vars)
	Plaintext bool   // Kafka only: kafka:// instead of kafka+ssl://
}

// Service is the plan's add-on service, e.g. "heroku-redis".
func (s Spec) Service() string {
	svc, _, _ := strings.Cut(s.Plan, ":")
	return svc
}

// Validate checks the plan names a service dynobox provides.
func (s Spec) Validate() error {
	svc, tier, hasTier := strings.Cut(s.Plan, ":")
	for _, known := range services {
		if svc == known && (!hasTier || tier != "") {
			if s.Plaintext && svc != KafkaService {
				return fmt.Errorf("plaintext is an option of %s only", KafkaService)
			}
			return nil
		}
	}
	return fmt.Errorf("unknown add-on plan %q; dynobox provides %s (each optionally with :PLAN, e.g. heroku-postgresql:essential-0)",
		s.Plan, strings.Join(services, ", "))
}

// multiTenant reports Heroku's multi-tenant Kafka plans (basic-*), whose
// topics and groups must carry KAFKA_PREFIX.
func (s Spec) multiTenant() bool {
	_, tier, _ := strings.Cut(s.Plan, ":")
	return s.Service() == KafkaService && strings.HasPrefix(tier, "basic")
}

// AttachmentName is the add-on's name when attached with --as NAME:
// lower case with dashes ("PRIMARY_DB" → "primary-db").
func AttachmentName(as string) string {
	return strings.ReplaceAll(strings.ToLower(as), "_", "-")
}

// Name is the name an add-on of this spec gets among taken names: the
// attachment name, else the service name, else the service name with a
// number (a second Postgres is "heroku-postgresql-2").
func (s Spec) Name(taken map[string]bool) string {
	if s.As != "" {
		return AttachmentName(s.As)
	}
	name := s.Service()
	for i := 2; taken[name]; i++ {
		name = fmt.Sprintf("%s-%d", s.Service(), i)
	}
	return name
}

// Build makes the add-on for spec, named name, keeping its data under
// stateDir/addons/. All Postgres add-ons of an app share one server, each
// with its own database. log receives log lines by process: the add-on's
// own under its name, the shared Postgres server's under "postgres-server";
// nil discards them. session is the dynobox session marker its child
// processes carry ("" for none).
func Build(spec Spec, name, stateDir string, ephemeral bool, log func(process, line string), session string) (Addon, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = func(string, string) {}
	}
	opts := Options{Dir: filepath.Join(stateDir, "addons", name), As: spec.As, Ephemeral: ephemeral, Log: func(l string) { log(name, l) }, Session: session}
	switch spec.Service() {
	case PostgresService:
		pg := NewPostgres(opts)
		pg.AddonName = name
		pg.ServerLog = func(l string) { log(pgServerName, l) }
		pg.PlanName = spec.Plan
		pg.ServerDir = filepath.Join(stateDir, "addons", "postgres-server")
		pg.Secondary = spec.As == "" && name != PostgresService
		return pg, nil
	case RedisService:
		if spec.As == "" && name != RedisService {
			return nil, fmt.Errorf("a second %s needs an attachment name: use --as NAME (it sets NAME_URL)", RedisService)
		}
		return withPlan{NewRedis(opts), spec.Plan}, nil
	case KafkaService:
		if spec.As == "" && name != KafkaService {
			return nil, fmt.Errorf("a second %s needs an attachment name: use --as NAME", KafkaService)
		}
		cfg := KafkaConfig{Plaintext: spec.Plaintext}
		if spec.multiTenant() {
			cfg.Prefix = kafkaPrefix(stateDir, name)
		}
		return withPlan{NewKafka(opts, cfg), spec.Plan}, nil
	}
	return nil, fmt.Errorf("unknown add-on service %q", spec.Service())
}

// withPlan reports the plan that was asked for ("heroku-redis:mini").
type withPlan struct {
	Addon
	plan string
}

func (w withPlan) Plan() string { return w.plan }

// Backend passes on what serves the add-on, for those that say (Redis).
func (w withPlan) Backend() string {
	if b, ok := w.Addon.(interface{ Backend() string }); ok {
		return b.Backend()
	}
	return ""
}

// kafkaPrefix is a stable KAFKA_PREFIX per app and add-on, shaped like
// Heroku's ("wisteria-12345.").
func kafkaPrefix(stateDir, name string) string {
	sum := sha256.Sum256([]byte(stateDir + "\x00" + name))
	return "dynobox-" + hex.EncodeToString(sum[:3]) + "."
}

// SortedEnv returns the keys of env in order, for display.
func SortedEnv(env map[string]string) []string {
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
