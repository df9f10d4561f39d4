package engine

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"
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
		if _, _, err := eng.Capacity(nil, nil, 30*day); err != nil {
			b.Fatal(err)
		}
	}
}
