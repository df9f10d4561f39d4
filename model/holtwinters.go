package model

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat/distuv"
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
// components where season[pos] belongs to the next step.
type hwState struct {
	level, trend float64
	season       []float64
	pos          int
}

// step advances the state by one observation y and returns the one-step
// error, or NaN when y is missing (not finite), in which case the state
// advances on its own forecast.
func (s *hwState) step(y, alpha, beta, gamma, phi float64) float64 {
	st := s.season[s.pos]
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
	s.season[s.pos] = gamma*(y-s.level) + (1-gamma)*st
	s.advance()
	return e
}

func (s *hwState) advance() {
	s.pos++
	if s.pos == len(s.season) {
		s.pos = 0
	}
}

// copyFrom makes s a copy of o, reusing s's seasonal storage.
func (s *hwState) copyFrom(o *hwState) {
	s.level, s.trend, s.pos = o.level, o.trend, o.pos
	s.season = append(s.season[:0], o.season...)
}

// FitHoltWinters fits an additive Holt-Winters model to y. NaN (or any
// non-finite value) marks a missing point: the state advances on its forecast
// without correction. Leading missing points are dropped.
//
// Initial states follow R's stats::HoltWinters with start.periods = 2: the
// seasonal start is decompose()'s figure over the first two periods, the level
// and trend starts are the intercept and slope of a regression of its
// moving-average trend on 1..k, and filtering starts at the second period;
// without seasonality l = y[1], b = y[1]-y[0] and filtering starts at y[2].
// Free parameters minimise the SSE over α, β, γ ∈ [0,1] (and φ ∈ [0.8,0.98]
// when damped) by L-BFGS on exact gradients, started from the best point of a
// small grid; the SSE matches or beats R's L-BFGS-B from (0.3, 0.1, 0.1).
func FitHoltWinters(y []float64, opts HoltWintersOptions) (*HoltWinters, error) {
	for len(y) > 0 && !finite(y[0]) {
		y = y[1:]
	}
	period := opts.Period
	if period <= 1 {
		period = 0
	}
	init, start, err := hwInit(y, period)
	if err != nil {
		return nil, err
	}
	obj, err := newHWObjective(y[start:], &init, period, opts)
	if err != nil {
		return nil, err
	}
	theta := obj.optimise()

	m := &HoltWinters{
		Alpha: theta[0], Beta: theta[1], Gamma: theta[2], Phi: theta[3],
		Period: period,
	}
	m.hwState.copyFrom(&init)
	// Residual moments for R's var(residuals(fit)): divisor n-1, mean removed.
	var n int
	var sum, sumSq float64
	for _, v := range y[start:] {
		e := m.step(v, m.Alpha, m.Beta, m.Gamma, m.Phi)
		if math.IsNaN(e) {
			continue
		}
		n++
		sum += e
		sumSq += e * e
	}
	m.SSE = sumSq
	if n > 1 {
		mean := sum / float64(n)
		m.Sigma = math.Sqrt(math.Max(sumSq-float64(n)*mean*mean, 0) / float64(n-1))
	}
	m.N = len(y)
	return m, nil
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
	s := make([]float64, period)
	var figMean float64
	for i := range s {
		var acc float64
		var k int
		for t := i; t < wind; t += period {
			if d := y[t] - trend[t]; !math.IsNaN(d) {
				acc += d
				k++
			}
		}
		if k > 0 {
			s[i] = acc / float64(k)
		}
		figMean += s[i]
	}
	figMean /= float64(period)
	for i := range s {
		s[i] -= figMean
	}
	// Least squares of the defined trend values on 1..k (R: .lm.fit).
	var k, sx, sy, sxx, sxy float64
	for _, v := range trend {
		if math.IsNaN(v) {
			continue
		}
		k++
		sx += k
		sy += v
		sxx += k * k
		sxy += k * v
	}
	den := k*sxx - sx*sx
	if k < 2 || den == 0 {
		return hwState{}, 0, errors.New("cannot initialise level and trend: too many missing points in the first two periods")
	}
	slope := (k*sxy - sx*sy) / den
	return hwState{level: (sy - slope*sx) / k, trend: slope, season: s}, period, nil
}

// hwSens is a seasonal component with its derivatives with respect to
// (α, β, γ, φ).
type hwSens struct {
	s  float64
	ds [4]float64
}

// hwObjective is the SSE as a function of the free parameters, mapped to
// unconstrained coordinates u by p = lo + (hi-lo)·sin²(u): the bounds are
// reached at finite u, where the gradient vanishes, so L-BFGS can settle on a
// boundary optimum (β = 0 is common) without a constrained method.
type hwObjective struct {
	y      []float64
	init   *hwState
	theta  [4]float64 // α, β, γ, φ; free entries are overwritten
	free   []int      // indices into theta of the optimised parameters
	lo, hi [4]float64
	scale  float64 // SSE at the start, so that tolerances are relative

	ring    []hwSens
	scratch hwState
	// Cache of the last evaluation: gonum asks for Func and Grad separately.
	lastU    []float64
	lastF    float64
	lastGrad [4]float64
}

func newHWObjective(y []float64, init *hwState, period int, opts HoltWintersOptions) (*hwObjective, error) {
	o := &hwObjective{
		y:    y,
		init: init,
		lo:   [4]float64{0, 0, 0, 0.8},
		hi:   [4]float64{1, 1, 1, 0.98},
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
			o.free = append(o.free, i)
		}
	}
	return o, nil
}

// optimise returns the SSE-minimising parameters: the best point of a coarse
// grid (cheap SSE-only passes) refined by L-BFGS.
func (o *hwObjective) optimise() [4]float64 {
	if len(o.free) == 0 {
		return o.theta
	}
	grid := [4][]float64{{0.1, 0.4, 0.8}, {0.01, 0.2}, {0.1, 0.4}, {0.85, 0.95}}
	best, bestSSE := o.theta, math.Inf(1)
	var walk func(k int, th [4]float64)
	walk = func(k int, th [4]float64) {
		if k == len(o.free) {
			if sse := o.sse(th); sse < bestSSE {
				best, bestSSE = th, sse
			}
			return
		}
		for _, v := range grid[o.free[k]] {
			th[o.free[k]] = v
			walk(k+1, th)
		}
	}
	walk(0, o.theta)
	if math.IsInf(bestSSE, 0) || math.IsNaN(bestSSE) {
		return best
	}
	o.theta = best
	o.scale = bestSSE
	if o.scale == 0 {
		return best
	}
	u0 := make([]float64, len(o.free))
	for k, i := range o.free {
		u0[k] = math.Asin(math.Sqrt((best[i] - o.lo[i]) / (o.hi[i] - o.lo[i])))
	}
	p := optimize.Problem{
		Func: func(u []float64) float64 { o.eval(u); return o.lastF },
		Grad: func(grad, u []float64) {
			o.eval(u)
			for k, i := range o.free {
				grad[k] = o.lastGrad[i] * (o.hi[i] - o.lo[i]) * math.Sin(2*u[k])
			}
		},
	}
	settings := &optimize.Settings{
		// Relative to the start's SSE; tighter settings only add line-search
		// failures, not a better SSE.
		GradientThreshold: 1e-4,
		Converger:         &optimize.FunctionConverge{Relative: 1e-6, Iterations: 1},
		MajorIterations:   200,
	}
	// A line-search failure is reported as an error but still leaves the
	// best point found in res, which is all that matters here.
	res, _ := optimize.Minimize(p, u0, settings, &optimize.LBFGS{})
	if res == nil || !(res.F < 1) {
		return best
	}
	return o.fromU(res.X)
}

// fromU maps unconstrained coordinates to parameters.
func (o *hwObjective) fromU(u []float64) [4]float64 {
	th := o.theta
	for k, i := range o.free {
		s := math.Sin(u[k])
		th[i] = o.lo[i] + (o.hi[i]-o.lo[i])*s*s
	}
	return th
}

// sse runs the filter from the initial state and returns the SSE.
func (o *hwObjective) sse(th [4]float64) float64 {
	o.scratch.copyFrom(o.init)
	var sse float64
	for _, v := range o.y {
		if e := o.scratch.step(v, th[0], th[1], th[2], th[3]); !math.IsNaN(e) {
			sse += e * e
		}
	}
	return sse
}

// eval computes the scaled SSE and its gradient with respect to (α, β, γ, φ)
// at u, by forward-mode differentiation of the recursions in the
// HoltWinters doc comment (the initial state does not depend on them).
func (o *hwObjective) eval(u []float64) {
	if o.lastU != nil && slices.Equal(o.lastU, u) {
		return
	}
	o.lastU = append(o.lastU[:0], u...)
	th := o.fromU(u)
	alpha, beta, gamma, phi := th[0], th[1], th[2], th[3]

	if len(o.ring) != len(o.init.season) {
		o.ring = make([]hwSens, len(o.init.season))
	}
	for i, s := range o.init.season {
		o.ring[i] = hwSens{s: s}
	}
	// φ's derivatives (index 3) only when φ is optimised: it is last in free.
	nd := 3
	if o.free[len(o.free)-1] == 3 {
		nd = 4
	}
	pos := o.init.pos
	l, b := o.init.level, o.init.trend
	var dl, db, dsse [4]float64
	var sse float64
	for _, y := range o.y {
		r := &o.ring[pos]
		st := r.s
		lp := l + phi*b // level forecast
		var dlp [4]float64
		for k := 0; k < nd; k++ {
			dlp[k] = dl[k] + phi*db[k]
		}
		dlp[3] += b
		if !finite(y) {
			// Missing: l ← l+φb, b ← φb, s unchanged.
			for k := 0; k < nd; k++ {
				db[k] = phi * db[k]
				dl[k] = dlp[k]
			}
			db[3] += b
			l, b = lp, phi*b
		} else {
			e := y - lp - st
			sse += e * e
			ln := alpha*(y-st) + (1-alpha)*lp
			bn := beta*(ln-l) + (1-beta)*phi*b
			sn := gamma*(y-ln) + (1-gamma)*st
			// Chain rule through ln, bn, sn; each parameter also has a
			// direct term in its own equation.
			var dln, dbn [4]float64
			for k := 0; k < nd; k++ {
				dsse[k] -= 2 * e * (dlp[k] + r.ds[k])
				dln[k] = -alpha*r.ds[k] + (1-alpha)*dlp[k]
			}
			dln[0] += y - st - lp
			for k := 0; k < nd; k++ {
				dbn[k] = beta*(dln[k]-dl[k]) + (1-beta)*phi*db[k]
			}
			dbn[1] += ln - l - phi*b
			dbn[3] += (1 - beta) * b
			for k := 0; k < nd; k++ {
				r.ds[k] = -gamma*dln[k] + (1-gamma)*r.ds[k]
			}
			r.ds[2] += y - ln - st
			dl, db = dln, dbn
			l, b, r.s = ln, bn, sn
		}
		pos++
		if pos == len(o.ring) {
			pos = 0
		}
	}
	o.lastF = sse / o.scale
	for k := range dsse {
		o.lastGrad[k] = dsse[k] / o.scale
	}
}

// OneStep returns the forecast of the next observation.
func (m *HoltWinters) OneStep() float64 {
	return m.level + m.Phi*m.trend + m.season[m.pos]
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
	z := distuv.UnitNormal.Quantile((1 + level) / 2)
	v, phiSum, pw := 1.0, 0.0, 1.0
	si := m.pos
	for j := 1; j <= h; j++ {
		pw *= m.Phi
		phiSum += pw
		p := m.level + phiSum*m.trend + m.season[si]
		w := z * m.Sigma * math.Sqrt(v)
		dst.Point[j-1], dst.Lower[j-1], dst.Upper[j-1] = p, p-w, p+w
		c := m.psi(j, phiSum)
		v += c * c
		si++
		if si == len(m.season) {
			si = 0
		}
	}
	return nil
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
