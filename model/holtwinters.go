package model

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// ErrTooShort is returned when a series is too short to initialise a model.
var ErrTooShort = errors.New("series too short")

// HoltWintersOptions configures FitHoltWinters.
type HoltWintersOptions struct {
	// Period is the seasonal period in steps; 0 or 1 means no seasonality
	// (Holt's linear trend).
	Period int
	// Damped selects the damped-trend model ETS(A,Ad,A).
	Damped bool
	// Alpha, Beta, Gamma and Phi, when non-nil, are fixed instead of
	// optimised (tests use this to reproduce R with R's parameters).
	// Phi may only be set together with Damped.
	Alpha, Beta, Gamma, Phi *float64
	// Init, when non-nil, is the state before y[0], used instead of R's
	// decompose-based start; filtering then starts at y[0] and leading
	// missing points are kept (tests use this to reproduce statsmodels'
	// ExponentialSmoothing with its initial states).
	Init *HoltWintersInit

	// start, when set, replaces the grid search of the optimiser: Select
	// starts the damped model from the undamped optimum with φ = 0.95
	// (not at a bound, where the sin² map has no gradient), which saves
	// the 24 SSE passes of the grid.
	start *[4]float64
}

// HoltWintersInit is a Holt-Winters state before the first observation:
// the one-step forecast of y[0] is Level + φ·Trend + Season[0], and
// Season[i] is the seasonal component of y[i] for i < Period (statsmodels'
// initial_level, initial_trend and initial_seasons). Season has Period
// entries, none without seasonality.
type HoltWintersInit struct {
	Level, Trend float64
	Season       []float64
}

// HoltWinters is a fitted additive Holt-Winters model in R's
// stats::HoltWinters parametrisation, optionally with a damped trend
// (Gardner & McKenzie 1985). With one-step error e_t = y_t - ŷ_t:
//
//	ŷ_t = l_{t-1} + φ b_{t-1} + s_{t-m}
//	l_t = α (y_t - s_{t-m}) + (1-α)(l_{t-1} + φ b_{t-1})
//	b_t = β (l_t - l_{t-1}) + (1-β) φ b_{t-1}
//	s_t = γ (y_t - l_t) + (1-γ) s_{t-m}
//
// (φ = 1 without damping). This is ETS(A,A,A) / ETS(A,Ad,A) of Hyndman et
// al., "Forecasting with Exponential Smoothing" (2008), with their β* = αβ and
// γ* = γ(1-α). A HoltWinters is not safe for concurrent use.
type HoltWinters struct {
	Alpha, Beta, Gamma, Phi float64
	// Period is the seasonal period in steps, 0 without seasonality.
	Period int
	// SSE is the sum of squared one-step errors over the fitted series.
	SSE float64
	// Sigma is the standard deviation of the one-step residuals of the fit
	// (R's sqrt(var(residuals(fit)))); Update does not change it.
	Sigma float64
	// N is the number of observations consumed, by the fit and by Update.
	N int

	hwState
}

// hwState is the filter state: level, trend and a ring of seasonal
// components where season[pos] belongs to the next step. After compact the
// ring is season16 and season is nil.
type hwState struct {
	level, trend float64
	season       []float64
	season16     profile16
	pos          int
}

// seasonAt returns seasonal component i of the ring.
func (s *hwState) seasonAt(i int) float64 {
	if s.season == nil {
		return s.season16.at(i)
	}
	return s.season[i]
}

// ringLen is the length of the seasonal ring (1 without a season).
func (s *hwState) ringLen() int {
	if s.season == nil {
		return s.season16.len()
	}
	return len(s.season)
}

// compact moves the seasonal ring to 16 bits a component (profile16),
// a quarter of the state of a one-minute daily season (1,440 components:
// 11.5 KB to 2.9 KB). The level and trend stay float64: they carry the
// series' magnitude, while a seasonal component is a deviation, whose
// rounding (3e-5 of the largest) is far below the one-step error; the ring
// regains its resolution once a cycle (profile16.tighten) should its
// components shrink. The fit and the reference tests run on the float64
// ring.
func (s *hwState) compact() {
	if s.season == nil || len(s.season) <= 1 {
		return
	}
	s.season16 = newProfile16(s.season)
	s.season = nil
}

// step advances the state by one observation y and returns the one-step
// error, or NaN when y is missing (not finite), in which case the state
// advances on its own forecast.
func (s *hwState) step(y, alpha, beta, gamma, phi float64) float64 {
	st := s.seasonAt(s.pos)
	damped := phi * s.trend
	if !finite(y) {
		s.level += damped
		s.trend = damped
		s.advance()
		return math.NaN()
	}
	e := y - (s.level + damped + st)
	prev := s.level
	s.level = alpha*(y-st) + (1-alpha)*(prev+damped)
	s.trend = beta*(s.level-prev) + (1-beta)*damped
	if v := gamma*(y-s.level) + (1-gamma)*st; s.season == nil {
		s.season16.set(s.pos, v)
	} else {
		s.season[s.pos] = v
	}
	s.advance()
	return e
}

func (s *hwState) advance() {
	s.pos++
	if s.pos == s.ringLen() {
		s.pos = 0
		if s.season == nil {
			s.season16.tighten()
		}
	}
}

// FitHoltWinters fits an additive Holt-Winters model to y. NaN (or any
// non-finite value) marks a missing point: the state advances on its forecast
// without correction. Leading missing points are dropped unless opts.Init
// gives the initial state.
//
// Without opts.Init, initial states follow R's stats::HoltWinters with
// start.periods = 2: the seasonal start is decompose()'s figure over the
// first two periods, the level and trend starts are the intercept and slope
// of a regression of its moving-average trend on 1..k, and filtering starts
// at the second period; without seasonality l = y[1], b = y[1]-y[0] and
// filtering starts at y[2]. With opts.Init, filtering starts at y[0].
// Free parameters minimise the SSE over α, β, γ ∈ [0,1] (and φ ∈ [0.8,0.98]
// when damped) by BFGS on exact (adjoint) gradients, started from the best
// point of a small grid; the SSE matches or beats R's L-BFGS-B from
// (0.3, 0.1, 0.1).
func FitHoltWinters(y []float64, opts HoltWintersOptions) (*HoltWinters, error) {
	period := opts.Period
	if period <= 1 {
		period = 0
	}
	var (
		init  hwState
		start int
		err   error
	)
	if opts.Init != nil {
		init, err = opts.Init.state(period)
		if err == nil && len(y) == 0 {
			err = fmt.Errorf("cannot fit an empty series: %w", ErrTooShort)
		}
	} else {
		for len(y) > 0 && !finite(y[0]) {
			y = y[1:]
		}
		init, start, err = hwInit(y, period)
	}
	if err != nil {
		return nil, err
	}
	obj, err := newHWObjective(y[start:], &init, period, opts)
	if err != nil {
		return nil, err
	}
	defer obj.release()
	theta := obj.optimise()

	// The final pass leaves the state after the last observation, and the
	// residuals for R's var(residuals(fit)): divisor n-1, mean removed.
	sse := obj.sse(theta)
	m := &HoltWinters{
		Alpha: theta[0], Beta: theta[1], Gamma: theta[2], Phi: theta[3],
		Period: period,
		SSE:    sse,
	}
	m.level, m.trend = obj.endLevel, obj.endTrend
	m.season = obj.sring // the objective is done with it
	m.pos = (init.pos + len(obj.y)%len(m.season)) % len(m.season)
	var n int
	var sum float64
	for i, v := range obj.y {
		if finite(v) {
			n++
			sum += obj.e[i]
		}
	}
	if n > 1 {
		mean := sum / float64(n)
		m.Sigma = math.Sqrt(math.Max(sse-float64(n)*mean*mean, 0) / float64(n-1))
	}
	m.N = len(y)
	return m, nil
}

// state validates the given initial state for period and copies it into a
// filter state.
func (in *HoltWintersInit) state(period int) (hwState, error) {
	if len(in.Season) != period {
		return hwState{}, fmt.Errorf("cannot use %d initial seasonal components for period %d", len(in.Season), period)
	}
	if !finite(in.Level) || !finite(in.Trend) {
		return hwState{}, fmt.Errorf("cannot use initial level %g and trend %g: not finite", in.Level, in.Trend)
	}
	s := []float64{0}
	if period > 0 {
		s = append([]float64(nil), in.Season...)
	}
	for i, v := range s {
		if !finite(v) {
			return hwState{}, fmt.Errorf("cannot use initial seasonal component %d = %g: not finite", i, v)
		}
	}
	return hwState{level: in.Level, trend: in.Trend, season: s}, nil
}

// hwInit computes the initial state (R's l.start, b.start, s.start) and the
// index of the first filtered observation.
func hwInit(y []float64, period int) (hwState, int, error) {
	if period == 0 {
		if len(y) < 3 {
			return hwState{}, 0, fmt.Errorf("cannot initialise Holt's trend from %d points (need 3): %w", len(y), ErrTooShort)
		}
		if !finite(y[1]) {
			return hwState{}, 0, errors.New("cannot initialise Holt's trend: second point is missing")
		}
		return hwState{level: y[1], trend: y[1] - y[0], season: []float64{0}}, 2, nil
	}
	if len(y)/2 < period { // not 2*period: it could overflow
		return hwState{}, 0, fmt.Errorf("cannot initialise a period-%d season from %d points (need two periods): %w", period, len(y), ErrTooShort)
	}
	wind := 2 * period
	// decompose(): y minus its centred moving average, averaged by phase.
	half := period / 2
	ma := centredMA(y[:wind], period)
	trend := make([]float64, wind)
	for t := range trend {
		trend[t] = math.NaN()
		if t >= half && t-half < len(ma) {
			trend[t] = ma[t-half]
		}
	}
	s, _ := seasonalFigure(period, wind, func(t int) float64 { return y[t] - trend[t] })
	// Least squares of the defined trend values on 1..k (R: .lm.fit).
	var ls lineSums
	for _, v := range trend {
		if !math.IsNaN(v) {
			ls.add(ls.n+1, v)
		}
	}
	level, slope, ok := ls.line()
	if !ok {
		return hwState{}, 0, errors.New("cannot initialise level and trend: too many missing points in the first two periods")
	}
	return hwState{level: level, trend: slope, season: s}, period, nil
}

// lineSums accumulates the sums of ordinary least squares of y on x.
type lineSums struct{ n, sx, sy, sxx, sxy float64 }

func (l *lineSums) add(x, y float64) {
	l.n++
	l.sx += x
	l.sy += y
	l.sxx += x * x
	l.sxy += x * y
}

// line returns the intercept and slope of the least-squares line; ok is
// false with fewer than two distinct abscissae.
func (l *lineSums) line() (intercept, slope float64, ok bool) {
	den := l.n*l.sxx - l.sx*l.sx
	if l.n < 2 || den == 0 {
		return 0, 0, false
	}
	slope = (l.n*l.sxy - l.sx*l.sy) / den
	return (l.sy - slope*l.sx) / l.n, slope, true
}

// hwObjective is the SSE as a function of the free parameters, mapped to
// unconstrained coordinates u by p = lo + (hi-lo)·sin²(u): the bounds are
// reached at finite u, where the gradient vanishes, so an unconstrained
// quasi-Newton method can settle on a boundary optimum (β = 0 is common).
// It owns its buffers: a fit allocates them once and evaluations allocate
// nothing.
type hwObjective struct {
	y      []float64
	init   *hwState
	theta  [4]float64 // α, β, γ, φ; free entries are overwritten
	free   [4]int     // free[:nfree] index theta's optimised parameters
	nfree  int
	lo, hi [4]float64
	scale  float64 // SSE at the start, so that tolerances are relative

	start *[4]float64 // replaces the grid when set

	sring []float64  // seasonal ring (or its adjoints, in grad)
	e, b  []float64  // errors e_t and trends b_{t-1} of the last sse pass
	buf   *hwBuffers // holding e and b
	// Level and trend after the last sse pass.
	endLevel, endTrend float64
}

func newHWObjective(y []float64, init *hwState, period int, opts HoltWintersOptions) (*hwObjective, error) {
	o := &hwObjective{
		y:     y,
		init:  init,
		start: opts.start,
		lo:    [4]float64{0, 0, 0, 0.8},
		hi:    [4]float64{1, 1, 1, 0.98},
		sring: make([]float64, len(init.season)),
	}
	fixed := [4]*float64{opts.Alpha, opts.Beta, opts.Gamma, opts.Phi}
	names := [4]string{"alpha", "beta", "gamma", "phi"}
	if opts.Phi != nil && !opts.Damped {
		return nil, errors.New("cannot fix phi without a damped trend")
	}
	for i, p := range fixed {
		switch {
		case p != nil:
			if !(*p >= 0 && *p <= 1) {
				return nil, fmt.Errorf("cannot use %s = %g: outside [0, 1]", names[i], *p)
			}
			o.theta[i] = *p
		case i == 2 && period == 0:
			o.theta[i] = 0 // no season to smooth
		case i == 3 && !opts.Damped:
			o.theta[i] = 1
		default:
			o.free[o.nfree] = i
			o.nfree++
		}
	}
	o.buf = hwBufferPool.Get().(*hwBuffers)
	o.e, o.b = grow(&o.buf.e, len(y)), grow(&o.buf.b, len(y))
	return o, nil
}

// hwBuffers are an objective's per-point buffers (every sse pass writes
// them whole), lent by hwBufferPool from one fit to the next: 16 bytes a
// point, 320 KB for a one-minute fortnight, which each fit allocated and
// cleared afresh.
type hwBuffers struct{ e, b []float64 }

var hwBufferPool = sync.Pool{New: func() any { return new(hwBuffers) }}

// release returns the objective's buffers to the pool; it must not be
// used after.
func (o *hwObjective) release() {
	hwBufferPool.Put(o.buf)
	o.buf, o.e, o.b = nil, nil, nil
}

// BFGS settings for optimise: the SSE is scaled to 1 at the start point.
const (
	hwMaxIter  = 100  // iterations
	hwFTol     = 1e-8 // stop when an iteration lowers the SSE by less than this, relative
	hwGTol     = 1e-4 // or when no gradient entry (in u) exceeds this
	hwArmijo   = 1e-4 // sufficient decrease for the backtracking line search
	hwMaxTrial = 30   // line-search trials before giving up
	hwFirstU   = 0.2  // largest change of any u (radians) in the first step
)

// optimise returns the SSE-minimising parameters: the best point of a coarse
// grid (cheap SSE-only passes) refined by BFGS in the coordinates u with a
// backtracking (Armijo) line search. Line-search trials cost one SSE pass; an
// accepted point adds the adjoint pass for its gradient (see grad). The
// method is written out rather than taken from gonum/optimize because
// optimize.Minimize's goroutine hand-off per evaluation (about 50 µs per
// minimisation, measured) was a third of a 2,016-point fit.
func (o *hwObjective) optimise() [4]float64 {
	if o.nfree == 0 {
		return o.theta
	}
	free := o.free[:o.nfree]
	grid := [4][]float64{{0.1, 0.4, 0.8}, {0.01, 0.2}, {0.1, 0.4}, {0.85, 0.95}}
	if o.start != nil {
		for _, i := range free {
			v := min(max(o.start[i], o.lo[i]), o.hi[i])
			grid[i] = []float64{v}
		}
	}
	best, bestSSE := o.theta, math.Inf(1)
	var walk func(k int, th [4]float64)
	walk = func(k int, th [4]float64) {
		if k == len(free) {
			if sse := o.sse(th); sse < bestSSE {
				best, bestSSE = th, sse
			}
			return
		}
		for _, v := range grid[free[k]] {
			th[free[k]] = v
			walk(k+1, th)
		}
	}
	walk(0, o.theta)
	if !(bestSSE > 0) || math.IsInf(bestSSE, 0) {
		return best // a perfect fit, or nothing finite to improve on
	}
	o.theta = best
	o.scale = bestSSE

	n := len(free)
	var x, g, d, xn, gn, s, yv, hy [4]float64
	var h [4][4]float64 // inverse Hessian approximation
	resetH := func(v float64) {
		h = [4][4]float64{}
		for i := range n {
			h[i][i] = v
		}
	}
	for k, i := range free {
		x[k] = math.Asin(math.Sqrt((best[i] - o.lo[i]) / (o.hi[i] - o.lo[i])))
	}
	f := o.sse(best) / o.scale
	g = o.gradU(&x, best)
	resetH(1)
	scaled := false // whether h has been scaled by the first curvature pair
	for range hwMaxIter {
		var dg, dmax float64
		for i := range n {
			d[i] = 0
			for j := range n {
				d[i] -= h[i][j] * g[j]
			}
			dg += d[i] * g[i]
		}
		if !(dg < 0) { // not a descent direction: restart from steepest descent
			resetH(1)
			scaled = false
			dg = 0
			for i := range n {
				d[i] = -g[i]
				dg -= g[i] * g[i]
			}
			if dg == 0 {
				break
			}
		}
		t := 1.0
		if !scaled {
			for i := range n {
				dmax = math.Max(dmax, math.Abs(d[i]))
			}
			t = math.Min(1, hwFirstU/dmax)
		}
		var fn float64
		var thn [4]float64
		for trial := 0; ; trial++ {
			for i := range n {
				xn[i] = x[i] + t*d[i]
			}
			thn = o.fromU(&xn)
			fn = o.sse(thn) / o.scale
			if fn <= f+hwArmijo*t*dg {
				break
			}
			if trial == hwMaxTrial {
				return o.fromU(&x)
			}
			// Minimiser of the quadratic through f, the slope dg and fn,
			// kept within [0.1t, 0.5t] (0.1t also when fn is not finite).
			tq := -dg * t * t / (2 * (fn - f - dg*t))
			if !(tq >= 0.1*t) {
				tq = 0.1 * t
			}
			t = math.Min(tq, 0.5*t)
		}
		gn = o.gradU(&xn, thn)
		var sy, yy, gmax float64
		for i := range n {
			s[i], yv[i] = xn[i]-x[i], gn[i]-g[i]
			sy += s[i] * yv[i]
			yy += yv[i] * yv[i]
			gmax = math.Max(gmax, math.Abs(gn[i]))
		}
		if sy > 0 {
			if !scaled {
				resetH(sy / yy)
				scaled = true
			}
			// H ← (I - ρsyᵀ) H (I - ρysᵀ) + ρssᵀ, ρ = 1/sᵀy.
			var yhy float64
			for i := range n {
				hy[i] = 0
				for j := range n {
					hy[i] += h[i][j] * yv[j]
				}
				yhy += yv[i] * hy[i]
			}
			rho := 1 / sy
			c := rho * (1 + rho*yhy)
			for i := range n {
				for j := range n {
					h[i][j] += c*s[i]*s[j] - rho*(hy[i]*s[j]+s[i]*hy[j])
				}
			}
		}
		done := f-fn <= hwFTol*f || gmax <= hwGTol
		x, f, g = xn, fn, gn
		if done {
			break
		}
	}
	return o.fromU(&x)
}

// fromU maps unconstrained coordinates to parameters.
func (o *hwObjective) fromU(u *[4]float64) [4]float64 {
	th := o.theta
	for k, i := range o.free[:o.nfree] {
		s := math.Sin(u[k])
		th[i] = o.lo[i] + (o.hi[i]-o.lo[i])*s*s
	}
	return th
}

// gradU returns the gradient of the scaled SSE in the coordinates u at
// th = fromU(u), from grad; the last sse pass must have been at th.
func (o *hwObjective) gradU(u *[4]float64, th [4]float64) [4]float64 {
	gt := o.grad(th)
	var g [4]float64
	for k, i := range o.free[:o.nfree] {
		g[k] = gt[i] * (o.hi[i] - o.lo[i]) * math.Sin(2*u[k]) / o.scale
	}
	return g
}

// sse runs the filter from the initial state and returns the SSE. It uses
// the error-correction form of the recursions in the HoltWinters doc comment,
// equal to them up to rounding, with e = y - (l + φb + s):
//
//	l' = l + φb + α e,  b' = φb + αβ e,  s' = s + γ(1-α) e,
//
// and carries the level forecast p = l + φb, whose update
// p' = p + φ²b + α(1+φβ) e keeps the loop-carried dependency to three
// operations. A missing y is e = 0 without an SSE term. The errors e_t and
// the trends b_{t-1} they were computed from are kept in o.e and o.b for
// the gradient (see grad).
func (o *hwObjective) sse(th [4]float64) float64 {
	alpha, beta, gamma, phi := th[0], th[1], th[2], th[3]
	ring := o.sring
	copy(ring, o.init.season)
	bs, gs, c := alpha*beta, gamma*(1-alpha), alpha*(1+phi*beta)
	b := o.init.trend
	p := o.init.level + phi*b
	var sse float64
	y, eb, bb, pos := o.y, o.e, o.b, o.init.pos
	for len(y) > 0 {
		// One pass over the ring from pos, without wrap-around tests.
		r := ring[pos:]
		if len(r) > len(y) {
			r = r[:len(y)]
		}
		blk, be, bt := y[:len(r)], eb[:len(r)], bb[:len(r)]
		for i, v := range blk {
			s := r[i]
			e := v - s - p
			if !finite(v) {
				e = 0
			}
			be[i], bt[i] = e, b
			r[i] = s + gs*e
			pb := phi * b
			p = p + phi*pb + c*e
			b = pb + bs*e
			sse += e * e
		}
		y, eb, bb = y[len(blk):], eb[len(blk):], bb[len(blk):]
		pos = 0
	}
	o.endLevel, o.endTrend = p-phi*b, b
	return sse
}

// grad returns the gradient of the SSE with respect to (α, β, γ, φ) at th,
// where the last sse pass must have been. It is reverse-mode (adjoint) differentiation of the
// error-correction form (see sse) in the parameters (α, β* = αβ, γ* = γ(1-α),
// φ): with adjoints l̄, b̄ of l_t, b_t and s̄ of the seasonal component
// written at t (read back at t+m), from l̄ = b̄ = s̄ = 0 after the last step,
// going backward,
//
//	ē = 2e + γ* s̄ + β* b̄ + α l̄
//	∂F/∂α += e l̄,  ∂F/∂β* += e b̄,  ∂F/∂γ* += e s̄,  ∂F/∂φ += b_{t-1}(b̄ + l̄ - ē)
//	s̄ ← s̄ - ē,  l̄ ← l̄ - ē,  b̄ ← φ(b̄ + l̄ - ē)
//
// (ē = 0 at a missing point), then the chain rule
//
//	∂/∂α = ∂/∂α + β ∂/∂β* - γ ∂/∂γ*,  ∂/∂β = α ∂/∂β*,  ∂/∂γ = (1-α) ∂/∂γ*.
//
// The initial state does not depend on the parameters. The pass costs
// about 1.5 SSE passes.
func (o *hwObjective) grad(th [4]float64) [4]float64 {
	alpha, beta, gamma, phi := th[0], th[1], th[2], th[3]
	as, bs, gs := alpha, alpha*beta, gamma*(1-alpha)
	ca, pca, pcb := 1-as, phi*(1-as), phi*(1-bs)

	ring := o.sring
	clear(ring)
	var lb, bb, ga, gb, gg, gphi float64
	n, m := len(o.y), len(ring)
	slot := (o.init.pos + n%m) % m // the slot of step n, one past the end
	for t := n; t > 0; {
		// Steps t-k..t-1 use slots slot-k..slot-1.
		if slot == 0 {
			slot = m
		}
		k := min(slot, t)
		r := ring[slot-k : slot]
		ys, es, bt := o.y[t-k:t], o.e[t-k:t], o.b[t-k:t]
		ys, es, bt = ys[:len(r)], es[:len(r)], bt[:len(r)]
		for i := len(r) - 1; i >= 0; i-- {
			if !finite(ys[i]) {
				bb = phi * (bb + lb)
				gphi += bt[i] * bb
				continue
			}
			sb, e := r[i], es[i]
			k := 2*e + gs*sb
			r[i] = sb - (k + bs*bb + as*lb)
			ga += e * lb
			gb += e * bb
			gg += e * sb
			// l̄ - ē and φ(b̄ + l̄ - ē), grouped for short dependency chains.
			lb, bb = ca*lb-(k+bs*bb), pcb*bb+(pca*lb-phi*k)
			gphi += bt[i] * bb // Σ b_{t-1} φ(b̄ + l̄ - ē), divided by φ below
		}
		t -= k
		slot -= k
	}
	if phi != 0 {
		gphi /= phi
	}
	return [4]float64{ga + beta*gb - gamma*gg, alpha * gb, (1 - alpha) * gg, gphi}
}

// OneStep returns the forecast of the next observation.
func (m *HoltWinters) OneStep() float64 {
	return m.level + m.Phi*m.trend + m.seasonAt(m.pos)
}

// Update feeds the next observation to the filter in O(1) without
// allocating; a non-finite y is missing and advances the state on its
// forecast. The parameters and Sigma stay those of the fit.
func (m *HoltWinters) Update(y float64) {
	m.step(y, m.Alpha, m.Beta, m.Gamma, m.Phi)
	m.N++
}

// psi is the coefficient c_j of the j-step-ahead error in the h-step forecast
// error e_{t+h} = ε_{t+h} + Σ_{j=1}^{h-1} c_j ε_{t+h-j}:
//
//	c_j = α(1 + β φ_j) + γ(1-α)·[j mod m = 0],  φ_j = φ + φ² + … + φ^j,
//
// Hyndman et al. (2008), Table 6.1 (class 1), in R's parametrisation; with
// φ = 1 it is the psi of R's predict.HoltWinters.
func (m *HoltWinters) psi(j int, phiSum float64) float64 {
	c := m.Alpha * (1 + m.Beta*phiSum)
	if m.Period > 1 && j%m.Period == 0 {
		c += m.Gamma * (1 - m.Alpha)
	}
	return c
}

// StdDev returns the standard deviation of the h-step-ahead forecast error,
// Sigma·sqrt(1 + Σ_{j=1}^{h-1} c_j²) (see psi); h < 1 counts as 1.
func (m *HoltWinters) StdDev(h int) float64 {
	v, phiSum, pw := 1.0, 0.0, 1.0
	for j := 1; j < h; j++ {
		pw *= m.Phi
		phiSum += pw
		c := m.psi(j, phiSum)
		v += c * c
	}
	return m.Sigma * math.Sqrt(v)
}

// PredictInto writes the h-step forecast from the current state into dst,
// with the central prediction interval of nominal coverage level in (0, 1)
// from the analytic error variance (see StdDev), as R's predict.HoltWinters:
//
//	ŷ_{t+j} = l_t + φ_j b_t + s_{t+j-m(⌊(j-1)/m⌋+1)}.
func (m *HoltWinters) PredictInto(dst *Forecast, h int, level float64) error {
	if dst == nil {
		return errors.New("cannot predict into a nil forecast")
	}
	if h < 0 {
		return fmt.Errorf("cannot predict %d steps ahead", h)
	}
	if !(level > 0 && level < 1) {
		return fmt.Errorf("cannot use interval level %g: outside (0, 1)", level)
	}
	dst.Resize(h)
	dst.Level = level
	z := intervalZ(level)
	v, phiSum, pw := 1.0, 0.0, 1.0
	si := m.pos
	for j := 1; j <= h; j++ {
		pw *= m.Phi
		phiSum += pw
		p := m.level + phiSum*m.trend + m.seasonAt(si)
		w := z * m.Sigma * math.Sqrt(v)
		dst.Point[j-1], dst.Lower[j-1], dst.Upper[j-1] = p, p-w, p+w
		c := m.psi(j, phiSum)
		v += c * c
		si++
		if si == m.ringLen() {
			si = 0
		}
	}
	return nil
}

// predictPoints writes the point forecasts of leads 1..len(dst) (see
// PredictInto).
func (m *HoltWinters) predictPoints(dst []float64) {
	si, n := m.pos, m.ringLen()
	if m.Phi == 1 && m.season != nil {
		// Undamped, φ_j is j exactly: no running sum, which would chain
		// the leads, nor seasonAt's test per lead.
		for j := range dst {
			dst[j] = m.level + float64(j+1)*m.trend + m.season[si]
			if si++; si == n {
				si = 0
			}
		}
		return
	}
	phiSum, pw := 0.0, 1.0
	for j := range dst {
		pw *= m.Phi
		phiSum += pw
		dst[j] = m.level + phiSum*m.trend + m.seasonAt(si)
		if si++; si == n {
			si = 0
		}
	}
}

// halfWidth returns the half-width of the lead-j interval.
func (m *HoltWinters) halfWidth(j int, level float64) float64 {
	return intervalZ(level) * m.StdDev(j)
}

// Bytes returns the memory the model holds: its state and header.
func (m *HoltWinters) Bytes() int {
	return int(unsafe.Sizeof(*m)) + 8*cap(m.season) + m.season16.bytes()
}

// finite reports whether v is neither NaN nor infinite: v-v is NaN exactly
// when v is (one subtraction instead of two tests in the filter loops).
func finite(v float64) bool { return v-v == 0 }

// Name returns the model's kind: "holtwinters" (additive seasonal) or "holt"
// (no season), with a "_damped" suffix for a damped trend.
func (m *HoltWinters) Name() string {
	name := "holtwinters"
	if m.Period == 0 {
		name = "holt"
	}
	if m.Phi != 1 {
		name += "_damped"
	}
	return name
}

// Params returns the smoothing parameters, period and residual scale, for
// display (e.g. /api/v1/targets).
func (m *HoltWinters) Params() map[string]float64 {
	return map[string]float64{
		"alpha": m.Alpha, "beta": m.Beta, "gamma": m.Gamma, "phi": m.Phi,
		"period": float64(m.Period), "sigma": m.Sigma,
	}
}

// seasonalFigure returns the centred seasonal figure of the first n points
// as R's decompose computes it: the mean, by phase t mod period, of the
// detrended values detrended(t) (non-finite ones skipped), less the mean of
// those means, which it also returns.
func seasonalFigure(period, n int, detrended func(t int) float64) ([]float64, float64) {
	s := make([]float64, period)
	var mean float64
	for i := range s {
		var acc float64
		var c int
		for t := i; t < n; t += period {
			if d := detrended(t); finite(d) {
				acc += d
				c++
			}
		}
		if c > 0 {
			s[i] = acc / float64(c)
		}
		mean += s[i]
	}
	mean /= float64(period)
	for i := range s {
		s[i] -= mean
	}
	return s, mean
}
