package model

import (
	"math"
	"slices"
)

// Outlook is one model's answer to "when does the level reach a
// threshold", on a grid from From every Step ms: every horizon's answer is
// read from the one curve, so a longer horizon never contradicts a shorter
// one. Curve[k-1] is the probability that the level has reached Threshold
// by From + k·Step, the posterior mixture over the model's alternatives
//
//	F(k) = Σ_j w_j · max_{i≤k} P(Y_{j,i} ≥ threshold)
//
// of each alternative's running maximum of marginal exceedance
// probabilities (CrossingCurve), hence non-decreasing in k. For a linear
// trend with Gaussian coefficients the running maximum is the first-passage
// probability (a line's maximum over an interval is at an end), and the
// cycles make it a close lower bound.
type Outlook struct {
	Threshold  float64
	From, Step int64
	// Reached is set when the level at From is already at or over the
	// threshold: every horizon answers "reached", ETA 0.
	Reached bool
	Curve   []float64
	run     []float64
}

// Prob returns the probability that the level reaches the threshold within
// h steps (h ≤ len(Curve)); 1 when it has been reached.
func (o *Outlook) Prob(h int) float64 {
	switch {
	case o.Reached:
		return 1
	case h <= 0:
		return 0
	}
	return o.Curve[min(h, len(o.Curve))-1]
}

// ETA returns the q-quantile of the time to reach the threshold, in steps,
// when it lies within h steps (see ETA); 0 when it has been reached. The
// quantile within h is the quantile within any longer horizon when it is
// at most h.
func (o *Outlook) ETA(q float64, h int) (steps float64, ok bool) {
	if o.Reached {
		return 0, true
	}
	return ETA(o.Curve[:min(max(h, 0), len(o.Curve))], q)
}

// OutlookInto fills dst with the crossing curve of threshold over n steps
// of step ms after from (normally the time of the newest raw sample, at or
// after the model's last point), reusing dst's buffers.
func (m *RegimeTrend) OutlookInto(dst *Outlook, threshold float64, from, step int64, n int) {
	dst.Threshold, dst.From, dst.Step = threshold, from, step
	dst.Curve = resize(dst.Curve, n)
	if mean, _, _ := m.Level(from, 0); mean >= threshold {
		dst.Reached = true
		for i := range dst.Curve {
			dst.Curve[i] = 1
		}
		return
	}
	dst.Reached = false
	// Each component's running maximum changes only when its standardised
	// distance to the threshold z reaches a new minimum: zmin[j] keeps it,
	// and the normal tail is computed only then.
	dst.run = resize(dst.run, 2*len(m.comps))
	run, zmin := dst.run[:len(m.comps)], dst.run[len(m.comps):]
	for j := range m.comps {
		run[j], zmin[j] = 0, regimeMaxZ
	}
	var row [regimeTerms]float64
	h := row[:len(m.season)]
	it := newHarmonicIter(from+step, step, m.Weekly)
	for k := range n {
		it.next(row[:])
		t := from + int64(k+1)*step
		u := float64(t-m.last) / msPerDayF
		sm, sv := dot(h, m.season), m.seasonVar(h)
		f := 0.0
		for j, c := range m.comps {
			gap := threshold - (c.level + c.slope*u + sm)
			v := c.c00 + 2*c.c01*u + c.c11*u*u + sv
			var z float64
			switch {
			case v > 0:
				z = gap / math.Sqrt(v)
			case gap <= 0:
				z = math.Inf(-1)
			default:
				z = math.Inf(1)
			}
			if z < zmin[j] {
				zmin[j], run[j] = z, 0.5*math.Erfc(z/math.Sqrt2)
			}
			f += c.w * run[j]
		}
		if k > 0 {
			// Rounding of the weighted sum must not break monotonicity.
			f = max(f, dst.Curve[k-1])
		}
		dst.Curve[k] = math.Min(f, 1)
	}
}

// regimeMaxZ is the standardised distance beyond which a crossing
// probability is taken as 0 (1-Φ(9) ≈ 1e-19).
const regimeMaxZ = 9

// exceedance returns P(N(mean, sd²) ≥ limit).
func exceedance(limit, mean, sd float64) float64 {
	if !(sd > 0) {
		if mean >= limit {
			return 1
		}
		return 0
	}
	z := (limit - mean) / sd
	if z > 9 {
		return 0
	}
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// seasonVar returns hᵀCh for the cycles' harmonics h at one time, C their
// coefficients' covariance.
func (m *RegimeTrend) seasonVar(h []float64) float64 {
	q := len(h)
	v := 0.0
	for i, hi := range h {
		row := m.seasonCov[i*q : (i+1)*q]
		s := 0.0
		for j := range i {
			s += row[j] * h[j]
		}
		v += hi * (2*s + row[i]*hi)
	}
	return v
}

// at returns the mean and standard deviation of component c's level at t,
// the cycles contributing mean sm and variance sv.
func (m *RegimeTrend) at(c regimeComp, t int64, sm, sv float64) (mean, sd float64) {
	u := float64(t-m.last) / msPerDayF
	v := c.c00 + 2*c.c01*u + c.c11*u*u + sv
	return c.level + c.slope*u + sm, math.Sqrt(math.Max(v, 0))
}

// Level returns the mean of the level at t (Unix ms) and its central
// interval of the given coverage in (0, 1) (lo = hi = mean for 0): the
// quantiles of the posterior mixture, found by bisection.
func (m *RegimeTrend) Level(t int64, coverage float64) (mean, lo, hi float64) {
	var row [regimeTerms]float64
	it := newHarmonicIter(t, 1, m.Weekly)
	it.next(row[:])
	h := row[:len(m.season)]
	sm, sv := dot(h, m.season), m.seasonVar(h)
	bottom, top := math.Inf(1), math.Inf(-1)
	for _, c := range m.comps {
		mu, sd := m.at(c, t, sm, sv)
		mean += c.w * mu
		bottom, top = math.Min(bottom, mu-9*sd), math.Max(top, mu+9*sd)
	}
	if coverage <= 0 || bottom == top {
		return mean, mean, mean
	}
	cdf := func(x float64) float64 {
		p := 0.0
		for _, c := range m.comps {
			mu, sd := m.at(c, t, sm, sv)
			p += c.w * (1 - exceedance(x, mu, sd))
		}
		return p
	}
	quantile := func(p float64) float64 {
		a, b := bottom, top
		for range 60 {
			if c := (a + b) / 2; cdf(c) < p {
				a = c
			} else {
				b = c
			}
		}
		return (a + b) / 2
	}
	return mean, quantile((1 - coverage) / 2), quantile((1 + coverage) / 2)
}

// GrowthPerDay returns the posterior mean and standard deviation of the
// current regime's growth per day: the growth the crossing curve rests on.
func (m *RegimeTrend) GrowthPerDay() (mean, sd float64) {
	var second float64
	for _, c := range m.comps {
		mean += c.w * c.slope
		second += c.w * (c.slope*c.slope + c.c11)
	}
	return mean, math.Sqrt(math.Max(second-mean*mean, 0))
}

// RegimeStart returns the posterior median of the time the current regime
// started (Unix ms): the last change point, or the first point when none.
func (m *RegimeTrend) RegimeStart() int64 { return m.start }

// Changes returns the change points of the selected model, oldest first.
func (m *RegimeTrend) Changes() []RegimeChange { return slices.Clone(m.changes) }
