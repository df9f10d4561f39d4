package model

import (
	"math"

	"gonum.org/v1/gonum/mat"
)

// SeasonalTrend is a linear trend plus a smooth daily cycle fitted jointly
// by least squares, the long-horizon model of capacity planning:
//
//	y_t = a + b·x_t + Σ_{k=1..K} (c_k sin(2πk·d_t) + s_k cos(2πk·d_t)) + e_t
//
// with x_t the step index (0 at the last point) and d_t the time of day as
// a fraction. Fitting trend and season together keeps either from absorbing
// the other (a slot baseline fitted before the trend takes up part of it),
// and K = 3 harmonics give a smooth profile whose peak is not the maximum of
// noisy slot estimates (the additive seasonal regression of e.g. Harvey &
// Shephard, or Prophet's Fourier seasonality, Taylor & Letham 2018). The
// coefficients' covariance σ²(XᵀX)⁻¹ is inflated by (1+ρ)/(1-ρ) for the
// errors' lag-one autocorrelation ρ, as in LinearTrend, with σ² and ρ
// estimated from the residuals corrected for the p·(1+ρ)/(1-ρ) degrees of
// freedom the fit takes from autocorrelated errors (ar1Errors): uncorrected,
// the intervals at the crossing of a capacity plan were 2 to 3 % too narrow
// on fourteen days of five-minute data at ρ = 0.8.
type SeasonalTrend struct {
	N     int
	Sigma float64
	Rho   float64
	beta  []float64
	cov   *mat.SymDense // inflated covariance of beta
	step  int64         // ms
	last  int64         // ms, time of the last point
}

// seasonalHarmonics is K, the number of daily harmonics.
const seasonalHarmonics = 3

const msPerDayF = float64(msPerDay)

func seasonalRow(dst []float64, x float64, t int64) {
	dst[0], dst[1] = 1, x
	d := 2 * math.Pi * float64(((t%msPerDay)+msPerDay)%msPerDay) / msPerDayF
	for k := 1; k <= seasonalHarmonics; k++ {
		s, c := math.Sincos(float64(k) * d)
		dst[2*k], dst[2*k+1] = s, c
	}
}

// dailyWalk fills the regression rows of consecutive points of a regular
// grid: the first harmonic turns by the step's angle from one point to the
// next (a rotation, two products per term), reseeded with math.Sincos
// every reseed points to bound the rounding drift (under 1e-13 here), and
// the second and third come from the double and triple angle formulas. A
// fortnight at one minute then costs a sine and cosine per 256 points
// instead of three per point, which were half of the fit's time.
type dailyWalk struct {
	first, step int64 // ms, time of point 0 and spacing
	next        int   // the point after the last one filled
	s, c        float64
	ds, dc      float64 // sin and cos of the step's angle
}

const reseed = 256

func newDailyWalk(first, step int64) dailyWalk {
	ds, dc := math.Sincos(2 * math.Pi * float64(step%msPerDay) / msPerDayF)
	return dailyWalk{first: first, step: step, next: -1, ds: ds, dc: dc}
}

// row writes point i's row, x its trend regressor, into dst (as
// seasonalRow).
func (w *dailyWalk) row(dst *[seasonalParams]float64, i int, x float64) {
	if i != w.next || i%reseed == 0 {
		t := w.first + int64(i)*w.step
		w.s, w.c = math.Sincos(2 * math.Pi * float64(((t%msPerDay)+msPerDay)%msPerDay) / msPerDayF)
	} else {
		w.s, w.c = w.s*w.dc+w.c*w.ds, w.c*w.dc-w.s*w.ds
	}
	w.next = i + 1
	s1, c1 := w.s, w.c
	s2, c2 := 2*s1*c1, c1*c1-s1*s1
	*dst = [seasonalParams]float64{1, x, s1, c1, s2, c2, s2*c1 + c2*s1, c2*c1 - s2*s1}
}

// seasonalParams is the number of the model's coefficients.
const seasonalParams = 2 + 2*seasonalHarmonics

// FitSeasonalTrend fits the model to y sampled every step ms, the last
// point at time last (Unix ms); non-finite values are skipped. It needs at
// least a day of data for the cycle to be identified. The normal equations
// are accumulated in arrays, without allocating per point.
func FitSeasonalTrend(y []float64, last, step int64) (*SeasonalTrend, error) {
	const p = seasonalParams
	n := len(y)
	if n == 0 || int64(n)*step < msPerDay {
		return nil, ErrTooFewPoints
	}
	var ata [p][p]float64 // upper triangle
	var aty [p]float64
	var row [p]float64
	walk := newDailyWalk(last-int64(n-1)*step, step)
	cnt := 0
	for i, v := range y {
		if !finite(v) {
			continue
		}
		walk.row(&row, i, float64(i-(n-1)))
		for a := range p {
			aty[a] += row[a] * v
			ra := row[a]
			for b := a; b < p; b++ {
				ata[a][b] += ra * row[b]
			}
		}
		cnt++
	}
	if cnt <= p+2 {
		return nil, ErrTooFewPoints
	}
	xtx := mat.NewSymDense(p, nil)
	for a := range p {
		for b := a; b < p; b++ {
			xtx.SetSym(a, b, ata[a][b])
		}
	}
	var chol mat.Cholesky
	if ok := chol.Factorize(xtx); !ok {
		return nil, ErrTooFewPoints
	}
	beta := mat.NewVecDense(p, nil)
	if err := chol.SolveVecTo(beta, mat.NewVecDense(p, aty[:])); err != nil {
		return nil, err
	}
	bv := beta.RawVector().Data
	sse, lag := residualSums(y, func(i int) float64 {
		walk.row(&row, i, float64(i-(n-1)))
		f := 0.0
		for a, x := range row {
			f += x * bv[a]
		}
		return f
	})
	sigma2, rho := ar1Errors(sse, lag, cnt, p)
	var cov mat.SymDense
	if err := chol.InverseTo(&cov); err != nil {
		return nil, err
	}
	cov.ScaleSym(sigma2*(1+rho)/(1-rho), &cov)
	return &SeasonalTrend{N: cnt, Sigma: math.Sqrt(sigma2), Rho: rho, beta: beta.RawVector().Data, cov: &cov, step: step, last: last}, nil
}

// Slope returns the trend's growth per step.
func (m *SeasonalTrend) Slope() float64 { return m.beta[1] }

// SlopeSE returns the standard error of Slope.
func (m *SeasonalTrend) SlopeSE() float64 { return math.Sqrt(m.cov.At(1, 1)) }

// LevelAt returns the mean of the model h steps after the last point and
// its standard deviation: the uncertainty of the fitted level, without the
// noise of a single observation (capacity plans ask when the level, not one
// sample, reaches a threshold). row is scratch of length at least 8.
//
// It is called for every step of a plan's horizon, so it computes the
// quadratic form rowᵀ·cov·row on the raw upper triangle, without allocating.
func (m *SeasonalTrend) LevelAt(row []float64, h int) (mean, sd float64) {
	p := len(m.beta)
	row = row[:p]
	seasonalRow(row, float64(h), m.last+int64(h)*m.step)
	raw := m.cov.RawSymmetric()
	q := 0.0
	for a := range p {
		mean += row[a] * m.beta[a]
		q += row[a] * row[a] * raw.Data[a*raw.Stride+a]
		for b := a + 1; b < p; b++ {
			q += 2 * row[a] * row[b] * raw.Data[a*raw.Stride+b]
		}
	}
	return mean, math.Sqrt(max(q, 0))
}
