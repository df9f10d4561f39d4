package engine

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/ingest"
)

// fleetHeap returns the heap in use after one evaluation of a demo fleet
// of hosts × 3 series with a fortnight of one-minute history, the
// fortnight the first fetch wrote compacted out of the TSDB's head into
// blocks on disk (as the TSDB does in the background within minutes), and
// the number of series.
func fleetHeap(b *testing.B, hosts int) (uint64, int) {
	anchor := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Hosts: hosts, Start: anchor, History: 14 * day, Clock: func() time.Time { return anchor }})
	sigs := fleetSignals(demo)
	// The TSDB as augur serve opens it (two-hour blocks).
	db, err := history.Open(b.TempDir(), history.Options{OutOfOrderWindow: 2 * day})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e, err := New(Options{Signals: sigs, Step: time.Minute, History: 14 * day, Horizon: time.Hour, Now: demo.Now, Store: db})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.Evaluate(context.Background())
	if err := db.Compact(context.Background()); err != nil {
		b.Fatal(err)
	}
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapInuse, len(e.State().Series)
}

// BenchmarkFleetBytesPerSeries measures what a series costs in memory: the
// growth of the heap in use between a fleet of 16 and one of 80 hosts,
// per series added (models, detector, recent window, the TSDB's head of
// its input and output series), so that the fixed base (the TSDB's
// structures, the runtime) drops out. bench/scale.sh measures the whole
// process at larger fleets.
func BenchmarkFleetBytesPerSeries(b *testing.B) {
	b.ReportAllocs()
	for range b.N {
		h1, n1 := fleetHeap(b, 16)
		h2, n2 := fleetHeap(b, 80)
		b.ReportMetric((float64(h2)-float64(h1))/float64(n2-n1), "heap-bytes/series")
	}
}
