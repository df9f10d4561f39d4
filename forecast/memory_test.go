package forecast

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
)

// BenchmarkFleetBytesPerSeries measures what a fitted series costs in
// memory: the heap in use after one evaluation of a demo fleet with a
// fortnight of one-minute history (models, detector, recent window, and
// the embedded TSDB's head, which holds the last hours of every input and
// output series), less the heap before, per series. bench/scale.sh
// measures the whole process at larger fleets.
func BenchmarkFleetBytesPerSeries(b *testing.B) {
	b.ReportAllocs()
	const hosts = 64
	anchor := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for range b.N {
		demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Hosts: hosts, Start: anchor, History: 14 * day, Clock: func() time.Time { return anchor }})
		var sigs []Signal
		for _, name := range []string{"cpu", "memory", "connections"} {
			sigs = append(sigs, Signal{Name: name, SourceName: "demo", Source: demo, Query: name, Entity: "host", Limit: 100})
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		e, err := New(Options{Signals: sigs, Step: time.Minute, History: 14 * day, Horizon: time.Hour, Now: demo.Now})
		if err != nil {
			b.Fatal(err)
		}
		e.Evaluate(context.Background())
		runtime.GC()
		runtime.ReadMemStats(&after)
		n := len(e.State().Series)
		b.ReportMetric(float64(after.HeapInuse-before.HeapInuse)/float64(n), "heap-bytes/series")
		e.Close()
	}
}
