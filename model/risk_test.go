package model

import (
	"math"
	"testing"
)

func TestCrossingCurve(t *testing.T) {
	mean := []float64{90, 95, 100, 105, 100}
	sd := []float64{5, 5, 5, 5, 5}
	got := CrossingCurve(nil, mean, sd, 100)
	// P(N(90,5) >= 100) = 1-Φ(2) = 0.02275 (R: pnorm(2, lower.tail=FALSE)).
	want := []float64{0.0227501319, 0.1586552539, 0.5, 0.8413447461, 0.8413447461}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Errorf("F[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	for i := 1; i < len(got); i++ {
		if got[i] < got[i-1] {
			t.Fatalf("curve not monotone at %d: %v", i, got)
		}
	}
	det := CrossingCurve(nil, []float64{1, 2, 3}, []float64{0, 0, 0}, 2)
	if det[0] != 0 || det[1] != 1 || det[2] != 1 {
		t.Errorf("deterministic curve = %v", det)
	}
}

func TestETA(t *testing.T) {
	curve := []float64{0, 0.2, 0.6, 1}
	cases := []struct {
		q    float64
		want float64
		ok   bool
	}{
		{0.1, 1.5, true}, // halfway between step 1 (0) and step 2 (0.2)
		{0.2, 2, true},
		{0.4, 2.5, true},
		{1, 4, true},
	}
	for _, c := range cases {
		got, ok := ETA(curve, c.q)
		if ok != c.ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("ETA(%v) = %v,%v want %v,%v", c.q, got, ok, c.want, c.ok)
		}
	}
	if _, ok := ETA([]float64{0.1, 0.2}, 0.5); ok {
		t.Error("quantile beyond the curve must not be ok")
	}
}

func TestAnyOfAndPrior(t *testing.T) {
	if got := AnyOf(0.5, 0.5); math.Abs(got-0.75) > 1e-12 {
		t.Errorf("AnyOf = %v", got)
	}
	one := AnomalyPrior([]float64{0.999})
	two := AnomalyPrior([]float64{0.999, 0.999})
	if !(two > one && one > 0 && two < 1) {
		t.Errorf("two anomalous signals (%v) must mean more than one (%v)", two, one)
	}
	if p := AnomalyPrior([]float64{1}); p >= 0.8 {
		t.Errorf("a single signal alone must stay below the default threshold, got %v", p)
	}
	if p := AnomalyPrior([]float64{0.95, 0.95, 0.95}); p > 0.01 {
		t.Errorf("moderate scores give %v, want small", p)
	}
	if p := AnomalyPrior([]float64{math.NaN(), -1, 2}); p < 0 || p > 1 {
		t.Errorf("out of range inputs give %v", p)
	}
}

// TestEntityAnomalyPrior checks that the entity's multivariate score counts
// as EntityWeight signals of that score, and that an extreme entity alone
// stays below the default alert threshold (0.8).
func TestEntityAnomalyPrior(t *testing.T) {
	f := func(scores []float64, entity float64) {
		t.Helper()
		withCopies := append(append([]float64(nil), scores...), entity, entity, entity)
		if got, want := EntityAnomalyPrior(scores, entity), AnomalyPrior(withCopies); math.Abs(got-want) > 1e-12 {
			t.Errorf("EntityAnomalyPrior(%v, %v) = %v, want %v", scores, entity, got, want)
		}
	}
	f(nil, 0.999)
	f([]float64{0.2, 0.999}, 0.9995)
	f([]float64{0.5}, 0)
	f([]float64{math.NaN()}, math.NaN())
	if p := EntityAnomalyPrior([]float64{0, 0, 0}, 1); !(p > 0.7 && p < 0.8) {
		t.Errorf("an extreme entity alone gives %v, want 1-0.65³ ≈ 0.73", p)
	}
}
