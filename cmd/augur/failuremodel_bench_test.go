package main

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// demoFailureHistories is the demo fleet's fortnight before demoAnchor at
// its one-minute step: per host, cpu, memory and connections, and its
// scripted failures as incidents.
func demoFailureHistories(tb testing.TB) []model.FailureHistory {
	tb.Helper()
	ctx := context.Background()
	const history = 14 * 24 * time.Hour
	d := ingest.NewDemo(ingest.DemoOptions{Start: demoAnchor, History: history, Clock: func() time.Time { return demoAnchor }})
	start, end := demoAnchor.Add(-history), demoAnchor
	n := int(history/time.Minute) + 1
	metrics := []string{"cpu", "memory", "connections"}
	hosts := map[string]int{}
	var out []model.FailureHistory
	for m, name := range metrics {
		series, err := d.Range(ctx, name, start, end, time.Minute)
		if err != nil {
			tb.Fatal(err)
		}
		for _, s := range series {
			h, ok := hosts[s.Labels["host"]]
			if !ok {
				h = len(out)
				hosts[s.Labels["host"]] = h
				f := make([][]float64, n)
				for t := range f {
					f[t] = []float64{math.NaN(), math.NaN(), math.NaN()}
				}
				out = append(out, model.FailureHistory{Features: f})
			}
			for _, p := range s.Samples {
				if t := int((p.T - start.UnixMilli()) / time.Minute.Milliseconds()); t >= 0 && t < n {
					out[h].Features[t][m] = p.V
				}
			}
		}
	}
	incs, err := d.Incidents(ctx, start, end)
	if err != nil {
		tb.Fatal(err)
	}
	for _, inc := range incs {
		h, ok := hosts[inc.Entity]
		if !ok {
			continue
		}
		step := func(t time.Time) int { return int(t.Sub(start) / time.Minute) }
		out[h].Incidents = append(out[h].Incidents, model.StepSpan{Start: step(inc.Start), End: max(step(inc.End), step(inc.Start)+1)})
	}
	return out
}

// BenchmarkTrainFailureModelOnDemo trains the seed's LSTM (64/32 units,
// the defaults of model.FailureModelOptions) on the demo's fortnight, a
// one-hour horizon, and reports the held-out Brier scores of the model
// and of the training part's base rate.
func BenchmarkTrainFailureModelOnDemo(b *testing.B) {
	hist := demoFailureHistories(b)
	incidents := 0
	for _, h := range hist {
		incidents += len(h.Incidents)
	}
	b.ReportAllocs()
	var m *model.FailureModel
	for b.Loop() {
		var err error
		if m, err = model.TrainFailureModel(hist, model.FailureModelOptions{Horizon: 60}); err != nil {
			b.Fatalf("%d hosts, %d incidents: %v", len(hist), incidents, err)
		}
	}
	b.ReportMetric(m.Brier, "brier")
	b.ReportMetric(m.BaseRateBrier, "base-rate-brier")
	b.ReportMetric(float64(m.Incidents), "train-incidents")
	b.ReportMetric(float64(incidents), "incidents")
}
