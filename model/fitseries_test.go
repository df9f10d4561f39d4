package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
)

// demoLike returns days of one-minute points shaped like the demo's cpu
// series: a daily cycle damped to 55 % at weekends, a slow drift, deploy
// level shifts, white noise and noise smoothed over 15 minutes.
func demoLike(days int, seed uint64) ([]int64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 3))
	n := days * 1440
	ts := make([]int64, n)
	y := make([]float64, n)
	const t0 = int64(1_700_006_400_000) // a midnight UTC
	knots := make([]float64, n/15+2)
	for i := range knots {
		knots[i] = rng.NormFloat64()
	}
	shift := 0.0
	for i := range y {
		t := t0 + int64(i)*minute
		ts[i] = t
		w := 1.0
		if wd := (t/msPerDay + 4) % 7; wd == 0 || wd == 6 {
			w = 0.55
		}
		hod := float64(t%msPerDay) / 3.6e6
		act := 0.5 * (1 - math.Cos(2*math.Pi*(hod-4)/24)) * w
		if i%1440 == 660 && rng.Float64() < 0.45 {
			shift = 4 * (2*rng.Float64() - 1)
		}
		f := float64(i%15) / 15
		sw := 0.5 * (1 - math.Cos(math.Pi*f))
		smooth := (1-sw)*knots[i/15] + sw*knots[i/15+1]
		y[i] = 22 + 30*act + 3*math.Sin(2*math.Pi*float64(i)/(8*1440)) + shift + 1.2*rng.NormFloat64() + 2*smooth
	}
	return ts, y
}

// TestFitSeriesState: a fortnight at one minute keeps the forecaster,
// both baselines and a warm detector within 12 KiB, as Bytes counts it
// (21 KiB while the profiles were float32, see profile16), and Bytes
// agrees with the heap the fitted models retain.
func TestFitSeriesState(t *testing.T) {
	ts, y := demoLike(14, 1)
	f, err := FitSeries(ts, y, SeriesOptions{Step: minute, Horizon: 60})
	if err != nil {
		t.Fatal(err)
	}
	if f.Selection.Model == "" || f.Period != 1440 || f.Daily == f.Baseline {
		t.Fatalf("got model %q, period %d, daily baseline distinct %v", f.Selection.Model, f.Period, f.Daily != f.Baseline)
	}
	d := NewDetector(DetectorOptions{})
	for i, v := range y {
		d.Observe(ts[i], v)
	}
	total := f.Bytes() + d.Bytes()
	t.Logf("%s: forecaster %d B, baselines %d + %d B, detector %d B, total %d B",
		f.Selection.Model, ForecasterBytes(f.Forecaster), f.Baseline.Bytes(), f.Daily.Bytes(), d.Bytes(), total)
	if total > 12<<10 {
		t.Errorf("state of one series %d B, want ≤ 12 KiB", total)
	}
	// The forecast of the compact model stays that of the float64 one.
	fc, _, err := Select(y, SelectOptions{Periods: []int{1440}, Horizon: 60, Candidates: []string{f.Selection.Model}})
	if err != nil {
		t.Fatal(err)
	}
	var a, b Forecast
	if err := f.Forecaster.PredictInto(&a, 60, 0.95); err != nil {
		t.Fatal(err)
	}
	if err := fc.PredictInto(&b, 60, 0.95); err != nil {
		t.Fatal(err)
	}
	for j := range a.Point {
		if d := math.Abs(a.Point[j] - b.Point[j]); d > 1e-5*math.Abs(b.Point[j]) {
			t.Errorf("lead %d: compact forecast %g, float64 %g", j+1, a.Point[j], b.Point[j])
		}
	}
}

// TestFitSeriesErrors: bad input is an error, never a panic.
func TestFitSeriesErrors(t *testing.T) {
	ts, y := demoLike(1, 1)
	nan := make([]float64, len(y))
	for i := range nan {
		nan[i] = math.NaN()
	}
	for _, c := range []struct {
		name string
		ts   []int64
		y    []float64
		step int64
		is   error
	}{
		{"lengths", ts[:10], y, minute, nil},
		{"step", ts, y, 0, nil},
		{"all missing", ts, nan, minute, ErrShortHistory},
		{"short", ts[:5], y[:5], minute, ErrShortHistory},
	} {
		_, err := FitSeries(c.ts, c.y, SeriesOptions{Step: c.step})
		if err == nil || (c.is != nil && !errors.Is(err, c.is)) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.is)
		}
	}
	// A day is too short for either season: a daily baseline, no period.
	f, err := FitSeries(ts, y, SeriesOptions{Step: minute, Restored: "holtwinters"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Daily != f.Baseline || f.Period != 0 {
		t.Errorf("one day: daily baseline shared %v, period %d", f.Daily == f.Baseline, f.Period)
	}
}

// BenchmarkFitSeries is the refit of one series of the engine: a fortnight
// at one minute. cpu-ns/op is the process CPU time per fit, which other
// load on the machine inflates less than the wall time; retained-B/series
// is the heap that 64 fitted series keep, per series.
func BenchmarkFitSeries(b *testing.B) {
	ts, y := demoLike(14, 1)
	b.ReportAllocs()
	var r0, r1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	n := 0
	for b.Loop() {
		if _, err := FitSeries(ts, y, SeriesOptions{Step: minute, Horizon: 60}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano()
	b.ReportMetric(float64(cpu)/float64(n), "cpu-ns/op")
	b.ReportMetric(float64(retained(b, ts, y, 64)), "retained-B/series")
}

// retained returns the heap growth per series of k fitted series kept
// alive, each with a detector warmed on the series.
func retained(b *testing.B, ts []int64, y []float64, k int) int {
	type state struct {
		f *FittedSeries
		d *Detector
	}
	keep := make([]state, k)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := range keep {
		f, err := FitSeries(ts, y, SeriesOptions{Step: minute, Horizon: 60})
		if err != nil {
			b.Fatal(err)
		}
		d := NewDetector(DetectorOptions{})
		for j, v := range y {
			d.Observe(ts[j], v)
		}
		keep[i] = state{f, d}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(keep)
	return int(m1.HeapAlloc-m0.HeapAlloc) / k
}

// TestFitSeriesKeptRecentSpan: a refit of a kept kind on the recent span
// that RecentSpan gives forecasts exactly what the same refit on the whole
// fortnight does, and that is what a refit of the kind (Restored) on the
// whole fortnight does when it detects the same periods; the baselines are
// the kept ones.
func TestFitSeriesKeptRecentSpan(t *testing.T) {
	ts, y := demoLike(14, 2)
	n := len(y)
	for _, kind := range []string{"holtwinters", "holtwinters_damped", "holt_damped", "ari", "snaive", "naive"} {
		full, err := FitSeries(ts, y, SeriesOptions{Step: minute, Horizon: 60, Restored: kind})
		if err != nil || full.Selection.Model != kind {
			t.Fatalf("%s: fitted %q, %v", kind, full.Selection.Model, err)
		}
		span, ok := RecentSpan(n, minute, full.Selection)
		if !ok || span != 2016+4*1440 {
			t.Fatalf("%s: recent span %d, %v; want %d, true", kind, span, ok, 2016+4*1440)
		}
		kept, err := FitSeries(ts, y, SeriesOptions{Step: minute, Horizon: 60, Kept: full})
		if err != nil {
			t.Fatal(err)
		}
		recent, err := FitSeries(ts[n-span:], y[n-span:], SeriesOptions{Step: minute, Horizon: 60, Kept: full})
		if err != nil {
			t.Fatal(err)
		}
		if recent.Baseline != full.Baseline || recent.Daily != full.Daily || recent.Selection.Model != kind {
			t.Errorf("%s: refitted %q, baselines kept %v", kind, recent.Selection.Model, recent.Baseline == full.Baseline && recent.Daily == full.Daily)
		}
		var a, b, c Forecast
		for _, x := range []struct {
			f *FittedSeries
			d *Forecast
		}{{full, &a}, {kept, &b}, {recent, &c}} {
			if err := x.f.Forecaster.PredictInto(x.d, 120, 0.95); err != nil {
				t.Fatal(err)
			}
		}
		for h := range a.Point {
			if a.Point[h] != b.Point[h] || b.Point[h] != c.Point[h] || a.Upper[h] != c.Upper[h] || a.Lower[h] != c.Lower[h] {
				t.Fatalf("%s: lead %d: %v (restored) %v (kept) %v (recent span), intervals %v/%v", kind, h+1, a.Point[h], b.Point[h], c.Point[h], a.Upper[h], c.Upper[h])
			}
		}
	}
	// A weekly period is fitted on four weeks: the whole fortnight.
	if _, ok := RecentSpan(n, minute, Selection{Model: "mstl", Periods: []int{1440, 10080}}); ok {
		t.Error("a recent span for a weekly period")
	}
	// A week is too short for the holdout's cap by its fraction.
	if _, ok := RecentSpan(6*1440, minute, Selection{Model: "holtwinters", Periods: []int{1440}}); ok {
		t.Error("a recent span on six days")
	}
}
