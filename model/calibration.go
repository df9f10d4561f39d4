package model

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// Calibrator maps an entity's evidence — the probability that one of its
// signals crosses its limit within the horizon (cross) and the prior
// probability of failure from anomalies (anom, see AnomalyPrior) — to a
// calibrated failure probability by logistic regression on their logits
// (Platt scaling with two features; Platt, "Probabilistic outputs for
// support vector machines", 1999):
//
//	p = σ(A + B·logit(cross) + C·logit(anom))
//
// Two features rather than their combination let incidents teach how much
// each kind of evidence is worth: an entity far outside its band for hours
// may be less likely to fail within the hour than one whose forecast
// reaches its limit. The zero Calibrator (N == 0) is the documented prior:
// p = AnyOf(cross, anom), the evidence taken at face value.
type Calibrator struct {
	A, B, C float64
	// N and Positives count the examples it was fitted on (0 for the prior).
	N, Positives int
}

// rawEps bounds raw probabilities away from 0 and 1 so their logit is finite.
const rawEps = 1e-6

func logit(p float64) float64 {
	if math.IsNaN(p) {
		p = 0
	}
	p = math.Min(math.Max(p, rawEps), 1-rawEps)
	return math.Log(p / (1 - p))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Apply returns the calibrated failure probability.
func (c Calibrator) Apply(cross, anom float64) float64 {
	if c.N == 0 {
		return AnyOf(cross, anom)
	}
	return sigmoid(c.A + c.B*logit(cross) + c.C*logit(anom))
}

// ErrFewIncidents is returned by FitCalibrator when the examples hold too few
// failures to fit anything but the prior.
var ErrFewIncidents = errors.New("too few positive examples to calibrate")

// FitCalibrator fits A, B and C by maximum likelihood on the evidence and
// outcomes (true: the entity failed within the horizon), with a Gaussian
// prior of precision lambda pulling (A, B, C) towards (0, 1, 1), so that a
// handful of incidents moves the mapping only as far as they support. It
// needs at least minPositives positive examples. B and C are kept
// non-negative (more evidence never means a lower probability) by
// optimising their logarithms. The negative log-posterior
//
//	L = -Σ [y log p + (1-y) log(1-p)] + λ/2 (A² + (B-1)² + (C-1)²)
//
// is minimised with BFGS (gonum/optimize) from the prior's mean.
func FitCalibrator(cross, anom []float64, outcome []bool, lambda float64, minPositives int) (Calibrator, error) {
	if len(cross) != len(outcome) || len(anom) != len(outcome) {
		return Calibrator{}, errors.New("evidence and outcome lengths differ")
	}
	pos := 0
	for _, y := range outcome {
		if y {
			pos++
		}
	}
	if pos < minPositives || pos == 0 {
		return Calibrator{}, ErrFewIncidents
	}
	x1 := make([]float64, len(cross))
	x2 := make([]float64, len(anom))
	for i := range cross {
		x1[i], x2[i] = logit(cross[i]), logit(anom[i])
	}
	f := func(th []float64) float64 {
		a, b, c := th[0], math.Exp(th[1]), math.Exp(th[2])
		l := 0.0
		for i := range x1 {
			z := a + b*x1[i] + c*x2[i]
			if outcome[i] {
				l += softplus(-z)
			} else {
				l += softplus(z)
			}
		}
		return l + lambda/2*(a*a+(b-1)*(b-1)+(c-1)*(c-1))
	}
	grad := func(g, th []float64) {
		a, b, c := th[0], math.Exp(th[1]), math.Exp(th[2])
		var ga, gb, gc float64
		for i := range x1 {
			r := sigmoid(a + b*x1[i] + c*x2[i])
			if outcome[i] {
				r--
			}
			ga += r
			gb += r * x1[i]
			gc += r * x2[i]
		}
		g[0] = ga + lambda*a
		g[1] = (gb + lambda*(b-1)) * b
		g[2] = (gc + lambda*(c-1)) * c
	}
	res, err := optimize.Minimize(optimize.Problem{Func: f, Grad: grad}, []float64{0, 0, 0}, nil, &optimize.BFGS{})
	if err != nil && res == nil {
		return Calibrator{}, err
	}
	return Calibrator{A: res.X[0], B: math.Exp(res.X[1]), C: math.Exp(res.X[2]), N: len(cross), Positives: pos}, nil
}

// softplus is log(1+e^z), computed without overflow.
func softplus(z float64) float64 {
	if z > 30 {
		return z
	}
	return math.Log1p(math.Exp(z))
}
