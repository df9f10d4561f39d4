package query

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// runRangeQuery runs the query newQuery makes and returns the samples of
// its matrix.
func runRangeQuery(b *testing.B, newQuery func() (promql.Query, error)) int {
	q, err := newQuery()
	if err != nil {
		b.Fatal(err)
	}
	defer q.Close()
	r := q.Exec(context.Background())
	if r.Err != nil {
		b.Fatal(r.Err)
	}
	m, _ := r.Matrix()
	samples := 0
	for _, s := range m {
		samples += len(s.Floats)
	}
	return samples
}

// BenchmarkRangeQuery is a Grafana panel over a day at a one-minute step
// on 200 series (288,200 samples returned).
func BenchmarkRangeQuery(b *testing.B) {
	var load strings.Builder
	load.WriteString("load 1m\n")
	for i := range 200 {
		fmt.Fprintf(&load, "\taugur_input{host=\"h%d\",signal=\"cpu\"} 0+1x1440\n", i)
	}
	e := New(Options{Storage: promqltest.LoadedStorage(b, load.String())})
	end := time.Unix(0, 0).Add(24 * time.Hour)
	for _, query := range []string{`augur_input`, `max by (host) (augur_input)`, `rate(augur_input[5m])`} {
		b.Run(query, func(b *testing.B) {
			b.ReportAllocs()
			samples := 0
			for b.Loop() {
				samples = runRangeQuery(b, func() (promql.Query, error) {
					return e.NewRangeQuery(context.Background(), query, time.Unix(0, 0), end, time.Minute)
				})
			}
			b.ReportMetric(float64(samples), "samples")
		})
	}
}

// BenchmarkLongIncidents is issue 16 item 6: 60 incidents 690 days long,
// read over 700 days at a 2-hour step.
func BenchmarkLongIncidents(b *testing.B) {
	end := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	var incs staticIncidents
	for i := range 60 {
		incs = append(incs, Incident{Labels: labels.FromStrings("host", fmt.Sprint("h", i), "alertname", "Down", "source", "alertmanager"), Start: end.Add(-690 * 24 * time.Hour), End: end})
	}
	e := New(Options{Incidents: incs})
	b.ReportAllocs()
	for b.Loop() {
		q, err := e.NewRangeQuery(context.Background(), `augur_incident`, end.Add(-700*24*time.Hour), end, 2*time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if r := q.Exec(context.Background()); r.Err != nil {
			b.Fatal(r.Err)
		}
		q.Close()
	}
}
