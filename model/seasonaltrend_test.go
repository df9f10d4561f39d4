package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSeasonalTrendAutocorrelated fits a line plus a daily sine plus AR(1)
// noise (φ = 0.8, innovations N(0, 1)) over three days at five minutes. The
// noise's marginal variance and ρ come out unbiased (see ar1Errors; the
// residuals' plain sse/(n-p) and lag-one autocorrelation average 0.93 of
// the variance and 0.78 here), and the 80 % intervals of the slope and of
// the level a day ahead (LevelAt) cover about 80 %, slightly more on so
// short a span, where the large-sample inflation (1+ρ)/(1-ρ) is a little
// conservative.
func TestSeasonalTrendAutocorrelated(t *testing.T) {
	const trials, phi, days = 1000, 0.8, 3
	step := int64(5 * 60 * 1000)
	n := int(days * msPerDay / step)
	last := int64(1772323200000) + 37*step
	rng := rand.New(rand.NewPCG(11, 12))
	y := make([]float64, n)
	clean := func(i int) float64 { // i steps after the last point
		tod := float64(((last+int64(i)*step)%msPerDay+msPerDay)%msPerDay) / msPerDayF
		return 50 + 0.004*float64(i) + 5*math.Sin(2*math.Pi*tod)
	}
	var row [8]float64
	inSlope, inLevel := 0, 0
	rho, variance := 0.0, 0.0
	for range trials {
		e := rng.NormFloat64() / math.Sqrt(1-phi*phi)
		for i := range y {
			e = phi*e + rng.NormFloat64()
			y[i] = clean(i-(n-1)) + e
		}
		m, err := FitSeasonalTrend(y, last, step)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(m.Slope()-0.004) <= 1.281552*m.SlopeSE() {
			inSlope++
		}
		h := 288
		if mean, sd := m.LevelAt(row[:], h); math.Abs(mean-clean(h)) <= 1.281552*sd {
			inLevel++
		}
		rho += m.Rho
		variance += m.Sigma * m.Sigma * (1 - phi*phi)
	}
	if rho /= trials; math.Abs(rho-phi) > 0.005 {
		t.Errorf("mean ρ̂ %.4f, want %.1f", rho, phi)
	}
	if variance /= trials; math.Abs(variance-1) > 0.03 {
		t.Errorf("mean σ̂² / σ² %.3f, want 1", variance)
	}
	for name, in := range map[string]int{"slope": inSlope, "level a day ahead": inLevel} {
		if cov := float64(in) / trials; cov < 0.77 || cov > 0.86 {
			t.Errorf("80 %% interval of the %s covers %.3f, want about 0.80", name, cov)
		}
	}
	if _, err := FitSeasonalTrend(y[:100], last, step); err != ErrTooFewPoints {
		t.Errorf("less than a day: want ErrTooFewPoints, got %v", err)
	}
}

// TestDailyWalk checks the rotated harmonics against seasonalRow's direct
// sines and cosines over a fortnight, for steps that do and do not divide
// a day, and for points visited out of order (after skipped ones).
func TestDailyWalk(t *testing.T) {
	for _, step := range []int64{60_000, 7_000, 300_000, 86_400_000 + 1000} {
		first := int64(1772323200000) - 37*step
		w := newDailyWalk(first, step)
		var got [seasonalParams]float64
		want := make([]float64, seasonalParams)
		worst := 0.0
		for i := 0; i < 20160; i++ {
			if i%97 == 5 {
				continue // a missing point: the next row reseeds
			}
			w.row(&got, i, float64(i))
			seasonalRow(want, float64(i), first+int64(i)*step)
			for a := range want {
				worst = max(worst, math.Abs(got[a]-want[a]))
			}
		}
		if worst > 1e-12 {
			t.Errorf("step %d ms: rows differ from seasonalRow's by up to %g", step, worst)
		}
	}
}
