package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFitLinearTrend(t *testing.T) {
	// y = 2 + 0.5 x for x = -4..0, with one missing point. Reference by hand:
	// a perfect line has zero residuals.
	m, err := FitLinearTrend([]float64{0, 0.5, math.NaN(), 1.5, 2})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.Level-2) > 1e-12 || math.Abs(m.Slope-0.5) > 1e-12 || m.Sigma > 1e-12 || m.N != 4 {
		t.Errorf("got %+v", m)
	}
	if mean, _ := m.MeanSD(4); math.Abs(mean-4) > 1e-12 {
		t.Errorf("mean at h=4: %v", mean)
	}
	if _, err := FitLinearTrend([]float64{1, math.NaN()}); err != ErrTooFewPoints {
		t.Errorf("want ErrTooFewPoints, got %v", err)
	}
}

// TestLinearTrendCoverage checks the 95 % prediction interval covers about
// 95 % of future points of a noisy line, and widens with h.
func TestLinearTrendCoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const trials, n, h = 4000, 60, 30
	in := 0
	y := make([]float64, n)
	for range trials {
		for i := range y {
			y[i] = 10 + 0.2*float64(i) + rng.NormFloat64()
		}
		m, err := FitLinearTrend(y)
		if err != nil {
			t.Fatal(err)
		}
		truth := 10 + 0.2*float64(n-1+h) + rng.NormFloat64()
		mean, sd := m.MeanSD(h)
		if math.Abs(truth-mean) <= 1.959964*sd {
			in++
		}
		if _, sd1 := m.MeanSD(1); sd1 >= sd {
			t.Fatalf("interval must widen with h: sd(1)=%v sd(%d)=%v", sd1, h, sd)
		}
	}
	if cov := float64(in) / trials; cov < 0.93 || cov > 0.97 {
		t.Errorf("coverage %.3f, want about 0.95", cov)
	}
}

// TestLinearTrendAutocorrelated checks the interval of the level h steps
// ahead still covers about 95 % when the errors are AR(1) with φ = 0.9,
// where the classical formula would be overconfident.
func TestLinearTrendAutocorrelated(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const trials, n, h, phi = 3000, 200, 100, 0.9
	in := 0
	y := make([]float64, n+h)
	for range trials {
		e := 0.0
		for i := range y {
			e = phi*e + rng.NormFloat64()
			y[i] = 0.05*float64(i) + e
		}
		m, err := FitLinearTrend(y[:n])
		if err != nil {
			t.Fatal(err)
		}
		// The trend line itself is the target: the AR error at n-1+h is
		// part of the noise term.
		mean, sd := m.MeanSD(h)
		if math.Abs(y[n-1+h]-mean) <= 1.959964*sd {
			in++
		}
	}
	if cov := float64(in) / trials; cov < 0.90 || cov > 0.995 {
		t.Errorf("coverage %.3f with AR(1) errors, want near 0.95", cov)
	}
}
