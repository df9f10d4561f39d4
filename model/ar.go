package model

import (
	"fmt"
	"math"
	"slices"
	"unsafe"

	"gonum.org/v1/gonum/mat"
)

// AROptions configures FitAR.
type AROptions struct {
	// Lags is the number of recent lags 1..Lags (default 6).
	Lags int
	// Periods adds the seasonal lags p-1, p and p+1 for each period p ≥ 2,
	// so that the model can learn y_t ≈ y_{t-p} + a·(y_{t-1} - y_{t-p-1}).
	Periods []int
	// Lambda is the ridge penalty relative to the mean diagonal of the
	// centred Gram matrix (default 1e-4).
	Lambda float64
	// Difference fits the autoregression to the changes y_t - y_{t-1} (an
	// ARI(p,1) model), so that forecasts follow level shifts instead of
	// reverting to the training mean.
	Difference bool
}

// AR is an autoregression on recent and seasonal lags fitted by ridge
// regression:
//
//	y_t = c + Σ_k a_k y_{t-L_k} + ε_t,  ε_t ~ N(0, σ²),
//
// with (a, c) minimising Σ_t ε_t² + λ·‖a‖² on centred data (Hoerl & Kennard,
// "Ridge regression", Technometrics 1970), solved from the normal equations
// by Cholesky (gonum/mat). Multi-step forecasts iterate the recursion on
// forecasts; the h-step error variance is σ² Σ_{j<h} ψ_j² with the MA(∞)
// weights ψ_0 = 1, ψ_j = Σ_{k: L_k ≤ j} a_k ψ_{j-L_k} (Box, Jenkins & Reinsel,
// "Time Series Analysis", §5.2). With Difference the recursion is on
// d_t = y_t - y_{t-1}, forecasts are y_t plus the cumulated forecasts of d,
// and the weights of y's errors are the cumulative sums Ψ_j = Σ_{i≤j} ψ_i
// (ibid., §5.2.3). An AR is not safe for concurrent use.
type AR struct {
	// LagSteps are the lags L_k, increasing; Coef the a_k; Intercept c.
	LagSteps  []int
	Coef      []float64
	Intercept float64
	// Sigma is the residual standard deviation of the fit.
	Sigma float64
	// Differenced is true for an ARI model (AROptions.Difference).
	Differenced bool
	// N is the number of observations consumed.
	N int

	last float64 // newest y (imputed when missing), when Differenced
	// hist is the ring of the last maxLag values (changes, when
	// Differenced); hist[pos] is the oldest. It is float32: with a daily
	// lag at one-minute steps it holds 1,441 values (5.6 KB instead of
	// 11.3 KB), and a lagged regressor rounded to 6e-8 of itself moves the
	// forecast by far less than σ.
	hist []float32
	pos  int
	// psi holds the ψ weights and sd the h-step error standard deviations
	// σ·sqrt(Σ_{j<h} Ψ_j²) for leads 1..len(sd): they depend on the
	// coefficients only, so PredictInto computes them once.
	psi, sd []float64
}

// FitAR fits an AR model to y. Missing values are skipped as targets and
// regressors; the history kept for forecasting imputes them by the model's
// forecast. y needs at least 2·maxLag + 8 points.
func FitAR(y []float64, opts AROptions) (*AR, error) {
	for len(y) > 0 && !finite(y[0]) {
		y = y[1:]
	}
	if !opts.Difference {
		return fitAR(y, opts)
	}
	if len(y) < 2 {
		return nil, fmt.Errorf("cannot difference %d points: %w", len(y), ErrTooShort)
	}
	d := make([]float64, len(y)-1)
	for t := range d {
		d[t] = y[t+1] - y[t] // NaN when either is missing
	}
	m, err := fitAR(d, opts)
	if err != nil {
		return nil, err
	}
	m.Differenced = true
	// The newest level: the last finite y plus the changes imputed since.
	i := len(y) - 1
	for !finite(y[i]) {
		i--
	}
	m.last = y[i]
	for l := 1; l <= min(len(y)-1-i, len(m.hist)); l++ {
		m.last += m.lagged(l)
	}
	m.N = len(y)
	return m, nil
}

func fitAR(y []float64, opts AROptions) (*AR, error) {
	if opts.Lags <= 0 {
		opts.Lags = 6
	}
	if opts.Lambda <= 0 {
		opts.Lambda = 1e-4
	}
	var lags []int
	for l := 1; l <= opts.Lags; l++ {
		lags = append(lags, l)
	}
	for _, p := range opts.Periods {
		if p >= 2 {
			lags = append(lags, p-1, p, p+1)
		}
	}
	slices.Sort(lags)
	lags = slices.Compact(lags)
	// Seasonal lags the series cannot support are dropped.
	for len(lags) > opts.Lags && 2*lags[len(lags)-1]+8 > len(y) {
		lags = lags[:len(lags)-1]
	}
	maxLag := lags[len(lags)-1]
	if len(y) < 2*maxLag+8 {
		return nil, fmt.Errorf("cannot fit an AR with lag %d to %d points: %w", maxLag, len(y), ErrTooShort)
	}
	k := len(lags)

	// Means of the target and regressors over the usable rows, then the
	// centred Gram matrix and cross products in one more pass.
	usable := func(t int) bool {
		if !finite(y[t]) {
			return false
		}
		for _, l := range lags {
			if !finite(y[t-l]) {
				return false
			}
		}
		return true
	}
	mx := make([]float64, k)
	var my float64
	var rows int
	for t := maxLag; t < len(y); t++ {
		if !usable(t) {
			continue
		}
		rows++
		my += y[t]
		for i, l := range lags {
			mx[i] += y[t-l]
		}
	}
	if rows < k+2 {
		return nil, fmt.Errorf("cannot fit an AR: only %d complete rows for %d lags: %w", rows, k, ErrTooShort)
	}
	my /= float64(rows)
	for i := range mx {
		mx[i] /= float64(rows)
	}
	gram := make([]float64, k*k)
	xy := make([]float64, k)
	x := make([]float64, k)
	for t := maxLag; t < len(y); t++ {
		if !usable(t) {
			continue
		}
		for i, l := range lags {
			x[i] = y[t-l] - mx[i]
		}
		yc := y[t] - my
		for i := range k {
			xi := x[i]
			xy[i] += xi * yc
			row := gram[i*k:]
			for j := i; j < k; j++ {
				row[j] += xi * x[j]
			}
		}
	}
	var diag float64
	for i := range k {
		diag += gram[i*k+i]
	}
	ridge := opts.Lambda * math.Max(diag/float64(k), 1e-12)
	a := mat.NewSymDense(k, nil)
	for i := range k {
		for j := i; j < k; j++ {
			v := gram[i*k+j]
			if i == j {
				v += ridge
			}
			a.SetSym(i, j, v)
		}
	}
	var chol mat.Cholesky
	if !chol.Factorize(a) {
		return nil, fmt.Errorf("cannot fit an AR: normal equations not positive definite")
	}
	coef := mat.NewVecDense(k, nil)
	if err := chol.SolveVecTo(coef, mat.NewVecDense(k, xy)); err != nil {
		return nil, fmt.Errorf("cannot fit an AR: %w", err)
	}
	m := &AR{LagSteps: lags, Coef: make([]float64, k), Intercept: my}
	for i := range k {
		m.Coef[i] = coef.AtVec(i)
		m.Intercept -= m.Coef[i] * mx[i]
	}
	var ss float64
	for t := maxLag; t < len(y); t++ {
		if !usable(t) {
			continue
		}
		p := m.Intercept
		for i, l := range lags {
			p += m.Coef[i] * y[t-l]
		}
		e := y[t] - p
		ss += e * e
	}
	m.Sigma = math.Sqrt(ss / float64(max(rows-k-1, 1)))

	// Forecasting history: the first maxLag points (gaps filled by the last
	// value), then the rest through Update.
	m.hist = make([]float32, maxLag)
	last := math.NaN()
	for _, v := range y {
		if finite(v) {
			last = v
			break
		}
	}
	for i := range maxLag {
		if finite(y[i]) {
			last = y[i]
		}
		m.hist[i] = float32(last)
	}
	for _, v := range y[maxLag:] {
		m.Update(v)
	}
	m.N = len(y)
	return m, nil
}

// lagged returns y_{t+1-l}, the value l-1 steps before the newest.
func (m *AR) lagged(l int) float64 {
	i := m.pos - l
	if i < 0 {
		i += len(m.hist)
	}
	return float64(m.hist[i])
}

// oneStepD returns c + Σ a_k x_{t+1-L_k} for the modelled series x (y, or
// its changes when Differenced).
func (m *AR) oneStepD() float64 {
	p := m.Intercept
	for i, l := range m.LagSteps {
		p += m.Coef[i] * m.lagged(l)
	}
	return p
}

func (m *AR) pushD(x float64) {
	m.hist[m.pos] = float32(x)
	m.pos++
	if m.pos == len(m.hist) {
		m.pos = 0
	}
}

// OneStep returns c + Σ a_k y_{t+1-L_k}, or y_t plus the forecast change.
func (m *AR) OneStep() float64 {
	if m.Differenced {
		return m.last + m.oneStepD()
	}
	return m.oneStepD()
}

// Update appends y to the history in O(lags); a missing y is replaced by
// the one-step forecast.
func (m *AR) Update(y float64) {
	m.N++
	if !m.Differenced {
		if !finite(y) {
			y = m.oneStepD()
		}
		m.pushD(y)
		return
	}
	d := m.oneStepD()
	if finite(y) {
		d = y - m.last
	}
	m.last += d
	m.pushD(d)
}

// PredictInto writes the iterated h-step forecast and its interval from the
// ψ weights (see AR).
func (m *AR) PredictInto(dst *Forecast, h int, level float64) error {
	if err := checkPredict(dst, h, level); err != nil {
		return err
	}
	dst.Resize(h)
	dst.Level = level
	m.predictPoints(dst.Point)
	m.stdDevs(h)
	z := intervalZ(level)
	for j := range h {
		w := z * m.sd[j]
		dst.Lower[j], dst.Upper[j] = dst.Point[j]-w, dst.Point[j]+w
	}
	return nil
}

// predictPoints writes the iterated point forecasts of leads 1..len(dst).
func (m *AR) predictPoints(dst []float64) {
	// Lag l at lead j is a forecast when l < j.
	for j := 1; j <= len(dst); j++ {
		p := m.Intercept
		for i, l := range m.LagSteps {
			if l < j {
				p += m.Coef[i] * dst[j-1-l]
			} else {
				p += m.Coef[i] * m.lagged(l-j+1)
			}
		}
		dst[j-1] = p
	}
	if m.Differenced {
		level := m.last
		for j := range dst {
			level += dst[j]
			dst[j] = level
		}
	}
}

// halfWidth returns the half-width of the lead-j interval.
func (m *AR) halfWidth(j int, level float64) float64 {
	m.stdDevs(j)
	return intervalZ(level) * m.sd[j-1]
}

// stdDevs extends m.sd to at least h leads.
func (m *AR) stdDevs(h int) {
	if len(m.sd) >= h {
		return
	}
	m.psi = resize(m.psi, h)
	m.sd = resize(m.sd, h)
	var v, cum float64
	for j := range h {
		psi := 1.0
		if j > 0 {
			psi = 0
			for i, l := range m.LagSteps {
				if l > j {
					break
				}
				psi += m.Coef[i] * m.psi[j-l]
			}
		}
		m.psi[j] = psi
		if m.Differenced {
			cum += psi
			psi = cum
		}
		v += psi * psi
		m.sd[j] = m.Sigma * math.Sqrt(v)
	}
}

// Bytes returns the memory the model holds: coefficients, lag history,
// scratch and header.
func (m *AR) Bytes() int {
	return int(unsafe.Sizeof(*m)) + 8*(cap(m.LagSteps)+cap(m.Coef)+cap(m.psi)+cap(m.sd)) + 4*cap(m.hist)
}

// Name is "ar", or "ari" when Differenced.
func (m *AR) Name() string {
	if m.Differenced {
		return "ari"
	}
	return "ar"
}

// Params returns the intercept, σ and the coefficients as "lag<L>".
func (m *AR) Params() map[string]float64 {
	p := map[string]float64{"intercept": m.Intercept, "sigma": m.Sigma}
	for i, l := range m.LagSteps {
		p[fmt.Sprintf("lag%d", l)] = m.Coef[i]
	}
	return p
}
