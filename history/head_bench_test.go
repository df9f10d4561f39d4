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

// BenchmarkHeadBytesPerSeries measures what one TSDB series costs in the
// head: 20,000 series of noisy values (as incompressible as a real gauge's)
// at one minute for 150 minutes, their full chunks m-mapped as the TSDB
// does every minute, against the heap before; per chunk size (the TSDB's
// SamplesPerChunk, 120 by default and in Open).
func BenchmarkHeadBytesPerSeries(b *testing.B) {
	for _, spc := range []int{120, 32} {
		b.Run("samples_per_chunk="+strconv.Itoa(spc), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.ReportMetric(headBytes(b, spc), "heap-bytes/series")
			}
		})
	}
}

func headBytes(b *testing.B, spc int) float64 {
	o := tsdb.DefaultOptions()
	o.SamplesPerChunk = spc
	o.IsolationDisabled = true
	o.WALCompression = "snappy"
	db, err := tsdb.Open(b.TempDir(), nil, nil, o, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.DisableCompactions()
	const n = 20000
	refs := make([]storage.SeriesRef, n)
	ls := make([]labels.Labels, n)
	for i := range ls {
		ls[i] = labels.FromStrings(labels.MetricName, "augur_forecast", "host", "web-"+strconv.Itoa(i), "role", "web", "signal", "cpu")
	}
	h0 := heapInUse()
	rng := rand.New(rand.NewPCG(1, 2))
	base := int64(1_700_000_000_000)
	for m := range 150 {
		a := db.Appender(context.Background())
		for i := range n {
			if refs[i], err = a.Append(refs[i], ls[i], base+int64(m)*60000, 50+rng.NormFloat64()); err != nil {
				b.Fatal(err)
			}
		}
		if err := a.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	db.ForceHeadMMap()
	h1 := heapInUse()
	runtime.KeepAlive(ls)
	return (float64(h1) - float64(h0)) / n
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
