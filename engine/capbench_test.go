package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// BenchmarkCapacity30d times one series' capacity plan against its limit
// over 30 days at a one-minute step (43,200 steps), what
// /api/v1/capacity?horizon=30d computes for every limited series.
func BenchmarkCapacity30d(b *testing.B) {
	b.ReportAllocs()
	step, history := time.Minute, 14*day
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	start := now.Add(-history).UnixMilli()
	src := &leakSource{start: start, step: step.Milliseconds()}
	rng := rand.New(rand.NewPCG(1, 2))
	e := 0.0
	for i := range int(history/step) + 1 {
		tod := float64((start+int64(i)*step.Milliseconds())%day.Milliseconds()) / float64(day.Milliseconds())
		e = 0.8*e + rng.NormFloat64()
		src.values = append(src.values, 50+float64(i)/1440+5*math.Sin(2*math.Pi*tod)+e)
	}
	eng, err := New(Options{
		Signals: []Signal{{Name: "memory", SourceName: "test", Source: src, Query: "memory", Entity: "host", Limit: 100}},
		Step:    step, History: history, Horizon: time.Hour, Now: func() time.Time { return now },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	eng.Evaluate(context.Background())
	b.ResetTimer()
	for range b.N {
		if _, _, err := eng.Capacity(CapacityQuery{Horizon: 30 * day}); err != nil {
			b.Fatal(err)
		}
	}
}

// fleetPlans returns the capacity plans of the first n series of a demo
// fleet (cpu, memory and connections of n/3 hosts, 14 days at five
// minutes), each with its regime model fitted, as an evaluation takes
// them; the recent trends are left out (they join only series that can
// cross within hours, few in a fleet, and are answered first).
func fleetPlans(n int) ([]capacityPlan, error) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	step := 5 * time.Minute
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Hosts: (n + 2) / 3, Start: now, History: 14 * day, Clock: func() time.Time { return now }})
	var plans []capacityPlan
	var rf model.RegimeFitter
	ys := []float64{}
	for _, metric := range []string{"cpu", "memory", "connections"} {
		err := demo.Each(context.Background(), metric, now.Add(-14*day), now, step, func(s ingest.Series) error {
			if len(plans) >= n {
				return nil
			}
			ys = ys[:0]
			for _, x := range s.Samples {
				ys = append(ys, x.V)
			}
			last := s.Samples[len(s.Samples)-1]
			m, err := rf.Fit(ys, last.T, step.Milliseconds())
			if err != nil {
				return err
			}
			s.Labels["signal"] = metric
			p := capacityPlan{key: LabelsKey(s.Labels), labels: s.Labels, limit: 100, t: last.T, lastT: last.T, first: s.Samples[0].T, v: last.V, regime: m}
			p.level, _, _ = m.Level(last.T, 0)
			p.growthPerDay, _ = m.GrowthPerDay()
			plans = append(plans, p)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(plans, func(a, b capacityPlan) int { return strings.Compare(a.key, b.key) })
	return plans, nil
}

// fleet10k is fleetPlans(10,000), made once: the benchmark function runs
// once per b.N it tries.
var fleet10k = sync.OnceValues(func() ([]capacityPlan, error) { return fleetPlans(10_000) })

// BenchmarkCapacityFleet answers capacity queries over the plans of
// 10,000 demo series (fleetPlans), as Engine.Capacity does from the
// published State, outside any lock: issue 12's
// /api/v1/capacity?threshold=90&sort=eta&limit=20&horizon=30d, and the
// State's own plans at the failure horizon (each series' limit within an hour, for the
// CapacityExhaustion rule). It reports the cost per series and the CPU
// time per request (getrusage), which a loaded machine inflates less than
// the wall time.
func BenchmarkCapacityFleet(b *testing.B) {
	plans, err := fleet10k()
	if err != nil {
		b.Fatal(err)
	}
	g := capacityGrid((5 * time.Minute).Milliseconds(), 12)
	for _, c := range []struct {
		name string
		q    CapacityQuery
	}{
		{"threshold=90,sort=eta,limit=20,horizon=30d", CapacityQuery{Threshold: &Threshold{Value: 90}, Horizon: 30 * day, SortByETA: true, Limit: 20}},
		{"sort=eta,limit=20,horizon=30d", CapacityQuery{Horizon: 30 * day, SortByETA: true, Limit: 20}},
		{"limit,horizon=1h", CapacityQuery{Horizon: time.Hour}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cpuNow()
			for b.Loop() {
				capacity(plans, c.q, g)
			}
			cpu := float64(cpuNow()-cpu0) / float64(b.N)
			b.ReportMetric(cpu, "cpu-ns/op")
			b.ReportMetric(cpu/float64(len(plans)), "cpu-ns/series")
		})
	}
	// The State's times to limit within DefaultCapacityHorizon computed for
	// every series, as the first evaluation does (the next ones compute a
	// tenth of them, see etaRefresh).
	b.Run("timesToLimit", func(b *testing.B) {
		b.ReportAllocs()
		st := &State{At: time.UnixMilli(plans[0].t), Series: make([]SeriesState, len(plans)), plans: plans}
		for i, p := range plans {
			st.Series[i].key = p.key
		}
		cpu0 := cpuNow()
		for b.Loop() {
			timesToLimit(st, emptyState, g, 0)
		}
		cpu := float64(cpuNow()-cpu0) / float64(b.N)
		b.ReportMetric(cpu, "cpu-ns/op")
		b.ReportMetric(cpu/float64(len(plans)), "cpu-ns/series")
	})
}

// BenchmarkCapacityEngine answers bench/scale.sh's capacity request,
// /api/v1/capacity?sort=eta&limit=20&horizon=30d (each series against
// its own limit), with a matcher and against a threshold, from the State
// of an engine on 1k and 10k demo series at one minute, whose plans carry
// the recent trends fleetPlans leaves out, once the State is indexed.
// index is the cost of the State's capacity index, computed once after
// each evaluation (newCapacityIndex).
func BenchmarkCapacityEngine(b *testing.B) {
	for _, hosts := range []int{333, 3333} {
		fx := newEvalFixture(b, hosts)
		waitIndexed(b, fx.e)
		n := len(fx.e.State().Series)
		for _, c := range []struct {
			name string
			q    CapacityQuery
		}{
			{"sort=eta,limit=20,horizon=30d", CapacityQuery{Horizon: 30 * day, SortByETA: true, Limit: 20}},
			{"match=memory,sort=eta,limit=20,horizon=30d", CapacityQuery{Match: func(l map[string]string) bool { return l["signal"] == "memory" }, Horizon: 30 * day, SortByETA: true, Limit: 20}},
			{"sort=eta,limit=20", CapacityQuery{Horizon: DefaultCapacityHorizon, SortByETA: true, Limit: 20}},
			{"threshold=90,sort=eta,limit=20,horizon=30d", CapacityQuery{Threshold: &Threshold{Value: 90}, Horizon: 30 * day, SortByETA: true, Limit: 20}},
		} {
			b.Run(fmt.Sprintf("series=%d/%s", n, c.name), func(b *testing.B) {
				b.ReportAllocs()
				cpu0 := cpuNow()
				for b.Loop() {
					if _, _, err := fx.e.Capacity(c.q); err != nil {
						b.Fatal(err)
					}
				}
				cpu := float64(cpuNow()-cpu0) / float64(b.N)
				b.ReportMetric(cpu, "cpu-ns/op")
				b.ReportMetric(cpu/float64(n), "cpu-ns/series")
			})
		}
		benchIndex(b, fx.e, n)
		fx.close()
	}
}
