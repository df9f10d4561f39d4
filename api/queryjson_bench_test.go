package api

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
)

// BenchmarkQueryRangeJSON encodes the answer of bench/scale.sh's Grafana
// panel at 1k series, max by (host) (augur_anomaly_score) over 24 h at a
// one-minute step: 333 hosts × 1,441 points, the scores on the engine's
// 2^-20 grid.
func BenchmarkQueryRangeJSON(b *testing.B) {
	const start = int64(1773144000_000)
	m := make(promql.Matrix, 333)
	for i := range m {
		m[i].Metric = labels.FromStrings("host", fmt.Sprintf("host-%05d", i))
		for j := range 1441 {
			v := float64((i*7919+j*104729)%(1<<22)) / (1 << 20)
			m[i].Floats = append(m[i].Floats, promql.FPoint{T: start + int64(j)*60_000, F: v})
		}
	}
	w := bufio.NewWriterSize(io.Discard, 32<<10)
	b.ReportAllocs()
	for b.Loop() {
		queryResult{v: m}.writeJSON(w)
	}
}

func TestAppendTime(t *testing.T) {
	for _, ms := range []int64{0, 1, 10, 100, 999, 1000, 1500, 1010, 1773144000_000, 1773144000_123, -1, -1500, -62135596800_000, 253402300799_999, 1 << 52, -(1 << 52)} {
		want := strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64)
		if got := appendTime(nil, ms); string(got) != string(want) {
			t.Errorf("appendTime(%d) = %s, want %s", ms, got, want)
		}
	}
}
