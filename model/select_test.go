package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Every model satisfies Forecaster.
var (
	_ Forecaster = (*HoltWinters)(nil)
	_ Forecaster = (*SeasonalNaive)(nil)
	_ Forecaster = (*AR)(nil)
	_ Forecaster = (*MSTL)(nil)
	_ Forecaster = (*Calibrated)(nil)
)

func randomWalk(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 9))
	y := make([]float64, n)
	for t := 1; t < n; t++ {
		y[t] = y[t-1] + rng.NormFloat64()
	}
	return y
}

func TestSeasonalNaive(t *testing.T) {
	y := []float64{1, 2, 3, 4, 2, 3, 4, 5, 3, 4, 5, 6}
	m, err := FitSeasonalNaive(y, 4)
	if err != nil {
		t.Fatal(err)
	}
	// Seasonal differences are all 1: σ = 1.
	if m.Sigma != 1 || m.OneStep() != 3 {
		t.Errorf("sigma %g, OneStep %g; want 1 and 3", m.Sigma, m.OneStep())
	}
	var f Forecast
	if err := m.PredictInto(&f, 6, 0.95); err != nil {
		t.Fatal(err)
	}
	want := []float64{3, 4, 5, 6, 3, 4}
	if !slices.Equal(f.Point, want) {
		t.Errorf("points %v, want %v", f.Point, want)
	}
	// Half-widths z·σ·sqrt(⌊(h-1)/m⌋+1): sqrt(2) times wider in the 2nd cycle.
	w1, w5 := f.Upper[0]-f.Point[0], f.Upper[4]-f.Point[4]
	if !approxEqual(w1, 1.959963984540054, 1e-12) || !approxEqual(w5/w1, math.Sqrt2, 1e-12) {
		t.Errorf("half-widths %g and %g", w1, w5)
	}
	m.Update(math.NaN()) // missing: the value a period earlier stays
	m.Update(10)
	if m.OneStep() != 5 || m.N != 14 {
		t.Errorf("after updates OneStep %g, N %d; want 5, 14", m.OneStep(), m.N)
	}
	if _, err := FitSeasonalNaive(y[:4], 4); !errors.Is(err, ErrTooShort) {
		t.Errorf("4 points, period 4: err %v, want ErrTooShort", err)
	}
}

func TestSelectChoosesByBacktest(t *testing.T) {
	f := func(name string, y []float64, periods []int, ok func(string) bool) {
		t.Helper()
		m, sel, err := Select(y, SelectOptions{Periods: periods})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !ok(sel.Model) || m.Name() != sel.Model {
			t.Errorf("%s: chose %s (%v)", name, sel.Model, sel.Candidates)
		}
		if sel.MASE != sel.Candidates[sel.Model] || sel.MASE > slices.Min(mapValues(sel.Candidates)) {
			t.Errorf("%s: MASE %g is not the best of %v", name, sel.MASE, sel.Candidates)
		}
	}
	seasonal := func(s string) bool { return s != "naive" && s != "holt_damped" }
	// Strong daily cycle at 5 minutes: a seasonal model, never naive.
	f("daily", synthDaily(288*10, 288, 0.01, 1, 1), []int{288, 2016}, seasonal)
	// A random walk has nothing to learn beyond the last value.
	f("random walk", randomWalk(3000, 2), []int{288}, func(s string) bool {
		return s == "naive" || s == "holt_damped" || s == "ari"
	})
	// Daily and weekly at 1 hour, five weeks: the weekend needs MSTL, or
	// an AR with a weekly lag.
	f("weekly", weeklySeries(24*7*5, 24, 1, 3), []int{24, 168}, func(s string) bool {
		return s == "mstl" || s == "ari"
	})
}

func mapValues(m map[string]float64) []float64 {
	var v []float64
	for _, x := range m {
		v = append(v, x)
	}
	return v
}

// TestSelectColdStart: one day and a bit of minute data is enough for a
// forecast; under 36 points the naive default is returned unvalidated.
func TestSelectColdStart(t *testing.T) {
	y := synthDaily(1440+300, 1440, 0, 1, 4)
	m, sel, err := Select(y, SelectOptions{Periods: []int{1440, 10080}})
	if err != nil {
		t.Fatal(err)
	}
	var f Forecast
	if err := m.PredictInto(&f, 60, 0.95); err != nil {
		t.Fatal(err)
	}
	if math.IsNaN(sel.MASE) || len(sel.Candidates) < 3 || sel.Horizon != 60 {
		t.Errorf("cold start selection %+v", sel)
	}
	m, sel, err = Select(y[:30], SelectOptions{Periods: []int{1440}})
	if err != nil || sel.Model != "naive" || !math.IsNaN(sel.MASE) || m.OneStep() != y[29] {
		t.Errorf("30 points: %v, %+v", err, sel)
	}
	if _, _, err := Select(y[:2], SelectOptions{}); !errors.Is(err, ErrTooShort) {
		t.Errorf("2 points: err %v, want ErrTooShort", err)
	}
	if _, _, err := Select(y, SelectOptions{Level: 1.5}); err == nil {
		t.Error("level 1.5: no error")
	}
}

// TestSelectCalibratedCoverage: heavy-tailed noise (Student t, 3 d.o.f.)
// makes Gaussian intervals wrong; the conformal factors bring the 95%
// intervals back to 93-97% on data the selection never saw, one step and
// an hour ahead.
func TestSelectCalibratedCoverage(t *testing.T) {
	const p, n = 288, 288 * 12
	rng := rand.New(rand.NewPCG(5, 5))
	y := make([]float64, n+288*4)
	for i := range y {
		chi := 0.0
		for range 3 {
			z := rng.NormFloat64()
			chi += z * z
		}
		y[i] = 20 + 5*math.Sin(2*math.Pi*float64(i)/p) + rng.NormFloat64()/math.Sqrt(chi/3)
	}
	m, sel, err := Select(y[:n], SelectOptions{Periods: []int{p}, Horizon: 12})
	if err != nil {
		t.Fatal(err)
	}
	var f Forecast
	var in1, inH, cnt1, cntH int
	rest := y[n:]
	for i, v := range rest {
		if err := m.PredictInto(&f, 12, 0.95); err != nil {
			t.Fatal(err)
		}
		cnt1++
		if v >= f.Lower[0] && v <= f.Upper[0] {
			in1++
		}
		if j := i + 11; j < len(rest) {
			cntH++
			if rest[j] >= f.Lower[11] && rest[j] <= f.Upper[11] {
				inH++
			}
		}
		m.Update(v)
	}
	c1, cH := float64(in1)/float64(cnt1), float64(inH)/float64(cntH)
	if c1 < 0.93 || c1 > 0.97 || cH < 0.93 || cH > 0.97 {
		t.Errorf("%s: coverage %.3f one step, %.3f 12 steps; want 0.93-0.97 (params %v)", sel.Model, c1, cH, m.Params())
	}
}

func TestSelectDeterministicAndRestricted(t *testing.T) {
	y := synthDaily(288*8, 288, 0.02, 1, 6)
	_, a, err := Select(y, SelectOptions{Periods: []int{288}})
	if err != nil {
		t.Fatal(err)
	}
	_, b, _ := Select(y, SelectOptions{Periods: []int{288}})
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("two runs differ: %+v, %+v", a, b)
	}
	m, c, err := Select(y, SelectOptions{Periods: []int{288}, Candidates: []string{"holtwinters"}})
	if err != nil || c.Model != "holtwinters" || len(c.Candidates) != 1 {
		t.Fatalf("restricted: %v %+v", err, c)
	}
	if p := m.Params(); p["period"] != 288 || !(p["interval_scale_1"] > 0) {
		t.Errorf("params %v", p)
	}
}

// BenchmarkSelect is the engine's startup and hourly refit: two weeks of
// one-minute data.
func BenchmarkSelect(b *testing.B) {
	// h=288 is augur forecast's horizon in bench/forecast.sh: a day ahead,
	// where the multi-step backtest dominates; only=holtwinters is its
	// --model=holtwinters row.
	for _, bc := range []struct {
		n, p, h int
		only    string
	}{{2016, 288, 0, ""}, {2016, 288, 288, ""}, {2016, 288, 288, "holtwinters"}, {20160, 1440, 0, ""}} {
		y := synthDaily(bc.n, bc.p, 0.01, 2, 8)
		name := fmt.Sprintf("n=%d/period=%d", bc.n, bc.p)
		if bc.h > 0 {
			name += fmt.Sprintf("/h=%d", bc.h)
		}
		var only []string
		if bc.only != "" {
			name += "/only=" + bc.only
			only = []string{bc.only}
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Select(y, SelectOptions{Periods: []int{bc.p, 7 * bc.p}, Horizon: bc.h, Candidates: only}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestCalibratedAdaptsToShift: after the selection the noise triples; the
// split-conformal intervals alone would cover far less than 95%, the
// adaptive factor brings one-step coverage back to 93-97% over the next
// 3000 points, and turned off (AdaptRate < 0) it does not.
func TestCalibratedAdaptsToShift(t *testing.T) {
	const p = 96
	rng := rand.New(rand.NewPCG(8, 8))
	gen := func(n int, sd float64) []float64 {
		y := make([]float64, n)
		for i := range y {
			y[i] = 10 + 3*math.Sin(2*math.Pi*float64(i)/p) + sd*rng.NormFloat64()
		}
		return y
	}
	train, after := gen(p*20, 0.5), gen(3000, 1.5)
	cover := func(rate float64) float64 {
		m, _, err := Select(train, SelectOptions{Periods: []int{p}, AdaptRate: rate})
		if err != nil {
			t.Fatal(err)
		}
		var f Forecast
		in := 0
		for _, v := range after {
			if err := m.PredictInto(&f, 1, 0.95); err != nil {
				t.Fatal(err)
			}
			if v >= f.Lower[0] && v <= f.Upper[0] {
				in++
			}
			m.Update(v)
		}
		return float64(in) / float64(len(after))
	}
	if c := cover(0); c < 0.93 || c > 0.97 {
		t.Errorf("adaptive coverage after the shift %.3f, want 0.93-0.97", c)
	}
	if c := cover(-1); c > 0.85 {
		t.Errorf("non-adaptive coverage after the shift %.3f: the test does not test adaptation", c)
	}
}
