package model

import "math"

// hwEstimatedInit estimates a Holt-Winters start from all full periods of y
// instead of R's first two: a straight line a + b·t through the per-period
// means (placed at the period centres), and the seasonal start as the mean,
// by phase, of y minus that line over every full period, centred to sum to
// zero and smoothed across phases as far as cross-validation supports, or
// zero where it finds no season (see smoothSeason). The state before y[0] is then level a - b, trend b, and
// those components.
//
// Two noisy periods (R's start) leave noise in the seasonal start that the
// SSE-optimal fit washes out with a large γ, which then chases noise in the
// forecast; averaged over k periods (and smoothed) the start's noise
// shrinks and the fit settles on a small γ. (statsmodels' ExponentialSmoothing
// avoids the problem by estimating its starting values.) On the period-288
// fixture the SSE per point falls from 1.84 to 1.18 (statsmodels 1.01) and
// γ from 1 to 0.02. Missing points are skipped; nil when y has fewer than
// two full periods or a period without finite points.
func hwEstimatedInit(y []float64, period int) *HoltWintersInit {
	if period < 2 || len(y)/period < 2 {
		return nil
	}
	k := len(y) / period
	// Line through the period means: least squares of mean_j on the centre
	// t_j = j·period + (period-1)/2.
	var ls lineSums
	for j := range k {
		var acc float64
		var c int
		for _, v := range y[j*period : (j+1)*period] {
			if finite(v) {
				acc += v
				c++
			}
		}
		if c == 0 {
			return nil
		}
		ls.add(float64(j*period)+float64(period-1)/2, acc/float64(c))
	}
	a, b, ok := ls.line()
	if !ok {
		return nil
	}
	s, mean := seasonalFigure(period, k*period, func(t int) float64 { return y[t] - (a + b*float64(t)) })
	if !finite(a) || !finite(b) || !finite(mean) {
		return nil
	}
	s = smoothSeason(s, y[:k*period], a, b)
	return &HoltWintersInit{Level: a - b, Trend: b, Season: s}
}

// seasonWidths are the moving-average widths smoothSeason chooses from.
var seasonWidths = [...]int{1, 3, 5, 9, 15, 25, 41}

// smoothSeason smooths the seasonal start s (the phase means of the
// residuals r_t = y_t - a - b·t over the k full periods of y) by a circular
// moving average across neighbouring phases, of the width that predicts
// each period's centred residual profile best from the other periods
// (leave-one-period-out cross-validation: periods are nearly independent
// even when the noise within a period is not). Width 1 (no smoothing) wins
// when the seasonal shape has sharp features; when no width predicts better
// than a flat profile (no season, e.g. a random walk) the start is all
// zeros. Widths above period/4 are not tried. It returns s itself or a new
// slice.
func smoothSeason(s, y []float64, a, b float64) []float64 {
	period := len(s)
	k := len(y) / period
	if k < 2 || period < 12 {
		return s
	}
	sum := make([]float64, period)
	cnt := make([]float64, period)
	for t, v := range y {
		if finite(v) {
			sum[t%period] += v - a - b*float64(t)
			cnt[t%period]++
		}
	}
	for _, c := range cnt {
		if c < 2 {
			return s // a phase seen once cannot be left out
		}
	}
	nw := 1 // the widths tried
	for nw < len(seasonWidths) && seasonWidths[nw] <= period/4 {
		nw++
	}
	// Period by period, the phase means without it and its centred
	// residuals are computed once and scored against every width's moving
	// average of those means (cv[w]); the residuals' own squares (cv0) are
	// the error of a flat profile.
	var cv [len(seasonWidths)]float64
	var cv0 float64
	loo := make([]float64, period) // phase means without period j
	res := make([]float64, period) // period j's residuals minus their mean, NaN where missing
	ma := make([]float64, period)
	for j := range k {
		r := y[j*period : (j+1)*period]
		var rm float64
		var rc int
		for i, v := range r {
			loo[i] = sum[i] / cnt[i]
			if finite(v) {
				d := v - a - b*float64(j*period+i)
				loo[i] = (sum[i] - d) / (cnt[i] - 1)
				rm += d
				rc++
			}
		}
		if rc == 0 {
			continue
		}
		rm /= float64(rc)
		for i, v := range r {
			res[i] = math.NaN()
			if finite(v) {
				res[i] = v - a - b*float64(j*period+i) - rm
				cv0 += res[i] * res[i]
			}
		}
		for wi, w := range seasonWidths[:nw] {
			mean := circularMA(ma, loo, w)
			acc := cv[wi]
			for i, d := range res {
				if finite(d) {
					e := d - (ma[i] - mean)
					acc += e * e
				}
			}
			cv[wi] = acc
		}
	}
	bestW, bestErr := 0, cv0 // width 0: no season at all
	for wi, w := range seasonWidths[:nw] {
		if cv[wi] < bestErr {
			bestW, bestErr = w, cv[wi]
		}
	}
	switch bestW {
	case 0:
		return make([]float64, period)
	case 1:
		return s
	}
	out := make([]float64, period)
	mean := circularMA(out, s, bestW)
	for i := range out {
		out[i] -= mean
	}
	return out
}

// circularMA writes the centred moving average of odd width w of the
// circular sequence x into dst and returns dst's mean.
func circularMA(dst, x []float64, w int) float64 {
	n, h := len(x), w/2
	var acc, total float64
	for d := -h; d <= h; d++ {
		acc += x[((d%n)+n)%n]
	}
	// in and out are the indices entering and leaving the window, wrapped
	// by a comparison rather than a division per phase (h < n).
	in, out := (h+1)%n, ((-h)%n+n)%n
	for i := range x {
		dst[i] = acc / float64(w)
		total += dst[i]
		acc += x[in] - x[out]
		if in++; in == n {
			in = 0
		}
		if out++; out == n {
			out = 0
		}
	}
	return total / float64(n)
}
