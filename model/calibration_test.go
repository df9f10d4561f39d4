package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFitCalibratorRecoversMapping draws outcomes from a known mapping of
// the evidence and checks the fit recovers it and is calibrated.
func TestFitCalibratorRecoversMapping(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	truth := Calibrator{A: -1.5, B: 0.8, C: 0.2, N: 1}
	n := 30000
	cross, anom := make([]float64, n), make([]float64, n)
	y := make([]bool, n)
	for i := range cross {
		cross[i], anom[i] = rng.Float64(), rng.Float64()
		y[i] = rng.Float64() < truth.Apply(cross[i], anom[i])
	}
	c, err := FitCalibrator(cross, anom, y, 1e-3, 10)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.A-truth.A) > 0.1 || math.Abs(c.B-truth.B) > 0.05 || math.Abs(c.C-truth.C) > 0.05 {
		t.Errorf("fit %+v, want %+v", c, truth)
	}
	// Reliability: in each decile of calibrated probability, the observed
	// frequency is within three binomial standard errors of the mean prediction.
	var sumP, sumY [10]float64
	var cnt [10]int
	for i := range cross {
		p := c.Apply(cross[i], anom[i])
		b := min(int(p*10), 9)
		sumP[b] += p
		cnt[b]++
		if y[i] {
			sumY[b]++
		}
	}
	for b := range cnt {
		if cnt[b] < 500 {
			continue
		}
		mp := sumP[b] / float64(cnt[b])
		if d := math.Abs(mp - sumY[b]/float64(cnt[b])); d > 3*math.Sqrt(mp*(1-mp)/float64(cnt[b])) {
			t.Errorf("bin %d: predicted %.3f, observed %.3f", b, mp, sumY[b]/float64(cnt[b]))
		}
	}
}

func TestFitCalibratorPriorAndErrors(t *testing.T) {
	if _, err := FitCalibrator([]float64{0.1, 0.9}, []float64{0, 0}, []bool{false, true}, 1, 2); err != ErrFewIncidents {
		t.Errorf("want ErrFewIncidents, got %v", err)
	}
	if _, err := FitCalibrator([]float64{0.1}, []float64{0.1}, []bool{false, true}, 1, 0); err == nil {
		t.Error("want an error on length mismatch")
	}
	// A strong prior keeps (0, 1, 1) when the data are few.
	c, err := FitCalibrator([]float64{0.9, 0.2, 0.3}, []float64{0.1, 0.1, 0.5}, []bool{true, false, false}, 1e6, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.A) > 1e-3 || math.Abs(c.B-1) > 1e-3 || math.Abs(c.C-1) > 1e-3 {
		t.Errorf("strong prior: got %+v, want (0, 1, 1)", c)
	}
	var prior Calibrator
	if got := prior.Apply(0.5, 0.5); math.Abs(got-0.75) > 1e-12 {
		t.Errorf("prior Apply(0.5, 0.5) = %v, want AnyOf = 0.75", got)
	}
	if got := c.Apply(math.NaN(), math.NaN()); got < 0 || got > 1 {
		t.Errorf("NaN evidence gives %v", got)
	}
}
