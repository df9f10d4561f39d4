package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// TestARReproducesR checks FitAR with a negligible ridge against ordinary
// least squares from R's stats::lm on the same lags (testdata/gen_models.R).
func TestARReproducesR(t *testing.T) {
	var y []float64
	for _, r := range readCSV(t, filepath.Join("testdata", "ar_input.csv")) {
		y = append(y, parseFloat(t, r[0]))
	}
	want := map[string]float64{}
	for _, r := range readCSV(t, filepath.Join("testdata", "ar_coef.csv")) {
		want[r[0]] = parseFloat(t, r[1])
	}
	m, err := FitAR(y, AROptions{Lags: 3, Periods: []int{24}, Lambda: 1e-12})
	if err != nil {
		t.Fatal(err)
	}
	got := m.Params()
	for name, w := range want {
		if !approxEqual(got[name], w, 1e-6) {
			t.Errorf("%s = %.10g, R's lm %.10g", name, got[name], w)
		}
	}
	// The default ridge (1e-4 of the mean diagonal) barely moves them.
	r, err := FitAR(y, AROptions{Lags: 3, Periods: []int{24}})
	if err != nil {
		t.Fatal(err)
	}
	for name, w := range want {
		if name != "sigma" && name != "intercept" && math.Abs(r.Params()[name]-w) > 0.01 {
			t.Errorf("ridge %s = %.4g, far from OLS %.4g", name, r.Params()[name], w)
		}
	}
}

// simAR simulates y_t = 0.5 y_{t-1} + 0.4 y_{t-p} + ε_t, ε ~ N(0, 1), after a
// burn-in, so the true one-step σ is 1.
func simAR(n, p int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	burn := 10 * p
	y := make([]float64, n+burn)
	for t := p; t < len(y); t++ {
		y[t] = 0.5*y[t-1] + 0.4*y[t-p] + rng.NormFloat64()
	}
	return y[burn:]
}

func TestARProperties(t *testing.T) {
	y := simAR(3000, 24, 1)
	m, err := FitAR(y[:2000], AROptions{Lags: 2, Periods: []int{24}})
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Params(); math.Abs(c["lag1"]-0.5) > 0.08 || math.Abs(c["lag24"]-0.4) > 0.08 {
		t.Errorf("coefficients %v, want lag1≈0.5, lag24≈0.4", c)
	}
	if math.Abs(m.Sigma-1) > 0.05 {
		t.Errorf("sigma = %g, want ≈1", m.Sigma)
	}
	// One-step intervals from a fit cover about 95% of the next 1000 points,
	// PredictInto(1) agrees with OneStep, and Update matches refitting's state.
	var f Forecast
	in := 0
	for _, v := range y[2000:] {
		if err := m.PredictInto(&f, 1, 0.95); err != nil {
			t.Fatal(err)
		}
		if f.Point[0] != m.OneStep() {
			t.Fatalf("PredictInto(1) = %g, OneStep = %g", f.Point[0], m.OneStep())
		}
		if v >= f.Lower[0] && v <= f.Upper[0] {
			in++
		}
		m.Update(v)
	}
	if cov := float64(in) / 1000; cov < 0.93 || cov > 0.97 {
		t.Errorf("one-step coverage %.3f, want ≈0.95", cov)
	}
	if m.N != 3000 {
		t.Errorf("N = %d, want 3000", m.N)
	}
}

// TestARStdDevMonteCarlo checks the ψ-weight h-step variance against
// simulated futures of the fitted model itself.
func TestARStdDevMonteCarlo(t *testing.T) {
	y := simAR(1500, 12, 2)
	m, err := FitAR(y, AROptions{Lags: 2, Periods: []int{12}})
	if err != nil {
		t.Fatal(err)
	}
	const h, sims = 30, 4000
	var f Forecast
	if err := m.PredictInto(&f, h, 0.95); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 3))
	var ss, mean float64
	for range sims {
		c := *m
		c.hist = slices.Clone(m.hist)
		var last float64
		for range h {
			last = c.OneStep() + m.Sigma*rng.NormFloat64()
			c.Update(last)
		}
		d := last - f.Point[h-1]
		mean += d
		ss += d * d
	}
	sd := math.Sqrt(ss / sims)
	want := (f.Upper[h-1] - f.Point[h-1]) / 1.959963984540054
	if math.Abs(sd/want-1) > 0.05 || math.Abs(mean/sims) > 0.1*want {
		t.Errorf("simulated h=%d sd %.4g (mean error %.3g), analytic %.4g", h, sd, mean/sims, want)
	}
}

func TestARMissingAndErrors(t *testing.T) {
	y := simAR(600, 24, 4)
	y[100], y[300] = math.NaN(), math.Inf(1)
	m, err := FitAR(y, AROptions{Periods: []int{24}})
	if err != nil {
		t.Fatal(err)
	}
	m.Update(math.NaN())
	if v := m.OneStep(); !finite(v) {
		t.Errorf("OneStep after a missing point = %g", v)
	}
	if _, err := FitAR(y[:20], AROptions{Lags: 8}); err == nil {
		t.Error("FitAR of 20 points with 8 lags: no error")
	}
	// A season the series cannot support is dropped, not an error.
	s, err := FitAR(y[:100], AROptions{Periods: []int{1440}})
	if err != nil {
		t.Fatal(err)
	}
	if l := s.LagSteps[len(s.LagSteps)-1]; l > 6 {
		t.Errorf("kept lag %d on 100 points", l)
	}
	var f Forecast
	for _, c := range []struct {
		h     int
		level float64
	}{{-1, 0.9}, {3, 0}, {3, 1}} {
		if err := m.PredictInto(&f, c.h, c.level); err == nil {
			t.Errorf("PredictInto(%d, %g): no error", c.h, c.level)
		}
	}
}

func BenchmarkAR(b *testing.B) {
	for _, bc := range []struct{ n, p int }{{2016, 288}, {20160, 1440}} {
		y := synthDaily(bc.n, bc.p, 0.01, 2, 5)
		b.Run(fmt.Sprintf("fit/n=%d/period=%d", bc.n, bc.p), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FitAR(y, AROptions{Periods: []int{bc.p}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	y := synthDaily(2016, 288, 0.01, 2, 6)
	m, err := FitAR(y, AROptions{Periods: []int{288}})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("update", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			m.Update(y[i%len(y)])
			i++
		}
	})
	b.Run("predict/h=60", func(b *testing.B) {
		var f Forecast
		b.ReportAllocs()
		for b.Loop() {
			if err := m.PredictInto(&f, 60, 0.95); err != nil {
				b.Fatal(err)
			}
		}
	})
}
