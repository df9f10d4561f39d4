package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFitCalibratorIsCalibrated draws outcomes from a known, non-linear
// relation between evidence and failure and checks that the fitted map is
// monotone and calibrated: in each decile of calibrated probability the
// observed frequency is within three binomial standard errors of the mean
// prediction, on fresh data.
func TestFitCalibratorIsCalibrated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	truth := func(raw float64) float64 { return raw * raw * raw } // over-confident evidence
	draw := func(n int) (cross, anom []float64, y []bool) {
		for range n {
			c, a := rng.Float64(), 0.2*rng.Float64()
			cross, anom = append(cross, c), append(anom, a)
			y = append(y, rng.Float64() < truth(AnyOf(c, a)))
		}
		return
	}
	c, err := FitCalibratorArgs(draw(30000))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(c.Y); i++ {
		if c.Y[i] < c.Y[i-1] || c.X[i] <= c.X[i-1] {
			t.Fatalf("map not monotone at block %d: %v %v", i, c.X[i-1:i+1], c.Y[i-1:i+1])
		}
	}
	cross, anom, y := draw(30000)
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
		if cnt[b] < 300 {
			continue
		}
		mp := sumP[b] / float64(cnt[b])
		if d := math.Abs(mp - sumY[b]/float64(cnt[b])); d > 3*math.Sqrt(mp*(1-mp)/float64(cnt[b]))+0.01 {
			t.Errorf("bin %d: predicted %.3f, observed %.3f (%d)", b, mp, sumY[b]/float64(cnt[b]), cnt[b])
		}
	}
}

// FitCalibratorArgs fits with the engine's settings.
func FitCalibratorArgs(cross, anom []float64, y []bool) (Calibrator, error) {
	return FitCalibrator(cross, anom, y, 2, 10)
}

func TestFitCalibratorPriorAndErrors(t *testing.T) {
	if _, err := FitCalibrator([]float64{0.1, 0.9}, []float64{0, 0}, []bool{false, true}, 10, 2); err != ErrFewIncidents {
		t.Errorf("want ErrFewIncidents, got %v", err)
	}
	if _, err := FitCalibrator([]float64{0.1}, []float64{0.1}, []bool{false, true}, 10, 0); err == nil {
		t.Error("want an error on length mismatch")
	}
	// Few examples pool into one block, shrunk towards the raw evidence:
	// (1 positive + 2·0.467) / (3 + 2) = 0.387, not a certain 0.9 → 1.
	c, err := FitCalibrator([]float64{0.9, 0.2, 0.3}, []float64{0, 0, 0}, []bool{true, false, false}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Apply(0.9, 0); math.Abs(p-0.38667) > 1e-4 {
		t.Errorf("thin data: Apply(0.9) = %v, want 0.387", p)
	}
	var prior Calibrator
	if got := prior.Apply(0.5, 0.5); math.Abs(got-0.75) > 1e-12 {
		t.Errorf("prior Apply(0.5, 0.5) = %v, want AnyOf = 0.75", got)
	}
	if got := c.Apply(math.NaN(), math.NaN()); got < 0 || got > 1 {
		t.Errorf("NaN evidence gives %v", got)
	}
}
