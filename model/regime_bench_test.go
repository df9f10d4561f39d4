package model

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkRegimeFit fits one leakAfterQuiet host's 21 days as hourly and
// 15-minute means.
func BenchmarkRegimeFit(b *testing.B) {
	p := leakAfterQuiet(rand.New(rand.NewPCG(3, 14)))
	for _, c := range []struct {
		name string
		k    int
	}{{"hourly", 12}, {"15min", 3}} {
		b.Run(c.name, func(b *testing.B) {
			y, last := aggregate(p.values, p.now, raw, c.k)
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
	p := leakAfterQuiet(rand.New(rand.NewPCG(3, 14)))
	y, last := aggregate(p.values, p.now, raw, 12)
	m, err := FitRegimeTrend(y, last, 12*raw)
	if err != nil {
		b.Fatal(err)
	}
	var o Outlook
	b.ReportAllocs()
	for b.Loop() {
		m.OutlookInto(&o, 90, p.now, 12*raw, 60*24)
	}
	b.ReportMetric(float64(len(m.comps)), "components")
}
