package addons

import "testing"

// BenchmarkPostgresColdStart measures Start with a new data directory
// (initdb included) up to the add-on's database accepting connections.
func BenchmarkPostgresColdStart(b *testing.B) {
	pgTestNeedBinaries(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p, _ := newTestPostgres(b, Options{Dir: b.TempDir()})
		b.StartTimer()
		pgTestStart(b, p)
		b.StopTimer()
		pgTestStop(b, p)
	}
}

// BenchmarkPostgresWarmStart measures Start of an existing data directory
// up to the add-on's database accepting connections.
func BenchmarkPostgresWarmStart(b *testing.B) {
	pgTestNeedBinaries(b)
	p, _ := newTestPostgres(b, Options{Dir: b.TempDir()})
	pgTestStart(b, p)
	pgTestStop(b, p)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pgTestStart(b, p)
		b.StopTimer()
		pgTestStop(b, p)
		b.StartTimer()
	}
}
