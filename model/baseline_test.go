package model

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

const minute = 60 * 1000

// dailyShape is the noiseless daily pattern of the synthetic CPU-like series.
func dailyShape(t int64) float64 {
	tod := float64(t%msPerDay) / msPerDay
	return 50 + 20*math.Sin(2*math.Pi*tod) + 5*math.Cos(4*math.Pi*tod)
}

// minuteSeries returns days of 1-minute points from day first on, dailyShape plus
// Gaussian noise of sd sigma, from a seeded source.
func minuteSeries(first, days int, sigma float64, seed uint64) ([]int64, []float64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	n := days * 24 * 60
	ts := make([]int64, n)
	y := make([]float64, n)
	t0 := int64(1_700_006_400_000) + int64(first)*msPerDay // a midnight UTC
	for i := range ts {
		ts[i] = t0 + int64(i)*minute
		y[i] = dailyShape(ts[i]) + sigma*rng.NormFloat64()
	}
	return ts, y
}

// outsideFraction returns the fraction of points outside b's band.
func outsideFraction(b *Baseline, ts []int64, y []float64) float64 {
	var out int
	for i, t := range ts {
		lo, hi := b.Band(t)
		if y[i] < lo || y[i] > hi {
			out++
		}
	}
	return float64(out) / float64(len(ts))
}

func TestBaselineRobustAndCalibrated(t *testing.T) {
	const sigma = 2.0
	ts, clean := minuteSeries(0, 14, sigma, 1)
	dirty := append([]float64(nil), clean...)
	rng := rand.New(rand.NewPCG(9, 9))
	// 2% spikes of +15..45σ, a 3-hour incident at +30 and a gap of NaNs.
	for i := range dirty {
		if rng.Float64() < 0.02 {
			dirty[i] += 30 + 60*rng.Float64()
		}
	}
	for i := 5*1440 + 600; i < 5*1440+780; i++ {
		dirty[i] += 30
	}
	for i := 9 * 1440; i < 9*1440+200; i++ {
		dirty[i] = math.NaN()
	}
	bClean, err := FitBaseline(ts, clean, BaselineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bDirty, err := FitBaseline(ts, dirty, BaselineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("K clean %.3f, dirty %.3f", bClean.K(), bDirty.K())
	for _, b := range []*Baseline{bClean, bDirty} {
		// Normal noise: K near Φ⁻¹(0.995) = 2.576.
		if k := b.K(); k < 2.3 || k > 2.9 {
			t.Errorf("K = %g, want about 2.58", k)
		}
		for m := int64(0); m < 24*60; m += 7 {
			at := ts[0] + m*minute
			c, s := b.At(at)
			if d := math.Abs(c - dailyShape(at)); d > 1 {
				t.Errorf("centre at minute %d off the true shape by %.2f", m, d)
			}
			if s < 0.8*sigma || s > 1.25*sigma {
				t.Errorf("scale at minute %d = %.2f, noise sd is %g", m, s, sigma)
			}
		}
	}
	// Outliers must not widen the band: compare widths with the clean fit.
	for m := int64(0); m < 24*60; m += 30 {
		at := ts[0] + m*minute
		lc, uc := bClean.Band(at)
		ld, ud := bDirty.Band(at)
		if w := (ud - ld) / (uc - lc); w > 1.15 {
			t.Errorf("minute %d: outliers widened the band by %.0f%%", m, 100*(w-1))
		}
	}
	// Calibration on clean held-out days.
	hts, hy := minuteSeries(14, 7, sigma, 2)
	for _, target := range []float64{0.01, 0.05} {
		b, err := FitBaseline(ts, dirty, BaselineOptions{Outside: target})
		if err != nil {
			t.Fatal(err)
		}
		if got := outsideFraction(b, hts, hy); got < 0.5*target || got > 1.6*target {
			t.Errorf("held-out outside fraction %.4f, target %g", got, target)
		}
	}
}

func TestBaselineWeekly(t *testing.T) {
	ts, y := minuteSeries(0, 21, 1, 3)
	weekend := func(t int64) bool {
		d := (t / msPerDay) % 7 // 0 = Thursday
		return d == 2 || d == 3
	}
	for i, at := range ts {
		if weekend(at) {
			y[i] -= 20
		}
	}
	w, err := FitBaseline(ts, y, BaselineOptions{Weekly: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := FitBaseline(ts, y, BaselineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var maxErr float64
	for _, at := range ts[:7*1440] {
		c, _ := w.At(at)
		want := dailyShape(at)
		if weekend(at) {
			want -= 20
		}
		// Skip the hour either side of a weekday/weekend edge, where
		// interpolation between slots blends the two.
		if weekend(at-msPerDay/24) != weekend(at) || weekend(at+msPerDay/24) != weekend(at) {
			continue
		}
		maxErr = math.Max(maxErr, math.Abs(c-want))
	}
	if maxErr > 1 {
		t.Errorf("weekly centre off by up to %.2f", maxErr)
	}
	if got := outsideFraction(w, ts, y); got > 0.02 {
		t.Errorf("weekly baseline: %.3f of its training points outside", got)
	}
	// A daily baseline cannot follow the weekend and needs a wider band.
	_, sw := w.At(ts[0])
	_, sd := d.At(ts[0])
	if sd < 2*sw {
		t.Errorf("daily scale %.2f vs weekly %.2f: the weekly pattern went unnoticed", sd, sw)
	}
}

func TestBaselineFallback(t *testing.T) {
	// Points only between 00:00 and 12:00: the afternoon slots fall back to
	// the global median and scale.
	ts, y := minuteSeries(0, 7, 1, 4)
	var hts []int64
	var hy []float64
	for i, at := range ts {
		if at%msPerDay < msPerDay/2 {
			hts, hy = append(hts, at), append(hy, y[i])
		}
	}
	b, err := FitBaseline(hts, hy, BaselineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mid := ts[0] + 18*60*minute + 30*minute // midpoint of the 18:00 slot
	c, s := b.At(mid)
	// The fallbacks are estimated from a sample of at most maxGlobalSample
	// points (here every second one) and stored in float32: within 2 % of
	// the scale of those of all points.
	gm := median(append([]float64(nil), hy...))
	dev := make([]float64, len(hy))
	for i, v := range hy {
		dev[i] = math.Abs(v - gm)
	}
	want := madToSigma * median(dev)
	if math.Abs(c-gm) > 0.02*want {
		t.Errorf("empty slot centre %g, want the global median %g", c, gm)
	}
	if math.Abs(s-want) > 0.02*want {
		t.Errorf("empty slot scale %g, want the global 1.4826·MAD %g", s, want)
	}
	// A populated slot's scale is the noise's, well below the global one.
	if _, s6 := b.At(mid - 12*60*minute); s6 > 1.3 || s6 > s/1.5 {
		t.Errorf("06:30 scale %g, global %g", s6, s)
	}
	// Pre-1970 timestamps map onto the same cycle.
	c1, _ := b.At(mid - 30*msPerWeek*52*10)
	if c1 != c {
		t.Errorf("At before the epoch = %g, want %g", c1, c)
	}
}

func TestBaselineDegenerate(t *testing.T) {
	// A constant integer series: zero MAD must not give a zero-width band.
	ts, _ := minuteSeries(0, 2, 0, 5)
	y := make([]float64, len(ts))
	for i := range y {
		y[i] = 5
		if i%50 == 0 {
			y[i] = 6
		}
	}
	b, err := FitBaseline(ts, y, BaselineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := b.Band(ts[10])
	if !(lo < 5 && hi > 5) || math.IsNaN(lo) || math.IsNaN(hi) {
		t.Errorf("band [%g, %g] for a constant 5", lo, hi)
	}
}

func TestBaselineErrors(t *testing.T) {
	ts, y := minuteSeries(0, 1, 1, 6)
	f := func(ts []int64, y []float64, opts BaselineOptions, tooShort bool) {
		t.Helper()
		_, err := FitBaseline(ts, y, opts)
		if err == nil {
			t.Fatalf("no error for %d points, %+v", len(y), opts)
		}
		if errors.Is(err, ErrTooShort) != tooShort {
			t.Errorf("error %v: want ErrTooShort %v", err, tooShort)
		}
	}
	f(ts, y[1:], BaselineOptions{}, false)
	f(nil, nil, BaselineOptions{}, true)
	f(ts[:4], y[:4], BaselineOptions{}, true)
	f(ts, y, BaselineOptions{SlotWidth: 7 * minute}, false)
	f(ts, y, BaselineOptions{SlotWidth: -minute}, false)
	f(ts, y, BaselineOptions{Outside: 0.5}, false)
	f(ts, y, BaselineOptions{Outside: math.NaN()}, false)
	nan := make([]float64, len(y))
	for i := range nan {
		nan[i] = math.NaN()
	}
	f(ts, nan, BaselineOptions{}, true)
}

func TestQuantileMatchesSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 10))
	for _, n := range []int{1, 2, 3, 10, 101, 1000} {
		for _, kind := range []string{"random", "sorted", "reversed", "ties"} {
			v := make([]float64, n)
			for i := range v {
				switch kind {
				case "random":
					v[i] = rng.NormFloat64()
				case "sorted":
					v[i] = float64(i)
				case "reversed":
					v[i] = float64(n - i)
				case "ties":
					v[i] = float64(rng.IntN(3))
				}
			}
			sorted := slices.Sorted(slices.Values(v))
			for _, p := range []float64{0, 0.01, 0.25, 0.5, 0.75, 0.99, 1} {
				// R's type 7 on the sorted values.
				h := p * float64(n-1)
				i := int(h)
				want := sorted[i]
				if i+1 < n {
					want += (h - float64(i)) * (sorted[i+1] - sorted[i])
				}
				if got := quantile(slices.Clone(v), p); !approxEqual(got, want, 1e-12) {
					t.Errorf("n=%d %s p=%g: quantile %g, sorted %g", n, kind, p, got, want)
				}
			}
		}
	}
	if !math.IsNaN(quantile(nil, 0.5)) {
		t.Error("quantile of nothing is not NaN")
	}
}

// BenchmarkFitBaseline fits a one-minute fortnight: with the default
// hourly slots, and as FitSeries does, weekly 30-minute slots and the
// daily one-minute centres.
func BenchmarkFitBaseline(b *testing.B) {
	ts, y := minuteSeries(0, 14, 2, 7)
	for _, c := range []struct {
		name string
		opts BaselineOptions
	}{
		{"hourly", BaselineOptions{}},
		{"weekly30m", BaselineOptions{SlotWidth: 30 * minute, Weekly: true}},
		{"daily1m-centre", BaselineOptions{SlotWidth: minute, CenterOnly: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := FitBaseline(ts, y, c.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestBandKMatchesFilteredQuantile: bandK's nested selections give the
// quantile of the values inside the fence, as filtering and selecting would.
func TestBandKMatchesFilteredQuantile(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 11))
	for _, n := range []int{1, 2, 5, 40, 1000, 5000} {
		for _, outliers := range []float64{0, 0.01, 0.3} {
			z := make([]float64, n)
			for i := range z {
				z[i] = math.Abs(rng.NormFloat64())
				if rng.Float64() < outliers {
					z[i] *= 100
				}
			}
			c := slices.Clone(z)
			q1, q3 := quantile(c, 0.25), quantile(c, 0.75)
			fence := q3 + fenceIQR*(q3-q1)
			var normal []float64
			for _, v := range z {
				if v <= fence {
					normal = append(normal, v)
				}
			}
			for _, p := range []float64{0.75, 0.99} {
				want := quantile(slices.Clone(normal), p)
				if got := bandK(slices.Clone(z), p); got != want {
					t.Errorf("n=%d outliers=%g p=%g: bandK %g, want %g", n, outliers, p, got, want)
				}
			}
		}
	}
}

// TestBaselineCenterOnly: the centre-only fit has the full fit's centre,
// no scale and half its memory.
func TestBaselineCenterOnly(t *testing.T) {
	ts, y := minuteSeries(0, 14, 2, 9)
	full, err := FitBaseline(ts, y, BaselineOptions{SlotWidth: 5 * minute})
	if err != nil {
		t.Fatal(err)
	}
	c, err := FitBaseline(ts, y, BaselineOptions{SlotWidth: 5 * minute, CenterOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range ts[:1440] {
		fc, _ := full.At(at)
		cc, cs := c.At(at)
		if cc != fc || !math.IsNaN(cs) {
			t.Fatalf("At(%d) = %g, %g; want %g, NaN", at, cc, cs, fc)
		}
	}
	if lo, hi := c.Band(ts[0]); !math.IsNaN(lo) || !math.IsNaN(hi) || !math.IsNaN(c.K()) {
		t.Errorf("centre-only band %g..%g, K %g: want NaN", lo, hi, c.K())
	}
	if hdr := int(unsafe.Sizeof(*c)); 2*(c.Bytes()-hdr) > full.Bytes()-hdr {
		t.Errorf("centre-only %d B, full %d B", c.Bytes(), full.Bytes())
	}
}

// TestBaselineGridRamp: on a noiseless daily profile sampled every
// minute, with a ten-minute ramp like a nightly job's start, the centre at
// the grid's points is the profile (to within its 16-bit rounding, 1e-5 of
// its range) with one-minute slots and on the ramp's straight part with
// five-minute ones: a slot's centre sits
// where its points do ((W−Δ)/2 into the slot), not at its midpoint, where
// the interpolation would lag the ramp by Δ/2 (3 of its 60).
func TestBaselineGridRamp(t *testing.T) {
	profile := func(t int64) float64 {
		m := float64(t%msPerDay) / 60_000
		switch {
		case m < 60:
			return 25
		case m < 70:
			return 25 + 6*(m-60)
		}
		return 85
	}
	var ts []int64
	var y []float64
	for i := range int64(14 * 1440) {
		ts = append(ts, i*60_000)
		y = append(y, profile(i*60_000))
	}
	for _, c := range []struct {
		slot     int64
		from, to int64 // minutes of the day checked
	}{
		{60_000, 0, 1440},
		{5 * 60_000, 62, 68},
	} {
		b, err := FitBaseline(ts, y, BaselineOptions{SlotWidth: c.slot, CenterOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for m := c.from; m < c.to; m++ {
			at := 3*msPerDay + m*60_000
			if got, _ := b.At(at); math.Abs(got-profile(at)) > 1e-5*(85-25) {
				t.Errorf("%d-minute slots: centre %.3f at minute %d, the profile %.3f", c.slot/60_000, got, m, profile(at))
			}
		}
	}
}
