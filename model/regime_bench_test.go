package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/augur-sre/augur/internal/plant"
)

// BenchmarkRegimeFit fits one plant.LeakAfterQuiet host's 21 days as hourly and
// 15-minute means, and 90 days of hourly means (a leak on a daily cycle
// with AR(1) noise, 2160 points).
func BenchmarkRegimeFit(b *testing.B) {
	p := plant.LeakAfterQuiet(rand.New(rand.NewPCG(3, 14)))
	rng := rand.New(rand.NewPCG(3, 15))
	long := make([]float64, 90*24)
	e := 0.0
	for i := range long {
		e = 0.5*e + rng.NormFloat64()
		long[i] = 40 + 1.5*math.Max(float64(i-80*24)/24, 0) + 5*math.Sin(2*math.Pi*float64(i)/24) + e
	}
	for _, c := range []struct {
		name string
		k    int
		y    []float64
	}{{"hourly", 12, nil}, {"15min", 3, nil}, {"hourly-90d", 12, long}} {
		b.Run(c.name, func(b *testing.B) {
			y, last := aggregate(p.Values, p.Now, raw, c.k)
			if c.y != nil {
				y = c.y
			}
			var f RegimeFitter
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.Fit(y, last, int64(c.k)*raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRegimeOutlook computes the crossing curve of 90 over 60 days at
// the hourly model's step.
func BenchmarkRegimeOutlook(b *testing.B) {
	p := plant.LeakAfterQuiet(rand.New(rand.NewPCG(3, 14)))
	y, last := aggregate(p.Values, p.Now, raw, 12)
	m, err := FitRegimeTrend(y, last, 12*raw)
	if err != nil {
		b.Fatal(err)
	}
	var o Outlook
	b.ReportAllocs()
	for b.Loop() {
		m.OutlookInto(&o, 90, p.Now, Grid{Step: 12 * raw}, 60*24)
	}
	b.ReportMetric(float64(len(m.comps)), "components")
}
