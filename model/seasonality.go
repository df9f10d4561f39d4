package model

import (
	"math"
	"slices"
	"sync"

	"gonum.org/v1/gonum/dsp/fourier"
)

const (
	// minCycles is the fewest whole periods a series needs before a period
	// is tested: with fewer, a slow random wander cannot be told from a
	// repeating pattern.
	minCycles = 3
	// seasonalZ is the normal quantile of the one-sided autocorrelation test
	// at 99%. forecast::thetaf uses 1.645, but on 100 seeded random walks of
	// 14 and 42 cycles that accepted 3% as seasonal; 2.326 accepts none and
	// 1%, and still finds every daily and weekly pattern of the tests.
	seasonalZ = 2.326
	// minSeasonalACF is the smallest lag-p autocorrelation that counts as
	// seasonality whatever the sample size: a pattern explaining less than a
	// tenth of the detrended variance is not worth modelling.
	minSeasonalACF = 0.1
)

// DetectPeriods returns, in increasing order, the candidate periods (in
// steps) that y really has. Non-finite values are missing and are filled by
// linear interpolation.
//
// Candidates are tested from the shortest. For period p, the series is
// detrended by a centred moving average over one period (as R's decompose),
// the seasonal profiles of the periods already found are subtracted (so that
// a daily pattern is not taken for a weekly one), and the autocorrelation
// r_k of the remainder is computed by FFT. p is accepted when
//
//	r_p > max(0.1, 2.326·sqrt((1 + 2·Σ_{k<p} r_k²)/n)),
//
// Bartlett's approximate standard error of r_p (Box, Jenkins & Reinsel,
// "Time Series Analysis", ch. 2; the seasonality test of Hyndman's
// forecast::thetaf, with a stricter quantile, see seasonalZ). Periods below 2 or with fewer than three
// cycles in y are never returned. White noise and random walks yield none.
//
// When every candidate is a multiple of some k ≥ 2 that leaves at least
// minCoarsePeriod points in the shortest, the test runs on the means of k
// consecutive points and on the periods divided by k: a season is a shape
// over the period, which a few hundred points per cycle resolve, and the
// FFT of a one-minute fortnight then costs a twenty-fifth (k = 15 for a
// daily period at one-minute steps).
func DetectPeriods(y []float64, candidates []int) []int {
	x := y // only read below: without a gap, no copy is needed
	if slices.ContainsFunc(y, func(v float64) bool { return !finite(v) }) {
		if x = fillGaps(y); x == nil {
			return nil
		}
	}
	cands := slices.Clone(candidates)
	cands = slices.DeleteFunc(cands, func(p int) bool { return p < 2 || len(x)/minCycles < p })
	slices.Sort(cands)
	cands = slices.Compact(cands)
	k := coarseFactor(cands)
	if k > 1 {
		x = blockMeans(x, k)
	}
	var found []int
	for _, p := range cands {
		if len(x)/minCycles < p/k {
			continue
		}
		if r, limit := seasonalACF(x, p/k, found); r > limit {
			found = append(found, p/k)
		}
	}
	for i := range found {
		found[i] *= k
	}
	return found
}

// minCoarsePeriod is the fewest points per cycle of the shortest period
// that DetectPeriods keeps when it aggregates.
const minCoarsePeriod = 96

// coarseFactor returns the largest k that divides every period in ps
// (sorted, each ≥ 2) and leaves ps[0]/k ≥ minCoarsePeriod, or 1.
func coarseFactor(ps []int) int {
	if len(ps) == 0 {
		return 1
	}
	g := ps[0]
	for _, p := range ps[1:] {
		for b := p; b != 0; {
			g, b = b, g%b
		}
	}
	for k := ps[0] / minCoarsePeriod; k > 1; k-- {
		if g%k == 0 {
			return k
		}
	}
	return 1
}

// blockMeans returns the means of k consecutive values of x, dropping an
// incomplete last block.
func blockMeans(x []float64, k int) []float64 {
	out := make([]float64, len(x)/k)
	for i := range out {
		var s float64
		for _, v := range x[i*k : (i+1)*k] {
			s += v
		}
		out[i] = s / float64(k)
	}
	return out
}

// seasonalACF returns the lag-p autocorrelation of x after detrending and
// removing the profiles of the periods in found, and the acceptance limit.
func seasonalACF(x []float64, p int, found []int) (r, limit float64) {
	d := detrend(x, p)
	for _, q := range found {
		removeProfile(d, q)
	}
	acf := autocorrelation(d, p)
	if acf == nil {
		return 0, math.Inf(1)
	}
	var sum float64
	for _, v := range acf[1:p] {
		sum += v * v
	}
	limit = seasonalZ * math.Sqrt((1+2*sum)/float64(len(d)))
	return acf[p], math.Max(limit, minSeasonalACF)
}

// fillGaps returns a copy of y with non-finite values linearly interpolated
// between their finite neighbours (held constant at the ends), or nil when
// y has no finite value.
func fillGaps(y []float64) []float64 {
	x := slices.Clone(y)
	prev := -1
	for i, v := range x {
		if !finite(v) {
			continue
		}
		switch {
		case prev < 0:
			for j := range i {
				x[j] = v
			}
		case prev < i-1:
			step := (v - x[prev]) / float64(i-prev)
			for j := prev + 1; j < i; j++ {
				x[j] = x[prev] + step*float64(j-prev)
			}
		}
		prev = i
	}
	if prev < 0 {
		return nil
	}
	for j := prev + 1; j < len(x); j++ {
		x[j] = x[prev]
	}
	return x
}

// detrend returns x minus its centred moving average over one period p, over
// the points where the average is defined (see centredMA).
func detrend(x []float64, p int) []float64 {
	d := centredMA(x, p)
	for i := range d {
		d[i] = x[i+p/2] - d[i]
	}
	return d
}

// centredMA returns the centred moving average of x over one period p, the
// trend of R's decompose: weights 1/p over t-h..t+h (h = p/2) for odd p, and
// the same with half weights at both ends for even p. Element i is the
// average at t = i+h, for t = h..len(x)-1-h; it is NaN where the window holds
// a non-finite value. Running sums make it O(len(x)).
func centredMA(x []float64, p int) []float64 {
	h := p / 2
	if len(x) < 2*h+1 {
		return nil
	}
	ma := make([]float64, len(x)-2*h)
	var sum float64 // of the finite values in x[t-h..t+h]
	var missing int // non-finite values in x[t-h..t+h]
	add := func(v float64, sign int) {
		if finite(v) {
			sum += float64(sign) * v
		} else {
			missing += sign
		}
	}
	for _, v := range x[:2*h] {
		add(v, 1)
	}
	for t := h; t+h < len(x); t++ {
		add(x[t+h], 1)
		if t > h {
			add(x[t-h-1], -1)
		}
		if missing > 0 {
			ma[t-h] = math.NaN()
			continue
		}
		w := sum
		if p%2 == 0 {
			w -= 0.5 * (x[t-h] + x[t+h])
		}
		ma[t-h] = w / float64(p)
	}
	return ma
}

// removeProfile subtracts from d its mean profile over period q: the mean of
// d over each phase t mod q.
func removeProfile(d []float64, q int) {
	mean := make([]float64, q)
	count := make([]float64, q)
	for t, v := range d {
		mean[t%q] += v
		count[t%q]++
	}
	for i := range mean {
		if count[i] > 0 {
			mean[i] /= count[i]
		}
	}
	for t := range d {
		d[t] -= mean[t%q]
	}
}

// autocorrelation returns the sample autocorrelation of d at lags 0..maxLag,
// r_k = Σ_t (d_t - d̄)(d_{t+k} - d̄) / Σ_t (d_t - d̄)², computed as the
// inverse FFT of the zero-padded periodogram (Wiener-Khinchin); nil when d
// is constant. The transform's length is a power of two of at least
// n+maxLag, not 2n: the circular autocovariance at lag k adds the products
// of points k apart and of points size-k apart, and with that padding the
// second have none for k ≤ maxLag (no two of the n points are size-k ≥ n
// apart), so it is the linear one; for DetectPeriods' lags (a period, at
// most a third of n) that is half the 2n transform.
func autocorrelation(d []float64, maxLag int) []float64 {
	n := len(d)
	size := 1
	for size < n+maxLag {
		size <<= 1
	}
	var mean float64
	for _, v := range d {
		mean += v
	}
	mean /= float64(n)
	sc := getFFT(size)
	defer ffts.Put(sc)
	buf := sc.buf
	for i, v := range d {
		buf[i] = v - mean
	}
	clear(buf[n:])
	fft := sc.fft
	coef := fft.Coefficients(sc.coef, buf)
	for i, c := range coef {
		coef[i] = complex(real(c)*real(c)+imag(c)*imag(c), 0)
	}
	acov := fft.Sequence(buf, coef)
	if !(acov[0] > 0) {
		return nil
	}
	acf := make([]float64, maxLag+1)
	for k := range acf {
		acf[k] = acov[k] / acov[0]
	}
	return acf
}

// ffts holds autocorrelation's FFT plans and buffers for reuse: a plan's
// twiddle factors cost more to compute than one transform of the sizes
// DetectPeriods uses, and series are fitted one after another. A plan of
// another size is reset (fourier.FFT.Reset keeps its storage when it is
// large enough).
var ffts = sync.Pool{New: func() any { return &fftScratch{fft: fourier.NewFFT(1)} }}

type fftScratch struct {
	fft  *fourier.FFT
	buf  []float64
	coef []complex128
}

func getFFT(n int) *fftScratch {
	sc := ffts.Get().(*fftScratch)
	if sc.fft.Len() != n {
		sc.fft.Reset(n)
		sc.buf = slices.Grow(sc.buf[:0], n)[:n]
		sc.coef = slices.Grow(sc.coef[:0], n/2+1)[:n/2+1]
	}
	return sc
}
