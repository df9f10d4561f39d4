package history

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
)

// BenchmarkBackfillBytesPerSample measures the heap a backfill holds per
// sample before it writes its block: 1,000 series each given two days at
// one minute in one transaction, as a first fit writes its past outputs;
// against Prometheus' tsdb.BlockWriter, whose head keeps isolation.
func BenchmarkBackfillBytesPerSample(b *testing.B) {
	for _, w := range []struct {
		name string
		open func(b *testing.B, db *DB) (storage.Appendable, func())
	}{
		{"tsdb.BlockWriter", func(b *testing.B, db *DB) (storage.Appendable, func()) {
			bw, err := tsdb.NewBlockWriter(nil, b.TempDir(), backfillRange.Milliseconds())
			if err != nil {
				b.Fatal(err)
			}
			return bw, func() { bw.Close() }
		}},
		{"Backfill", func(b *testing.B, db *DB) (storage.Appendable, func()) {
			bf, err := db.NewBackfill()
			if err != nil {
				b.Fatal(err)
			}
			return bf, func() {
				if err := bf.Flush(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
		}},
	} {
		b.Run(w.name, func(b *testing.B) {
			b.ReportAllocs()
			db, err := OpenTemp(nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			for range b.N {
				b.ReportMetric(backfillBytes(b, db, w.open), "heap-bytes/sample")
			}
		})
	}
}

func backfillBytes(b *testing.B, db *DB, open func(*testing.B, *DB) (storage.Appendable, func())) float64 {
	const series, samples = 1000, 2 * 1440
	ls := make([]labels.Labels, series)
	for i := range ls {
		ls[i] = labels.FromStrings(labels.MetricName, "augur_forecast", "host", "web-"+strconv.Itoa(i), "signal", "cpu")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := int64(1_700_000_000_000)
	h0 := heapInUse()
	app, done := open(b, db)
	for _, l := range ls {
		a := app.Appender(context.Background())
		var ref storage.SeriesRef
		for m := range samples {
			var err error
			if ref, err = a.Append(ref, l, base+int64(m)*60000, 50+rng.NormFloat64()); err != nil {
				b.Fatal(err)
			}
		}
		if err := a.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	h1 := heapInUse()
	runtime.KeepAlive(app)
	done()
	return (float64(h1) - float64(h0)) / (series * samples)
}
