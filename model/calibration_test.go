package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFitCalibratorRecoversMapping draws outcomes from a known Platt mapping
// of the raw scores and checks the fit recovers it and is calibrated.
func TestFitCalibratorRecoversMapping(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	truth := Calibrator{A: -1.5, B: 0.6}
	n := 20000
	raw := make([]float64, n)
	y := make([]bool, n)
	for i := range raw {
		raw[i] = rng.Float64()
		y[i] = rng.Float64() < truth.Apply(raw[i])
	}
	c, err := FitCalibrator(raw, y, 1e-3, 10)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.A-truth.A) > 0.1 || math.Abs(c.B-truth.B) > 0.05 {
		t.Errorf("fit %+v, want %+v", c, truth)
	}
	// Reliability: in each decile of calibrated probability, the observed
	// frequency is close to the mean prediction.
	var sumP, sumY [10]float64
	var cnt [10]int
	for i := range raw {
		p := c.Apply(raw[i])
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
		// Three binomial standard errors.
		if d := math.Abs(mp - sumY[b]/float64(cnt[b])); d > 3*math.Sqrt(mp*(1-mp)/float64(cnt[b])) {
			t.Errorf("bin %d: predicted %.3f, observed %.3f", b, sumP[b]/float64(cnt[b]), sumY[b]/float64(cnt[b]))
		}
	}
}

func TestFitCalibratorPriorAndErrors(t *testing.T) {
	if _, err := FitCalibrator([]float64{0.1, 0.9}, []bool{false, true}, 1, 2); err != ErrFewIncidents {
		t.Errorf("want ErrFewIncidents, got %v", err)
	}
	if _, err := FitCalibrator([]float64{0.1}, []bool{false, true}, 1, 0); err == nil {
		t.Error("want an error on length mismatch")
	}
	// A strong prior keeps the identity when the data are few.
	c, err := FitCalibrator([]float64{0.9, 0.2, 0.3}, []bool{true, false, false}, 1e6, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(c.A) > 1e-3 || math.Abs(c.B-1) > 1e-3 {
		t.Errorf("strong prior: got %+v, want identity", c)
	}
	id := IdentityCalibrator()
	for _, p := range []float64{0.01, 0.5, 0.99} {
		if math.Abs(id.Apply(p)-p) > 1e-9 {
			t.Errorf("identity(%v) = %v", p, id.Apply(p))
		}
	}
	if id.Apply(math.NaN()) != 0 {
		t.Error("NaN raw must map to 0")
	}
}
