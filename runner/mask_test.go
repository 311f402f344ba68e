package runner

import "testing"

func TestMaskSecret(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		key, value, want string
		hidden           bool
	}{
		{"DATABASE_URL", "postgres://app:s3cr3t@127.0.0.1:5432/app?sslmode=require", "postgres://app:##@127.0.0.1:5432/app?sslmode=require", true},
		{"REDIS_URL", "redis://:pw@127.0.0.1:6379", "redis://:##@127.0.0.1:6379", true},
		{"KAFKA_URL", "kafka+ssl://127.0.0.1:9093", "kafka+ssl://127.0.0.1:9093", false},
		{"KAFKA_TRUSTED_CERT", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "-----BEGIN CERTIFICATE----- (pem)", true},
		{"KAFKA_CLIENT_CERT_KEY", "not a pem", "##", true},
		{"SECRET_KEY_BASE", "abc", "##", true},
		{"api_token", "abc", "##", true},
		{"STRIPE_AUTH", "abc", "##", true},
		{"DB_PASS", "abc", "##", true},
		{"PASSENGER_PORT", "3000", "3000", false},
		{"API_KEY", "", "", false},
		{"GREETING", "hello", "hello", false},
	} {
		got, hidden := MaskSecret(c.key, c.value, "##", " (pem)")
		if got != c.want || hidden != c.hidden {
			t.Errorf("MaskSecret(%s, %q) = %q, %v; want %q, %v", c.key, c.value, got, hidden, c.want, c.hidden)
		}
	}
}
