package engine

import (
	"context"
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/augur-sre/augur/history"
)

// chunkBytes returns, per metric name, the bytes of the TSDB's encoded
// chunks and their samples: what a block stores per sample, before its
// index.
func chunkBytes(t testing.TB, db *history.DB) (bytes, samples map[string]int) {
	t.Helper()
	q, err := db.ChunkQuerier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	bytes, samples = map[string]int{}, map[string]int{}
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, "augur_.+"))
	for ss.Next() {
		name := ss.At().Labels().Get(labels.MetricName)
		it := ss.At().Iterator(nil)
		for it.Next() {
			c := it.At().Chunk
			bytes[name] += len(c.Bytes())
			samples[name] += c.NumSamples()
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return bytes, samples
}

// BenchmarkTSDBBytesPerSample reports the encoded chunk bytes per sample
// of the demo's three days of input and last day of outputs, per metric
// and in all (the target is 2 bytes per sample on disk).
func BenchmarkTSDBBytesPerSample(b *testing.B) {
	b.ReportAllocs()
	var bytes, samples map[string]int
	for b.Loop() {
		db, err := history.OpenTemp(nil)
		if err != nil {
			b.Fatal(err)
		}
		e := newDemoEngine(b, "cpu memory connections", Options{Store: db})
		e.Evaluate(context.Background())
		bytes, samples = chunkBytes(b, db)
		e.Close()
		db.Close()
	}
	var tb, ts int
	for name, n := range samples {
		b.ReportMetric(float64(bytes[name])/float64(n), name+"_B/sample")
		tb, ts = tb+bytes[name], ts+n
	}
	b.ReportMetric(float64(tb)/float64(ts), "B/sample")
}
