package model

import (
	"errors"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// Calibrator maps a raw failure probability (the prior from forecasts and
// anomaly evidence) to a calibrated one by Platt scaling:
//
//	p = σ(A + B·logit(raw))
//
// (Platt, "Probabilistic outputs for support vector machines", 1999). The
// identity mapping is A = 0, B = 1. A Calibrator is a value; the zero value
// is not valid, use IdentityCalibrator.
type Calibrator struct {
	A, B float64
	// N and Positives count the examples it was fitted on (0 for the prior).
	N, Positives int
}

// IdentityCalibrator leaves probabilities unchanged: the documented prior
// used while no incidents are known.
func IdentityCalibrator() Calibrator { return Calibrator{A: 0, B: 1} }

// rawEps bounds raw probabilities away from 0 and 1 so their logit is finite.
const rawEps = 1e-6

func logit(p float64) float64 {
	p = math.Min(math.Max(p, rawEps), 1-rawEps)
	return math.Log(p / (1 - p))
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// Apply returns the calibrated probability of raw.
func (c Calibrator) Apply(raw float64) float64 {
	if math.IsNaN(raw) {
		return 0
	}
	return sigmoid(c.A + c.B*logit(raw))
}

// ErrFewIncidents is returned by FitCalibrator when the examples hold too few
// failures to fit anything but the prior.
var ErrFewIncidents = errors.New("too few positive examples to calibrate")

// FitCalibrator fits A and B by maximum likelihood on raw probabilities and
// their outcomes (true: the entity failed within the horizon), with a
// Gaussian prior of precision lambda pulling (A, B) towards the identity
// (0, 1), so that a handful of incidents moves the mapping only as far as
// they support. It needs at least minPositives positive examples. B is kept
// positive (a higher raw probability never means a lower calibrated one) by
// optimising log B. The negative log-posterior
//
//	L(A, u) = -Σ [y log p + (1-y) log(1-p)] + λ/2 (A² + (e^u - 1)²),  p = σ(A + e^u·x)
//
// is smooth and convex in A; it is minimised with BFGS (gonum/optimize).
func FitCalibrator(raw []float64, outcome []bool, lambda float64, minPositives int) (Calibrator, error) {
	if len(raw) != len(outcome) {
		return Calibrator{}, errors.New("raw and outcome lengths differ")
	}
	pos := 0
	for _, y := range outcome {
		if y {
			pos++
		}
	}
	if pos < minPositives {
		return Calibrator{}, ErrFewIncidents
	}
	x := make([]float64, len(raw))
	for i, r := range raw {
		x[i] = logit(r)
	}
	f := func(th []float64) float64 {
		a, b := th[0], math.Exp(th[1])
		l := 0.0
		for i, xi := range x {
			z := a + b*xi
			// log(1+e^z) computed stably; -log p = log(1+e^-z), -log(1-p) = log(1+e^z).
			if outcome[i] {
				l += softplus(-z)
			} else {
				l += softplus(z)
			}
		}
		return l + lambda/2*(a*a+(b-1)*(b-1))
	}
	grad := func(g, th []float64) {
		a, b := th[0], math.Exp(th[1])
		ga, gb := 0.0, 0.0
		for i, xi := range x {
			p := sigmoid(a + b*xi)
			r := p
			if outcome[i] {
				r = p - 1
			}
			ga += r
			gb += r * xi
		}
		g[0] = ga + lambda*a
		g[1] = (gb + lambda*(b-1)) * b
	}
	res, err := optimize.Minimize(optimize.Problem{Func: f, Grad: grad}, []float64{0, 0}, nil, &optimize.BFGS{})
	if err != nil && res == nil {
		return Calibrator{}, err
	}
	return Calibrator{A: res.X[0], B: math.Exp(res.X[1]), N: len(raw), Positives: pos}, nil
}

func softplus(z float64) float64 {
	if z > 30 {
		return z
	}
	return math.Log1p(math.Exp(z))
}
