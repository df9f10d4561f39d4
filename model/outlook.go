package model

import (
	"math"
	"slices"
)

// Grid places the points of a crossing curve after its origin: one every
// Step ms for the first Dense points, then one every Sparse steps (Sparse
// at most 1 makes it uniform). A capacity plan keeps its first hours at
// the series' step, where a recent ramp can cross, and has a point an
// hour beyond, where the level it asks about moves little within an hour:
// a month at one minute is about a thousand points rather than 43,200.
// The grid does not depend on the horizon, so a shorter horizon's curve is
// a prefix of a longer one's.
type Grid struct {
	Step          int64
	Dense, Sparse int
}

func (g Grid) sparse() int64 { return int64(max(g.Sparse, 1)) }

// At returns the offset in ms of point j (from 0) from the origin.
func (g Grid) At(j int) int64 {
	if j < g.Dense {
		return int64(j+1) * g.Step
	}
	return (int64(g.Dense) + int64(j+1-g.Dense)*g.sparse()) * g.Step
}

// Points returns the number of points within h ms of the origin.
func (g Grid) Points(h int64) int {
	k := max(h, 0) / g.Step
	if k <= int64(g.Dense) {
		return int(k)
	}
	return g.Dense + int((k-int64(g.Dense))/g.sparse())
}

// Offset converts a position x on a curve as ETA returns it (point j at
// j+1, interpolated in between) to ms from the origin.
func (g Grid) Offset(x float64) float64 {
	if x <= float64(g.Dense) || math.IsInf(x, 0) {
		return x * float64(g.Step)
	}
	return (float64(g.Dense) + (x-float64(g.Dense))*float64(g.sparse())) * float64(g.Step)
}

// Outlook is one model's answer to "when does the level reach a
// threshold", on a Grid from From: every horizon's answer is read from the
// one curve, so a longer horizon never contradicts a shorter one.
// Curve[j] is the probability that the level has reached Threshold by
// From + Grid.At(j), the posterior mixture over the model's alternatives
//
//	F(j) = Σ_c w_c · max_{i≤j} P(Y_{c,i} ≥ threshold)
//
// of each alternative's running maximum of marginal exceedance
// probabilities (CrossingCurve), hence non-decreasing in j. For a linear
// trend with Gaussian coefficients the running maximum is the first-passage
// probability (a line's maximum over an interval is at an end), and the
// cycles make it a close lower bound.
type Outlook struct {
	Threshold float64
	From      int64
	Grid      Grid
	// Reached is set when the level at From is already at or over the
	// threshold: every horizon answers "reached", ETA 0.
	Reached bool
	// Curve is the curve OutlookInto fills; OutlookLazyInto leaves it
	// empty unless it had to fill it (see At).
	Curve []float64
	run   []float64
	live  []int
	cyc   [][2]float64 // the cycles' mean and variance over a week
	// lazy is set when At computes the curve's points from zs: each live
	// component's nearest standardised approach after every point, row k
	// for point k, +Inf before its first (see OutlookLazyInto); w are the
	// live components' weights and n the curve's length.
	lazy bool
	zs   []float64
	w    []float64
	n    int
}

// Len returns the number of points of the curve.
func (o *Outlook) Len() int {
	if o.lazy {
		return o.n
	}
	return len(o.Curve)
}

// At returns the curve's point k, Curve[k] as OutlookInto computes it:
// from the components' nearest approaches by point k when the outlook is
// lazy, one normal tail per live component.
func (o *Outlook) At(k int) float64 {
	if !o.lazy {
		return o.Curve[k]
	}
	L := len(o.w)
	f := 0.0
	for i, z := range o.zs[k*L : (k+1)*L] {
		if z <= -regimeMaxZ {
			f += o.w[i]
			continue
		}
		run := 0.5 * math.Erfc(z/math.Sqrt2) // 0 for +Inf
		f += o.w[i] * run
	}
	return math.Min(f, 1)
}

// Prob returns the probability that the level reaches the threshold within
// h ms of From (at most the curve's span); 1 when it has been reached.
func (o *Outlook) Prob(h int64) float64 {
	n := min(o.Grid.Points(h), o.Len())
	switch {
	case o.Reached:
		return 1
	case n <= 0:
		return 0
	}
	return o.At(n - 1)
}

// ETA returns the q-quantile of the time to reach the threshold, in ms
// from From, when it lies within h ms (see ETA); 0 when it has been
// reached. The quantile within h is the quantile within any longer
// horizon when it is at most h.
func (o *Outlook) ETA(q float64, h int64) (ms float64, ok bool) {
	if o.Reached {
		return 0, true
	}
	x, ok := ETAOf(min(o.Grid.Points(h), o.Len()), o.At, q)
	return o.Grid.Offset(x), ok
}

// OutlookInto fills dst with the crossing curve of threshold over the
// first n points of grid after from (normally the time of the newest raw
// sample, at or after the model's last point), reusing dst's buffers.
func (m *RegimeTrend) OutlookInto(dst *Outlook, threshold float64, from int64, grid Grid, n int) {
	m.outlook(dst, threshold, from, grid, n, false)
}

// OutlookLazyInto sets dst up to answer for the same curve as OutlookInto,
// for a caller that reads a few of its points (At, ETAOf), not all: a
// normal tail per live component at each point read, where OutlookInto
// computes one at every new nearest approach of every component, which
// for a series growing towards the threshold is nearly every point.
//
// The points At computes are OutlookInto's to the bit: the same tails of
// the same nearest approaches, summed in the same order. OutlookInto also
// keeps the curve non-decreasing against rounding, which At cannot
// without every point before; it need not when each component's tail
// never decreases from one nearest approach to the next (a sum of
// non-decreasing terms rounds to non-decreasing sums), and that holds
// when each approach is nearer than the last by more than 1e-7 (in z, at
// least 1e-7·|z|): the normal tail's derivative relative to itself is at
// least √(2/π) on z ≥ 0, and on z < 0 its complement's is, so its
// change over such a step is far beyond the few ulps math.Erfc may err
// by. A closer step's two tails are computed and compared; when one
// decreases, dst.Curve is filled as OutlookInto fills it.
func (m *RegimeTrend) OutlookLazyInto(dst *Outlook, threshold float64, from int64, grid Grid, n int) {
	if !m.outlook(dst, threshold, from, grid, n, true) {
		m.outlook(dst, threshold, from, grid, n, false)
	}
}

// outlook fills dst as OutlookInto does, or, when lazy, as
// OutlookLazyInto does, and then reports whether At's points are
// OutlookInto's.
func (m *RegimeTrend) outlook(dst *Outlook, threshold float64, from int64, grid Grid, n int, lazy bool) bool {
	dst.Threshold, dst.From, dst.Grid = threshold, from, grid
	dst.lazy, dst.n = false, n
	dst.Curve = resize(dst.Curve, n)
	if mean, _, _ := m.Level(from, 0); mean >= threshold {
		dst.Reached = true
		for i := range dst.Curve {
			dst.Curve[i] = 1
		}
		return true
	}
	dst.Reached = false
	// Each component's running maximum changes only when its standardised
	// distance to the threshold z reaches a new minimum: zmin[j] keeps it,
	// and the normal tail is computed only then. A component whose bound
	// (zFloor) keeps it regimeMaxZ away over the whole curve adds nothing.
	dst.run = resize(dst.run, 2*len(m.comps))
	run, zmin := dst.run[:len(m.comps)], dst.run[len(m.comps):]
	live := dst.live[:0]
	if n > 0 {
		u0, u1 := m.days(from), m.days(from+grid.At(n-1))
		for j, c := range m.comps {
			run[j], zmin[j] = 0, regimeMaxZ
			if m.zFloor(c, threshold, u0, u1) < regimeMaxZ {
				live = append(live, j)
			}
		}
	}
	dst.live = live
	// In lazy mode, set marks the components that have had a nearest
	// approach: before it, a component's tail is 0, not its bound's.
	var set []bool
	monotone := true
	if lazy {
		dst.lazy, dst.Curve = true, dst.Curve[:0]
		dst.w = dst.w[:0]
		for _, j := range live {
			dst.w = append(dst.w, m.comps[j].w)
		}
		dst.zs = resize(dst.zs, n*len(live))
		set = make([]bool, len(live))
	}
	// The cycles repeat every week: on a grid whose spacing divides a
	// week, the sparse points' cycles are computed for one week of them
	// and read back after.
	spacing := grid.Step * grid.sparse()
	period := 0
	if msPerWeek%spacing == 0 {
		period = int(msPerWeek / spacing)
	}
	dst.cyc = dst.cyc[:0]
	var row [regimeTerms]float64
	h := row[:len(m.season)]
	var it harmonicIter
	for k := range n {
		t := from + grid.At(k)
		if k == 0 || k == grid.Dense {
			// The harmonics rotate by the grid's spacing, which changes
			// once.
			step := grid.Step
			if k > 0 {
				step = spacing
			}
			it = newHarmonicIter(t, step, m.Weekly)
		}
		var sm, sv float64
		if s := k - grid.Dense; k >= grid.Dense && period > 0 && s >= period {
			c := dst.cyc[s%period]
			sm, sv = c[0], c[1]
		} else {
			it.next(row[:])
			sm, sv = dot(h, m.season), m.seasonVar(h)
			if k >= grid.Dense && period > 0 {
				dst.cyc = append(dst.cyc, [2]float64{sm, sv})
			}
		}
		u := m.days(t)
		f := 0.0
		for i, j := range live {
			c := m.comps[j]
			if zmin[j] <= -regimeMaxZ {
				// Crossed with certainty: nothing can raise its maximum.
				f += c.w
				if lazy {
					dst.zs[k*len(live)+i] = zmin[j]
				}
				continue
			}
			// z = gap/√v reaches a new minimum when z < zmin, compared
			// without the root: gap·|gap| < zmin·|zmin|·v for v > 0.
			gap := threshold - (c.level + c.slope*u + sm)
			v := c.c00 + 2*c.c01*u + c.c11*u*u + sv
			switch {
			case v > 0:
				if zm := zmin[j]; gap*math.Abs(gap) < zm*math.Abs(zm)*v {
					z := gap / math.Sqrt(v)
					if !lazy {
						zmin[j], run[j] = z, 0.5*math.Erfc(z/math.Sqrt2)
						break
					}
					if set[i] && !(zm-z > 1e-7*max(1, math.Abs(zm))) && math.Erfc(z/math.Sqrt2) < math.Erfc(zm/math.Sqrt2) {
						monotone = false
					}
					zmin[j], set[i] = z, true
				}
			case gap <= 0:
				zmin[j], run[j] = math.Inf(-1), 1
				if lazy {
					set[i] = true
				}
			}
			if lazy {
				z := math.Inf(1)
				if set[i] {
					z = zmin[j]
				}
				dst.zs[k*len(live)+i] = z
				continue
			}
			f += c.w * run[j]
		}
		if lazy {
			continue
		}
		if k > 0 {
			// Rounding of the weighted sum must not break monotonicity.
			f = max(f, dst.Curve[k-1])
		}
		dst.Curve[k] = math.Min(f, 1)
	}
	return monotone
}

// days returns t (Unix ms) in days from the model's last point.
func (m *RegimeTrend) days(t int64) float64 { return float64(t-m.last) / msPerDayF }

// The crossing bounds below let a caller with many series skip those whose
// curve cannot matter, before computing any: each component's level is
// bounded above by its trend plus the cycles' largest value, and its
// variance by the trend's plus the cycles' largest variance (seasonBounds),
// so its standardised distance to a threshold is at least
//
//	z(u) = (a - b·u) / √(c + 2d·u + e·u²),   a = threshold - level - amp,
//	b = growth, c = c₀₀ + svMax, d = c₀₁, e = c₁₁,
//
// u in days from the model's last point. z′(u) has the sign of
// -(bc + ad) - (bd + ae)·u, so z has at most one stationary point,
// u* = -(bc + ad)/(bd + ae), and its minimum over an interval is at an end
// or there.

// zFloor returns a lower bound on component c's standardised distance to
// threshold over [u0, u1].
func (m *RegimeTrend) zFloor(c regimeComp, threshold, u0, u1 float64) float64 {
	a, b := threshold-c.level-m.amp, c.slope
	c0 := c.c00 + m.svMax
	z := func(u float64) float64 {
		gap := a - b*u
		switch v := c0 + 2*c.c01*u + c.c11*u*u; {
		case v > 0:
			return gap / math.Sqrt(v)
		case gap <= 0:
			return math.Inf(-1)
		}
		return math.Inf(1)
	}
	lo := math.Min(z(u0), z(u1))
	if den := b*c.c01 + a*c.c11; den != 0 {
		if us := -(b*c0 + a*c.c01) / den; us > u0 && us < u1 {
			lo = math.Min(lo, z(us))
		}
	}
	return lo
}

// Reach returns a value that no component's level comes within
// regimeMaxZ standard deviations of between from and to (Unix ms): for a
// threshold at or above it, every crossing curve over that span is 0. The
// bound level + amp + regimeMaxZ·sd of a component is a line plus the
// square root of a positive quadratic, convex in time, so its largest
// value is at an end.
func (m *RegimeTrend) Reach(from, to int64) float64 {
	reach := math.Inf(-1)
	for _, c := range m.comps {
		for _, u := range [2]float64{m.days(from), m.days(to)} {
			v := c.c00 + 2*c.c01*u + c.c11*u*u + m.svMax
			reach = math.Max(reach, c.level+c.slope*u+m.amp+regimeMaxZ*math.Sqrt(math.Max(v, 0)))
		}
	}
	return reach
}

// MedianBound returns a time (Unix ms) at or before which the median of
// the time to reach threshold from from cannot fall, and false when it
// cannot fall before to: a mixture's crossing probability reaches 1/2 only
// once some component's bound z(u) has reached 0 (all at distance z > 0,
// each probability is below 1/2, and so is their average), that is once
// the line level + growth·u + amp has reached the threshold.
func (m *RegimeTrend) MedianBound(threshold float64, from, to int64) (int64, bool) {
	u0, u1 := m.days(from), m.days(to)
	first := math.Inf(1)
	for _, c := range m.comps {
		a := threshold - c.level - m.amp
		switch {
		case a-c.slope*u0 <= 0:
			return from, true
		case c.slope > 0:
			first = math.Min(first, a/c.slope)
		}
	}
	if first > u1 {
		return to, false
	}
	return m.last + int64(first*msPerDayF), true
}

// CrossingBound returns an upper bound on the probability that the level
// reaches threshold between from and to (Unix ms), for a threshold over
// the level at from: each component's probability is at most that of its
// bound, Φ(-min z) (see zFloor).
func (m *RegimeTrend) CrossingBound(threshold float64, from, to int64) float64 {
	u0, u1 := m.days(from), m.days(to)
	p := 0.0
	for _, c := range m.comps {
		if z := m.zFloor(c, threshold, u0, u1); z < regimeMaxZ {
			p += c.w * 0.5 * math.Erfc(z/math.Sqrt2)
		}
	}
	return p
}

// seasonBounds returns bounds on the cycles over all times: their value is
// at most the sum of the harmonics' amplitudes √(c_k² + s_k²), and the
// variance of their estimate hᵀCh at most λ_max(C)·|h|², |h|² = q/2 (each
// harmonic's sin² + cos² is 1) and λ_max at most C's largest absolute row
// sum (Gershgorin).
func seasonBounds(season, cov []float64) (amp, svMax float64) {
	q := len(season)
	for k := 0; k+1 < q; k += 2 {
		amp += math.Hypot(season[k], season[k+1])
	}
	for i := range q {
		row := 0.0
		for _, x := range cov[i*q : (i+1)*q] {
			row += math.Abs(x)
		}
		svMax = math.Max(svMax, row)
	}
	return amp, svMax * float64(q) / 2
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
	sm, sv := m.cycles(t)
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

// LevelMoments returns the mean and standard deviation of the level at t
// (Unix ms), the posterior mixture's first two moments: cheaper than
// Level's quantiles, for a summary such as an interval at one time.
func (m *RegimeTrend) LevelMoments(t int64) (mean, sd float64) {
	sm, sv := m.cycles(t)
	second := 0.0
	for _, c := range m.comps {
		mu, s := m.at(c, t, sm, sv)
		mean += c.w * mu
		second += c.w * (mu*mu + s*s)
	}
	return mean, math.Sqrt(math.Max(second-mean*mean, 0))
}

// cycles returns the cycles' mean and the variance of their estimate at t.
func (m *RegimeTrend) cycles(t int64) (mean, variance float64) {
	var row [regimeTerms]float64
	it := newHarmonicIter(t, 1, m.Weekly)
	it.next(row[:])
	h := row[:len(m.season)]
	return dot(h, m.season), m.seasonVar(h)
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
