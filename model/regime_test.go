package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/augur-sre/augur/internal/plant"
)

// raw is the planted series' sample interval.
const raw = plant.Step

// aggregate returns the means of the last len(values)/k whole buckets of k
// samples ending at the last sample, and the time of the last mean (the
// middle of its bucket).
func aggregate(values []float64, now, sample int64, k int) (y []float64, last int64) {
	n := len(values) / k
	off := len(values) - n*k
	for b := range n {
		s := 0.0
		for _, v := range values[off+b*k : off+(b+1)*k] {
			s += v
		}
		y = append(y, s/float64(k))
	}
	return y, now - int64(k-1)*sample/2
}

// predictLinearETA is Prometheus' predict_linear over the last window ms of
// raw samples solved for the threshold: the least-squares line's time to
// reach it from now, +Inf when it does not grow.
func predictLinearETA(p plant.Series, window int64, threshold float64) float64 {
	k := int(window / raw)
	v := p.Values[len(p.Values)-k:]
	var sx, sy, sxx, sxy float64
	for i, y := range v {
		x := float64(i - (k - 1))
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	n := float64(k)
	b := (n*sxy - sx*sy) / (n*sxx - sx*sx)
	a := (sy - b*sx) / n
	switch {
	case a >= threshold:
		return 0
	case b <= 0:
		return math.Inf(1)
	}
	return (threshold - a) / b * float64(raw)
}

// etaStats summarises ETAs against the truth over many series.
type etaStats struct {
	relErr          []float64
	inside, crossed int
}

func (s *etaStats) add(truth, p10, p50, p90 float64) {
	s.relErr = append(s.relErr, math.Abs(p50-truth)/truth)
	if p10 <= truth && truth <= p90 {
		s.inside++
	}
	if !math.IsInf(p50, 1) {
		s.crossed++
	}
}

func (s *etaStats) medianRelErr() float64 {
	v := slices.Clone(s.relErr)
	slices.Sort(v)
	return v[len(v)/2]
}

func (s *etaStats) coverage() float64 { return float64(s.inside) / float64(len(s.relErr)) }

func (s *etaStats) String() string {
	return fmt.Sprintf("median relative error of p50 %.3f, p10-p90 covers %.3f, p50 within the horizon %d of %d",
		s.medianRelErr(), s.coverage(), s.crossed, len(s.relErr))
}

// regimeETA fits the model to p's means over buckets of k samples and
// returns its ETA quantiles in ms from p.Now against threshold within
// horizon (+Inf beyond) and its growth per day.
func regimeETA(tb testing.TB, f *RegimeFitter, o *Outlook, p plant.Series, k int, threshold float64, horizon int64) (q [3]float64, growth float64) {
	tb.Helper()
	y, last := aggregate(p.Values, p.Now, raw, k)
	step := int64(k) * raw
	m, err := f.Fit(y, last, step)
	if err != nil {
		tb.Fatal(err)
	}
	g := Grid{Step: step}
	m.OutlookInto(o, threshold, p.Now, g, g.Points(horizon))
	for i, lv := range [...]float64{0.1, 0.5, 0.9} {
		q[i] = math.Inf(1)
		if ms, ok := o.ETA(lv, horizon); ok {
			q[i] = ms
		}
	}
	growth, _ = m.GrowthPerDay()
	return q, growth
}

// TestRegimeLeakAfterQuietFortnight measures issue 14's target on 600
// hosts of plant.LeakAfterQuiet (15 fleets of 40) at threshold 90 and horizon
// 60 days, handed to the model as hourly and as 15-minute means: the
// median relative error of the p50 ETA at most 0.12 and the true crossing
// inside p10-p90 for at least 80 % of hosts. A missing quantile is beyond
// the horizon. The log compares the growth per day with the planted leak,
// and predict_linear over 3 and 7 days with the model.
func TestRegimeLeakAfterQuietFortnight(t *testing.T) {
	const threshold, horizon = 90, 60 * msPerDay
	// 600 hosts measure the coverage to ±1.6 points (one standard
	// deviation); -short runs 120 against a looser line.
	hosts, want := 600, 0.80
	if testing.Short() {
		hosts, want = 120, 0.72
	}
	var f RegimeFitter
	var o Outlook
	for _, k := range []int{12, 3} {
		var model, pl3, pl7 etaStats
		var growthErr []float64
		for seed := range hosts {
			rng := rand.New(rand.NewPCG(uint64(seed), 14))
			p := plant.LeakAfterQuiet(rng)
			truth := p.TrueETA(threshold, horizon)
			q, growth := regimeETA(t, &f, &o, p, k, threshold, horizon)
			model.add(truth, q[0], q[1], q[2])
			growthErr = append(growthErr, growth/p.Rate-1)
			if k == 12 {
				for _, c := range []struct {
					s *etaStats
					w int64
				}{{&pl3, 3 * msPerDay}, {&pl7, 7 * msPerDay}} {
					eta := predictLinearETA(p, c.w, threshold)
					c.s.add(truth, eta, eta, eta)
				}
			}
		}
		slices.Sort(growthErr)
		t.Logf("%d-minute means: model: %v", k*5, &model)
		t.Logf("%d-minute means: growth_per_day / leak - 1: p10 %.3f, median %.3f, p90 %.3f",
			k*5, growthErr[len(growthErr)/10], growthErr[len(growthErr)/2], growthErr[len(growthErr)*9/10])
		if k == 12 {
			t.Logf("predict_linear on the same hosts: median relative error 3d %.3f, 7d %.3f", pl3.medianRelErr(), pl7.medianRelErr())
		}
		if e := model.medianRelErr(); e > 0.12 {
			t.Errorf("%d-minute means: median relative error of p50 %.3f, want <= 0.12", k*5, e)
		}
		if c := model.coverage(); c < want {
			t.Errorf("%d-minute means: p10-p90 coverage %.3f, want >= %.2f", k*5, c, want)
		}
	}
}

// TestRegimePlantedLeakCoverage is forecast's TestCapacityETACoverage on
// the model alone: 1000 plant.Leak series, hourly means, 30 days: the
// true crossing inside p10-p90 for at least 80 % (±1.3 points of sampling
// noise) and a median relative width (p90-p10)/p50 of at most 1.
func TestRegimePlantedLeakCoverage(t *testing.T) {
	const horizon = 30 * msPerDay
	seeds, want := 1000, 0.80
	if testing.Short() {
		seeds, want = 200, 0.72
	}
	var f RegimeFitter
	var o Outlook
	var s etaStats
	var widths []float64
	for seed := range seeds {
		p, threshold := plant.Leak(rand.New(rand.NewPCG(uint64(seed), 99)))
		truth := p.TrueETA(threshold, horizon)
		q, _ := regimeETA(t, &f, &o, p, 12, threshold, horizon)
		s.add(truth, q[0], q[1], q[2])
		widths = append(widths, (q[2]-q[0])/q[1])
	}
	slices.Sort(widths)
	t.Logf("%v; median (p90-p10)/p50 %.2f", &s, widths[len(widths)/2])
	if c := s.coverage(); c < want {
		t.Errorf("coverage %.3f, want >= %.2f", c, want)
	}
	if w := widths[len(widths)/2]; w > 1 {
		t.Errorf("median relative width %.2f, want <= 1", w)
	}
}

// TestRegimeOutlookConsistent checks the one-model-of-the-future properties
// issue 14 asks for on 200 seeded series of both generators, thresholds
// below and above their level: the crossing probability never falls with
// the horizon, an ETA quantile within a horizon is the same within every
// longer one, and a level already at or over the threshold answers
// "reached" (probability 1, ETA 0) at every horizon; and that the bounds
// of the curve (Reach, MedianBound, CrossingBound) hold.
func TestRegimeOutlookConsistent(t *testing.T) {
	var f RegimeFitter
	var o Outlook
	for seed := range 200 {
		rng, p, m := fitPlantedLeak(t, &f, seed)
		level, _, _ := m.Level(p.Now, 0)
		threshold := level + 60*rng.Float64() - 10
		// The first day at the series' step, then hourly.
		g := Grid{Step: raw, Dense: 288, Sparse: 12}
		n := g.Points(60 * msPerDay)
		m.OutlookInto(&o, threshold, p.Now, g, n)
		if reached := level >= threshold; o.Reached != reached {
			t.Fatalf("seed %d: level %.2f, threshold %.2f: reached %v", seed, level, threshold, o.Reached)
		}
		for k := 1; k < n; k++ {
			if o.Curve[k] < o.Curve[k-1] {
				t.Fatalf("seed %d: curve falls at step %d: %v < %v", seed, k, o.Curve[k], o.Curve[k-1])
			}
		}
		for range 20 {
			steps := 60 * msPerDay / raw
			h1 := 1 + rng.Int64N(steps)
			h2 := (h1 + rng.Int64N(steps-h1+1)) * raw
			h1 *= raw
			if p1, p2 := o.Prob(h1), o.Prob(h2); p1 > p2 {
				t.Fatalf("seed %d: P(cross within %d) %v > P(within %d) %v", seed, h1, p1, h2, p2)
			}
			for _, q := range []float64{0.1, 0.5, 0.9} {
				e1, ok1 := o.ETA(q, h1)
				e2, ok2 := o.ETA(q, h2)
				if ok1 && (!ok2 || e1 != e2) {
					t.Fatalf("seed %d: q%.1f ETA within %d is %v, within %d %v (%v)", seed, q, h1, e1, h2, e2, ok2)
				}
			}
			if o.Reached && (o.Prob(h1) != 1 || !okZero(o.ETA(0.9, h1))) {
				t.Fatalf("seed %d: reached but P %v, ETA %v", seed, o.Prob(h1), fmt.Sprint(o.ETA(0.9, h1)))
			}
			// The bounds a caller skips series by hold for the curve of
			// every horizon.
			to := p.Now + h1
			if m.Reach(p.Now, to) <= threshold && o.Prob(h1) > 0 {
				t.Fatalf("seed %d: threshold %.2f at or over the reach %.2f within %d, but P %v", seed, threshold, m.Reach(p.Now, to), h1, o.Prob(h1))
			}
			if b := m.CrossingBound(threshold, p.Now, to); !o.Reached && o.Prob(h1) > b+1e-12 {
				t.Fatalf("seed %d: P %v within %d over its bound %v", seed, o.Prob(h1), h1, b)
			}
			eta, ok := o.ETA(0.5, h1)
			if bound, bok := m.MedianBound(threshold, p.Now, to); ok && (!bok || float64(bound-p.Now) > eta) {
				t.Fatalf("seed %d: median ETA %.0f ms within %d, bound %d ms (%v)", seed, eta, h1, bound-p.Now, bok)
			}
		}
	}
}

func okZero(eta float64, ok bool) bool { return ok && eta == 0 }

// TestRegimePartialRegression checks the block formulas against direct
// fits: adding a change to a fit lowers its sum of squares by the partial
// regression's gain, and the placement's level and growth at the last
// point are those of the refitted model.
func TestRegimePartialRegression(t *testing.T) {
	p := plant.LeakAfterQuiet(rand.New(rand.NewPCG(1, 2)))
	y, last := aggregate(p.Values, p.Now, raw, 12)
	var f RegimeFitter
	if _, err := f.Fit(y, last, 12*raw); err != nil {
		t.Fatal(err)
	}
	base := f.withChanges(baseColumns(regimeTerms), []change{{f.n / 3, changeLevel}})
	sse0, _ := f.solve(base)
	var e changeEffect
	for _, c := range []int{f.n / 2, f.n - 30} {
		for _, kind := range changeKinds {
			f.solve(base)
			f.evaluate(&e, c)
			gain, ok := e.gain(&f, kind)
			if !ok {
				t.Fatalf("change %d at %d: collinear", kind, c)
			}
			ext := appendChange(slices.Clone(base), change{c, kind})
			sse1, _ := f.solve(ext)
			if d := sse0 - sse1; math.Abs(d-gain) > 1e-6*sse0 {
				t.Errorf("change %d at %d: gain %.9g, refit %.9g", kind, c, gain, d)
			}
			var level, slope float64
			for i, col := range f.cols {
				switch col.kind {
				case stepCol:
					level += f.beta[i]
				case hingeCol:
					level -= f.beta[i] * f.u[col.at]
					slope += f.beta[i]
				}
			}
			f.alts = f.alts[:0]
			f.scores = f.scores[:0]
			f.placements(baseColumns(regimeTerms), []change{{f.n / 3, changeLevel}}, -1, 1, 1, false)
			found := false
			for _, a := range f.alts {
				if a.start == f.timeAt(c) && math.Abs(a.level-level) < 1e-6*math.Abs(level) && math.Abs(a.slope-slope) < 1e-6+1e-6*math.Abs(slope) {
					found = true
				}
			}
			if c%f.spacing == 0 && !found && kind != changeLevel {
				t.Errorf("change %d at %d: no placement with level %.6g and growth %.6g", kind, c, level, slope)
			}
		}
	}
}

// TestHarmonicIter checks the rotated harmonics against math.Sincos over
// four weeks of five-minute steps.
func TestHarmonicIter(t *testing.T) {
	t0 := int64(1772323200000) + 7*raw
	it := newHarmonicIter(t0, raw, true)
	var row [regimeTerms]float64
	worst := 0.0
	for i := range 4 * 7 * 288 {
		it.next(row[:])
		tt := t0 + int64(i)*raw
		for k := 1; k <= dailyHarmonics; k++ {
			s, c := math.Sincos(2 * math.Pi * float64(k) * float64(tt%msPerDay) / msPerDayF)
			worst = math.Max(worst, math.Max(math.Abs(row[2*k-2]-s), math.Abs(row[2*k-1]-c)))
		}
		for k := 1; k <= weeklyHarmonics; k++ {
			s, c := math.Sincos(2 * math.Pi * float64(k) * float64(tt%msPerWeek) / float64(msPerWeek))
			j := dailyTerms + 2*k - 2
			worst = math.Max(worst, math.Max(math.Abs(row[j]-s), math.Abs(row[j+1]-c)))
		}
	}
	if worst > 1e-12 {
		t.Errorf("largest difference from math.Sincos %g", worst)
	}
}

// TestRegimeTooShort checks that less than two days is refused.
func TestRegimeTooShort(t *testing.T) {
	if _, err := FitRegimeTrend(make([]float64, 47), 0, 3600*1000); err != ErrTooFewPoints {
		t.Errorf("47 hours: err %v, want ErrTooFewPoints", err)
	}
}

// TestRegimeOutlookLazy checks that OutlookLazyInto's points are
// OutlookInto's to the bit, and that ETAOf bisecting on them finds ETA's
// quantiles, on the planted leaks of TestRegimeOutlookConsistent with
// thresholds below, near and above their levels.
func TestRegimeOutlookLazy(t *testing.T) {
	var f RegimeFitter
	var full, lazy Outlook
	for seed := range 100 {
		_, p, m := fitPlantedLeak(t, &f, seed)
		level, _, _ := m.Level(p.Now, 0)
		g := Grid{Step: raw, Dense: 288, Sparse: 12}
		n := g.Points(60 * msPerDay)
		for _, threshold := range []float64{level - 1, level + 0.5, level + 5, level + 20, level + 60} {
			m.OutlookInto(&full, threshold, p.Now, g, n)
			m.OutlookLazyInto(&lazy, threshold, p.Now, g, n)
			if lazy.Len() != len(full.Curve) {
				t.Fatalf("seed %d, threshold %g: %d points, want %d", seed, threshold, lazy.Len(), len(full.Curve))
			}
			for k, want := range full.Curve {
				if got := lazy.At(k); math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("seed %d, threshold %g: point %d %v, want %v", seed, threshold, k, got, want)
				}
			}
			for _, q := range []float64{0.1, 0.5, 0.9} {
				want, wok := ETA(full.Curve, q)
				if got, ok := ETAOf(lazy.Len(), lazy.At, q); ok != wok || math.Float64bits(got) != math.Float64bits(want) {
					t.Fatalf("seed %d, threshold %g: ETAOf(%g) %v %v, want %v %v", seed, threshold, q, got, ok, want, wok)
				}
			}
		}
	}
}

// fitPlantedLeak fits f to seed's planted leak, after a quiet fortnight
// for even seeds, aggregated as the capacity plans aggregate.
func fitPlantedLeak(t *testing.T, f *RegimeFitter, seed int) (*rand.Rand, plant.Series, *RegimeTrend) {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	var p plant.Series
	if seed%2 == 0 {
		p = plant.LeakAfterQuiet(rng)
	} else {
		p, _ = plant.Leak(rng)
	}
	y, last := aggregate(p.Values, p.Now, raw, 12)
	m, err := f.Fit(y, last, 12*raw)
	if err != nil {
		t.Fatal(err)
	}
	return rng, p, m
}
