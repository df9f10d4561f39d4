package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRegimeDegenerate fits hourly series that exercise the edges: no
// noise at all, gaps, two days (no weekly cycle), a falling level. None may
// fail, and each answers what its line says, against threshold 90 over 60
// days.
func TestRegimeDegenerate(t *testing.T) {
	last, step := int64(1772323200000), int64(3600*1000)
	rng := rand.New(rand.NewPCG(1, 1))
	series := func(n int, f func(i int) float64) []float64 {
		y := make([]float64, n)
		for i := range y {
			y[i] = f(i)
		}
		return y
	}
	cases := []struct {
		name           string
		y              []float64
		growth, within float64 // growth per day and its tolerance
		maxP           float64 // P(cross within 60 days) at most
	}{
		{"constant", series(21*24, func(int) float64 { return 50 }), 0, 1e-9, 0},
		{"exact line", series(21*24, func(i int) float64 { return 50 + 0.02*float64(i) }), 0.48, 1e-9, 0},
		{"gaps", series(21*24, func(i int) float64 {
			if i%7 == 0 || (i > 100 && i < 200) {
				return math.NaN()
			}
			return 50 + rng.NormFloat64()
		}), 0, 0.5, 0.05},
		{"two days", series(2*24, func(i int) float64 { return 50 + 0.1*float64(i) + rng.NormFloat64() }), 2.4, 2, 1},
		{"falling", series(21*24, func(i int) float64 { return 80 - 0.05*float64(i) + rng.NormFloat64() }), -1.2, 0.3, 0.01},
	}
	for _, c := range cases {
		m, err := FitRegimeTrend(c.y, last, step)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		var o Outlook
		m.OutlookInto(&o, 90, last, Grid{Step: step}, 60*24)
		if g, _ := m.GrowthPerDay(); math.Abs(g-c.growth) > c.within {
			t.Errorf("%s: growth %.4g per day, want %.4g ± %.2g", c.name, g, c.growth, c.within)
		}
		if p := o.Prob(60 * msPerDay); p > c.maxP {
			t.Errorf("%s: P(cross 90 within 60 days) %.3f, want <= %.2f", c.name, p, c.maxP)
		}
	}
}
