package query

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/augur-sre/augur/history"
)

// fleetTSDB writes what augur's TSDB holds of augur_anomaly_score for a
// demo fleet of hosts × 3 signals: a day and two hours at one minute,
// the day before the last two hours in a block (as a first start's
// backfill leaves it) and the last two hours in the head, the scores on
// the engine's 2^-20 grid. It returns the DB and the time of its newest
// sample.
func fleetTSDB(b *testing.B, hosts int) (*history.DB, time.Time) {
	b.Helper()
	db, err := history.OpenTemp(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	const step = int64(time.Minute / time.Millisecond)
	end := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC).UnixMilli()
	start, cut := end-26*60*step, end-2*60*step
	bf, err := db.NewBackfill()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	rnd := rand.New(rand.NewPCG(1, 2))
	write := func(app storage.Appender, from, to int64) {
		for h := range hosts {
			for _, signal := range [...]string{"cpu", "memory", "connections"} {
				l := labels.FromStrings(labels.MetricName, "augur_anomaly_score", "host", fmt.Sprintf("host-%05d", h), "signal", signal)
				var ref storage.SeriesRef
				for t := from; t < to; t += step {
					v := math.Round(math.Abs(rnd.NormFloat64())*(1<<20)) / (1 << 20)
					if ref, err = app.Append(ref, l, t, v); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	write(bf.Appender(ctx), start, cut)
	if err := bf.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	write(db.Appender(ctx), cut, end+step)
	return db, time.UnixMilli(end)
}

// BenchmarkFleetRangeQuery is bench/scale.sh's Grafana panel, max by (host)
// (augur_anomaly_score) over 24 h at a one-minute step, on 1,000 hosts ×
// 3 signals (4.3 M samples read, 1.4 M returned): through the bare TSDB
// with Prometheus' engine (the floor) and through augur's query Engine,
// which merges the forecasts, capacity plans and incidents in.
func BenchmarkFleetRangeQuery(b *testing.B) {
	db, end := fleetTSDB(b, 1000)
	opts := promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: DefaultLookbackDelta}
	bare := promql.NewEngine(opts)
	augur := New(Options{Storage: db, MaxSamples: opts.MaxSamples,
		Forecaster: linearForecaster{evaluated: end}, Incidents: staticIncidents{}})
	const qs = `max by (host) (augur_anomaly_score)`
	start := end.Add(-24 * time.Hour)
	for _, c := range []struct {
		name string
		new  func() (promql.Query, error)
	}{
		{"tsdb", func() (promql.Query, error) {
			return bare.NewRangeQuery(context.Background(), db, nil, qs, start, end, time.Minute)
		}},
		{"augur", func() (promql.Query, error) {
			return augur.NewRangeQuery(context.Background(), qs, start, end, time.Minute)
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			samples := 0
			cpu0 := cpuTime()
			for b.Loop() {
				samples = runRangeQuery(b, c.new)
			}
			b.ReportMetric(float64(samples), "samples")
			b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process' CPU time, user and system: on a machine shared
// with other work, what a query costs, where its wall time is what it waited.
func cpuTime() time.Duration {
	var r syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &r); err != nil {
		return 0
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
