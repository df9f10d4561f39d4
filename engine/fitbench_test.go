package engine

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// refitFleet returns an engine over a demo fleet of hosts × 3 series with a
// fortnight of one-minute history, fitted once, its history compacted out
// of the TSDB's head into blocks as the TSDB does in the background.
func refitFleet(b *testing.B, hosts int) *Engine {
	anchor := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Hosts: hosts, Start: anchor, History: 14 * day, Clock: func() time.Time { return anchor }})
	sigs := fleetSignals(demo)
	db, err := history.Open(b.TempDir(), history.Options{OutOfOrderWindow: 2 * day})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	e, err := New(Options{Signals: sigs, Step: time.Minute, History: 14 * day, Horizon: time.Hour, Now: demo.Now, Store: db, FitConcurrency: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	e.Evaluate(context.Background())
	if err := db.Compact(context.Background()); err != nil {
		b.Fatal(err)
	}
	return e
}

// cpuNow is the process' CPU time (user and system), which other load on
// a shared machine inflates less than the wall time.
func cpuNow() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// BenchmarkRefit times the engine's refit of every series of a demo fleet
// (8 hosts, 24 series of a fortnight at one minute) on one worker: the
// read of each series' history from the TSDB, the model fits, and their
// installation. cpu-ms/series is the process CPU time per series. A refit
// is a full one for a 24th of the series (see fullRefitEvery): its cost
// varies from round to round, which BenchmarkRefitCycle averages.
func BenchmarkRefit(b *testing.B) { benchRefits(b, 1) }

// BenchmarkRefitCycle times BenchmarkRefit's refits over a day of hourly
// refits (reselectEvery rounds), in which each series gets its full refit
// once: cpu-ms/series is the process CPU time per series and round, what
// an hourly refit costs on average.
func BenchmarkRefitCycle(b *testing.B) { benchRefits(b, reselectEvery) }

// benchRefits times rounds refits of refitFleet's series per iteration.
func benchRefits(b *testing.B, rounds int) {
	e := refitFleet(b, 8)
	ctx := context.Background()
	n := len(e.State().Series)
	b.ReportAllocs()
	c0 := cpuNow()
	for b.Loop() {
		for range rounds {
			e.startRefit(ctx, true, false)
			e.installFits(ctx)
		}
	}
	b.ReportMetric(float64(cpuNow()-c0)/float64(time.Millisecond)/float64(b.N*rounds*n), "cpu-ms/series")
}

// BenchmarkRefitParts splits BenchmarkRefit's cost per series: the read of
// the history from the TSDB and the model fits on it.
func BenchmarkRefitParts(b *testing.B) {
	e := refitFleet(b, 8)
	ctx := context.Background()
	var jobs []job
	for _, s := range e.selectSeries(nil) {
		jobs = append(jobs, job{s: s, labels: s.refs.labels[0]})
	}
	var ts []int64
	var ys []float64
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		c0 := cpuNow()
		for b.Loop() {
			for _, j := range jobs {
				var err error
				if ts, ys, err = e.readHistory(ctx, ts[:0], ys[:0], j.labels); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(cpuNow()-c0)/float64(time.Millisecond)/float64(b.N*len(jobs)), "cpu-ms/series")
	})
	hist := make([][]float64, len(jobs))
	var t0 []int64
	for i, j := range jobs {
		var err error
		if t0, hist[i], err = e.readHistory(ctx, nil, nil, j.labels); err != nil {
			b.Fatal(err)
		}
	}
	// The fit with the full selection, and the refit of the chosen kind
	// that the refits between reselections run.
	for _, keep := range []bool{false, true} {
		name := "select"
		if keep {
			name = "keep"
		}
		b.Run("fit/"+name, func(b *testing.B) {
			var rf model.RegimeFitter
			b.ReportAllocs()
			c0 := cpuNow()
			for b.Loop() {
				for i, j := range jobs {
					m := ""
					if keep {
						m = j.s.sel.Model
					}
					if _, err := fitSeries(&rf, t0, hist[i], e.step, e.horizon, m); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(cpuNow()-c0)/float64(time.Millisecond)/float64(b.N*len(jobs)), "cpu-ms/series")
		})
	}
}
