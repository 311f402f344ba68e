package addons

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkKafkaStart measures Start until the broker accepts
// connections: cold is a new directory (CA, broker and client
// certificates: one RSA key), warm an existing one with a topic of
// 10 000 records.
//
//	go test -run '^$' -bench 'KafkaStart' ./addons/
func BenchmarkKafkaStart(b *testing.B) {
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			benchKafkaStartStop(b, dir)
		}
	})
	b.Run("warm-10k-records", func(b *testing.B) {
		dir := b.TempDir()
		k := NewKafka(Options{Dir: dir}, KafkaConfig{})
		if err := k.Start(b.Context()); err != nil {
			b.Fatal(err)
		}
		createTopic(b, k.Env(), "warm", 4)
		produceN(b, k.Env(), "warm", 0, 10_000)
		k.Stop(b.Context())
		for b.Loop() {
			benchKafkaStartStop(b, dir)
		}
	})
}

func benchKafkaStartStop(b *testing.B, dir string) {
	k := NewKafka(Options{Dir: dir}, KafkaConfig{})
	if err := k.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	if err := k.Stop(b.Context()); err != nil {
		b.Fatal(err)
	}
	b.StartTimer()
}

// BenchmarkKafkaTLS measures franz-go over TLS with the add-on's client
// certificate: produce is b.N 100-byte records with acks=all (each batch
// fsynced by the broker), consume reads them back; both report records/s.
//
//	go test -run '^$' -bench 'KafkaTLS' -benchtime 200000x ./addons/
func BenchmarkKafkaTLS(b *testing.B) {
	k := NewKafka(Options{Dir: b.TempDir()}, KafkaConfig{})
	if err := k.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer k.Stop(context.Background())
	env := k.Env()
	createTopic(b, env, "bench", 4)
	value := make([]byte, 100)
	produced := 0
	b.Run("produce", func(b *testing.B) {
		cl := kafkaClient(b, env, kgo.DefaultProduceTopic("bench"), kgo.ProducerLinger(5*time.Millisecond))
		start := time.Now()
		for b.Loop() {
			cl.Produce(b.Context(), &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
			})
		}
		if err := cl.Flush(b.Context()); err != nil {
			b.Fatal(err)
		}
		produced += b.N
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	})
	b.Run("consume", func(b *testing.B) {
		if b.N > produced {
			b.StopTimer()
			produceN(b, env, "bench", 0, b.N-produced)
			produced = b.N
			b.StartTimer()
		}
		cl := kafkaClient(b, env, kgo.ConsumeTopics("bench"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		start := time.Now()
		n := 0
		for n < b.N {
			fetches := cl.PollFetches(b.Context())
			if err := fetchErr(fetches); err != nil {
				b.Fatal(err)
			}
			n += fetches.NumRecords()
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "records/s")
	})
}
