package model

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/stat/distuv"
)

// CrossingCurve sets dst[i] to the probability that a series whose forecast
// at step i+1 is Gaussian with mean[i] and standard deviation sd[i] has
// reached limit by step i+1, and returns dst (reused when large enough):
//
//	F(i) = max_{k<=i} P(Y_k >= limit) = max_{k<=i} 1 - Φ((limit - mean_k) / sd_k)
//
// The running maximum of the marginal exceedance probabilities is a lower
// bound on the first-passage probability P(max_{k<=i} Y_k >= limit), exact
// when forecast errors are perfectly correlated across steps, which is close
// to the truth for exponential-smoothing forecasts whose errors accumulate.
// It is monotone in i, so its quantiles are well defined (see ETA).
// A zero sd means a deterministic forecast.
func CrossingCurve(dst, mean, sd []float64, limit float64) []float64 {
	dst = resize(dst, len(mean))
	run := 0.0
	for i, m := range mean {
		var p float64
		switch s := sd[i]; {
		case math.IsNaN(m):
			p = 0
		case s <= 0 || math.IsNaN(s):
			if m >= limit {
				p = 1
			}
		default:
			p = 1 - distuv.UnitNormal.CDF((limit-m)/s)
		}
		if p > run {
			run = p
		}
		dst[i] = run
	}
	return dst
}

// ETA returns the q-quantile of the time to reach the limit, in steps, from
// a crossing curve F (the CDF of the first-passage time sampled at steps
// 1..len(F)): the smallest t with F(t) >= q, linearly interpolated between
// steps. ok is false when F stays below q over the whole curve, i.e. the
// quantile lies beyond the forecast horizon.
func ETA(curve []float64, q float64) (steps float64, ok bool) {
	prev := 0.0
	for i, f := range curve {
		if f >= q {
			return etaBetween(i, prev, f, q), true
		}
		prev = f
	}
	return math.Inf(1), false
}

// ETAOf is ETA of the non-decreasing curve of n points whose point i is
// at(i), found by bisection: from about log₂ n points of it rather than
// all, for a curve whose points are costly (Outlook.At).
func ETAOf(n int, at func(int) float64, q float64) (steps float64, ok bool) {
	i := sort.Search(n, func(i int) bool { return at(i) >= q })
	if i == n {
		return math.Inf(1), false
	}
	prev := 0.0
	if i > 0 {
		prev = at(i - 1)
	}
	return etaBetween(i, prev, at(i), q), true
}

// etaBetween interpolates ETA's quantile q between point i-1 of a curve,
// prev (0 before the first), and point i, f >= q.
func etaBetween(i int, prev, f, q float64) float64 {
	if f == prev {
		return float64(i + 1)
	}
	return float64(i) + (q-prev)/(f-prev)
}

// AnyOf returns the probability that at least one of several independent
// events happens: 1 - Π(1 - p_i).
func AnyOf(ps ...float64) float64 {
	q := 1.0
	for _, p := range ps {
		q *= 1 - clamp01(p)
	}
	return 1 - q
}

// AnomalyPrior maps the anomaly scores of an entity's signals to the prior
// probability that the entity fails within the horizon for reasons its
// forecasts do not show. Each signal contributes w·exp(-(1-s)/τ) with
// τ = 0.002: scores are one minus tail probabilities, and a normal point
// has a 1 % chance of a tail under 0.01, so only the far tail may count
// (a point at the band's edge, s = 0.99, contributes w·e⁻⁵ ≈ 0.002; one ten
// times rarer, s = 0.999, w·e^-0.5). The contributions combine as
// independent causes, so several anomalous signals at once mean more than
// one. w = 0.35 caps a single signal's evidence well below the default
// alert threshold (0.8): anomaly alone warns only when three signals are
// extreme together. Calibration against incidents replaces this prior
// where incidents exist.
func AnomalyPrior(scores []float64) float64 {
	q := 1.0
	for _, s := range scores {
		q *= 1 - anomalyTerm(s)
	}
	return 1 - q
}

// anomalyTerm is one score's contribution to AnomalyPrior, w·exp(-(1-s)/τ).
func anomalyTerm(s float64) float64 {
	const w, tau = 0.35, 0.002
	return w * math.Exp(-(1-clamp01(s))/tau)
}

// EntityWeight is how many signals' anomalies an entity's multivariate
// score (EntityDetector) counts as in EntityAnomalyPrior: an entity
// extreme as a whole reaches 1 − 0.65³ = 0.73 alone, as three extreme
// signals do, below the default alert threshold (0.8) until one more
// signal is extreme too. On ASD one weight ranked the steps worse (best
// raw F1 0.39 against 0.42).
const EntityWeight = 3

// EntityAnomalyPrior is AnomalyPrior of the signals' scores with the
// entity's multivariate score counted EntityWeight times:
//
//	1 − Π_i (1 − t(s_i)) · (1 − t(e))^EntityWeight,   t(s) = w·exp(−(1−s)/τ).
func EntityAnomalyPrior(scores []float64, entity float64) float64 {
	return 1 - (1-AnomalyPrior(scores))*EntitySurvival(entity)
}

// EntitySurvival is the factor (1 − t(e))^EntityWeight by which the
// entity's multivariate score e multiplies the probability that no
// anomaly means a failure: its term of EntityAnomalyPrior.
func EntitySurvival(entity float64) float64 {
	return math.Pow(1-anomalyTerm(entity), EntityWeight)
}

func clamp01(p float64) float64 {
	switch {
	case p < 0 || math.IsNaN(p):
		return 0
	case p > 1:
		return 1
	}
	return p
}
