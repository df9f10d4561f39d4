package engine

import (
	"context"
	"math"
	"os"
	"testing"
	"time"

	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/ingest"
)

// BenchmarkEvaluation times one evaluation cycle of augur serve's engine
// on demo fleets (hosts × cpu, memory, connections against max_connections,
// three days of one-minute history, capacity plans on): the fetch of the
// newest minute, the models' update, the TSDB appends, every entity's
// failure probability and every limited series' capacity, and the State.
// Each iteration moves the demo's clock on by one step; no refit falls due.
// The fleet is built and fitted once per size, outside the timings.
// bench/scale.sh measures the same cycle in a whole process.
func BenchmarkEvaluation(b *testing.B) {
	for _, bc := range []struct {
		name  string
		hosts int
	}{{"series=1k", 333}, {"series=10k", 3333}} {
		var fx *evalFixture
		b.Run(bc.name, func(b *testing.B) {
			if fx == nil {
				fx = newEvalFixture(b, bc.hosts)
			}
			b.ReportAllocs()
			cpu0 := cpuNow()
			b.ResetTimer()
			for range b.N {
				fx.now = fx.now.Add(time.Minute)
				fx.e.Evaluate(context.Background())
			}
			b.StopTimer()
			n := float64(b.N * len(fx.e.State().Series))
			b.ReportMetric(float64(b.Elapsed().Microseconds())/n, "µs/series")
			// On a shared machine the wall time says as much about the
			// other processes as about this one: the CPU time the
			// process spent (every goroutine, the TSDB's too) does not.
			b.ReportMetric(float64((cpuNow()-cpu0).Microseconds())/n, "cpu-µs/series")
		})
		if fx != nil {
			fx.close()
		}
	}
}

// evalFixture is an engine on a demo fleet whose clock the benchmark moves.
type evalFixture struct {
	now   time.Time
	e     *Engine
	close func()
}

func newEvalFixture(b testing.TB, hosts int) *evalFixture {
	fx := &evalFixture{now: demoAnchor}
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Hosts: hosts, Start: demoAnchor, History: 3 * day, Clock: func() time.Time { return fx.now }})
	var sigs []Signal
	for _, name := range []string{"cpu", "memory", "connections"} {
		s := Signal{Name: name, SourceName: "demo", Source: demo, Query: name, Entity: "host", Limit: 100}
		if name == "connections" {
			s.Limit, s.LimitQuery = math.NaN(), "max_connections"
		}
		sigs = append(sigs, s)
	}
	// The fixture outlives the first run of the benchmark, whose
	// TempDir goes with it.
	dir, err := os.MkdirTemp("", "augur-evalbench-")
	if err != nil {
		b.Fatal(err)
	}
	db, err := history.Open(dir, history.Options{OutOfOrderWindow: 3 * day})
	if err != nil {
		b.Fatal(err)
	}
	e, err := New(Options{
		Signals: sigs, Step: time.Minute, History: 3 * day, Horizon: time.Hour, RefitInterval: 1000 * time.Hour,
		Now: demo.Now, Store: db, Capacity: true, Incidents: demo,
	})
	if err != nil {
		b.Fatal(err)
	}
	e.Evaluate(context.Background())
	if !e.State().Ready {
		b.Fatal("not ready after the first evaluation")
	}
	// The history the first fetch wrote is compacted out of the head
	// before the timings, as the TSDB does in the background within
	// minutes of a first start.
	if err := db.Compact(context.Background()); err != nil {
		b.Fatal(err)
	}
	fx.e = e
	fx.close = func() {
		e.Close()
		db.Close()
		os.RemoveAll(dir)
	}
	return fx
}
