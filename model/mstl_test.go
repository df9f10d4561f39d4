package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// TestDecomposeMSTLAgreesWithR compares the daily and weekly components with
// forecast::mstl(s.window = "periodic") (testdata/gen_models.R). R smooths
// the trend by loess and augur by moving averages, so they agree to a
// fraction of the components' amplitude rather than to rounding: the
// tolerance is 1% of each component's range (RMS difference) and 2%
// (largest difference); measured: 0.2% and 0.9%.
func TestDecomposeMSTLAgreesWithR(t *testing.T) {
	var y []float64
	for _, r := range readCSV(t, filepath.Join("testdata", "mstl_input.csv")) {
		y = append(y, parseFloat(t, r[0]))
	}
	var want [3][]float64 // s24, s168, trend
	for _, r := range readCSV(t, filepath.Join("testdata", "mstl_output.csv")) {
		want[0] = append(want[0], parseFloat(t, r[1]))
		want[1] = append(want[1], parseFloat(t, r[2]))
		want[2] = append(want[2], parseFloat(t, r[0]))
	}
	d, err := DecomposeMSTL(y, []int{168, 24}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := [3][]float64{d.Seasonal[0], d.Seasonal[1], d.Trend}
	for k, name := range []string{"seasonal24", "seasonal168", "trend"} {
		lo, hi := math.Inf(1), math.Inf(-1)
		var ss, worst float64
		// The trend's ends depend on the end treatment; compare inside.
		from, to := 0, len(y)
		if k == 2 {
			from, to = 168, len(y)-168
		}
		for i := from; i < to; i++ {
			w := want[k][i]
			lo, hi = math.Min(lo, w), math.Max(hi, w)
			e := got[k][i] - w
			ss += e * e
			worst = math.Max(worst, math.Abs(e))
		}
		rms := math.Sqrt(ss / float64(to-from))
		t.Logf("%s: RMS difference %.3g, largest %.3g, range %.3g", name, rms, worst, hi-lo)
		if rng := hi - lo; rms > 0.01*rng || worst > 0.02*rng {
			t.Errorf("%s: RMS difference %.3g, largest %.3g, range %.3g", name, rms, worst, rng)
		}
	}
	// The components add up to the series.
	for i, v := range y {
		if s := d.Trend[i] + d.Seasonal[0][i] + d.Seasonal[1][i] + d.Remainder[i]; math.Abs(s-v) > 1e-9 {
			t.Fatalf("components at %d add to %g, want %g", i, s, v)
		}
	}
}

// weeklySeries is minute-free hourly-like data of the given period with a
// daily cycle of period p and a weekly one of 7p, plus noise.
func weeklySeries(n, p int, sd float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	y := make([]float64, n)
	for t := range y {
		day := (t / p) % 7
		y[t] = 50 + 10*math.Sin(2*math.Pi*float64(t)/float64(p)) + sd*rng.NormFloat64()
		if day >= 5 {
			y[t] -= 15 // quiet weekends
		}
	}
	return y
}

func TestMSTLForecastsWeekends(t *testing.T) {
	const p = 48
	y := weeklySeries(p*7*5, p, 1, 1)
	future := weeklySeries(p*7*6, p, 1, 1)[len(y):]
	m, err := FitMSTL(y, MSTLOptions{Periods: []int{p, 7 * p}})
	if err != nil {
		t.Fatal(err)
	}
	hw, err := FitHoltWinters(y, HoltWintersOptions{Period: p})
	if err != nil {
		t.Fatal(err)
	}
	// A week ahead, MSTL knows the weekend; daily Holt-Winters cannot.
	var fm, fh Forecast
	if err := m.PredictInto(&fm, 7*p, 0.95); err != nil {
		t.Fatal(err)
	}
	if err := hw.PredictInto(&fh, 7*p, 0.95); err != nil {
		t.Fatal(err)
	}
	var em, eh float64
	for i, v := range future {
		em += math.Abs(v - fm.Point[i])
		eh += math.Abs(v - fh.Point[i])
	}
	em /= float64(len(future))
	eh /= float64(len(future))
	if em > 1.5 || em > eh/3 {
		t.Errorf("week-ahead MAE: MSTL %.3g, Holt-Winters %.3g; want MSTL < 1.5 and < a third", em, eh)
	}
	// Online: OneStep agrees with PredictInto(1) as points arrive.
	for _, v := range future[:3*p] {
		if err := m.PredictInto(&fm, 1, 0.9); err != nil {
			t.Fatal(err)
		}
		if d := fm.Point[0] - m.OneStep(); math.Abs(d) > 1e-9 {
			t.Fatalf("PredictInto(1) - OneStep = %g", d)
		}
		m.Update(v)
	}
	if got := m.Params()["period2"]; got != 7*p {
		t.Errorf("Params period2 = %g, want %d", got, 7*p)
	}
}

func TestMSTLErrors(t *testing.T) {
	y := weeklySeries(500, 24, 1, 3)
	for _, ps := range [][]int{nil, {24}, {1, 24}} {
		if _, err := FitMSTL(y, MSTLOptions{Periods: ps}); err == nil {
			t.Errorf("FitMSTL periods %v: no error", ps)
		}
	}
	if _, err := FitMSTL(y[:300], MSTLOptions{Periods: []int{24, 168}}); err == nil {
		t.Error("FitMSTL on less than two weeks: no error")
	}
	if _, err := DecomposeMSTL([]float64{math.NaN(), math.NaN()}, []int{2}, 1); err == nil {
		t.Error("DecomposeMSTL of all-missing: no error")
	}
}

func BenchmarkFitMSTL(b *testing.B) {
	y := weeklySeries(1440*21, 1440, 1, 4)
	b.Run(fmt.Sprintf("n=%d/periods=1440,10080", len(y)), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := FitMSTL(y, MSTLOptions{Periods: []int{1440, 10080}}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
