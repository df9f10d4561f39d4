package model

import (
	"errors"
	"math"
	"sort"
)

// Calibrator maps an entity's evidence to a calibrated failure probability.
// The evidence is the probability that one of its signals crosses its limit
// within the horizon (cross) and the prior probability of failure from
// anomalies (anom, see AnomalyPrior), combined as raw = AnyOf(cross, anom);
// the map from raw to probability is fitted on past predictions and their
// outcomes by isotonic regression (the pool-adjacent-violators algorithm;
// Zadrozny & Elkan, "Transforming classifier scores into accurate multiclass
// probability estimates", KDD 2002): the monotone step function closest to
// the observed outcome frequencies, so that among entities given p, about p
// fail. Blocks hold at least 30 predictions and each block's frequency is
// shrunk towards the raw evidence by a few pseudo-observations, so a thin
// block cannot claim certainty; Apply interpolates linearly between block
// centres. The zero Calibrator (N == 0)
// is the documented prior: raw taken at face value.
type Calibrator struct {
	// X are the blocks' mean raw evidence, increasing; Y their calibrated
	// probabilities, non-decreasing.
	X, Y []float64
	// N and Positives count the examples it was fitted on (0 for the prior).
	N, Positives int
}

// Apply returns the calibrated failure probability.
func (c Calibrator) Apply(cross, anom float64) float64 {
	raw := AnyOf(cross, anom)
	if c.N == 0 || len(c.X) == 0 {
		return raw
	}
	i := sort.SearchFloat64s(c.X, raw)
	switch {
	case i == 0:
		return c.Y[0]
	case i == len(c.X):
		return c.Y[len(c.Y)-1]
	}
	x0, x1 := c.X[i-1], c.X[i]
	if x1 == x0 {
		return c.Y[i]
	}
	f := (raw - x0) / (x1 - x0)
	return c.Y[i-1] + f*(c.Y[i]-c.Y[i-1])
}

// ErrFewIncidents is returned by FitCalibrator when the examples hold too few
// failures to fit anything but the prior.
var ErrFewIncidents = errors.New("too few positive examples to calibrate")

// FitCalibrator fits the map on the evidence of past predictions and their
// outcomes (true: the entity failed within the horizon). pseudo is the
// number of pseudo-observations at the raw evidence each block is shrunk
// towards; at least minPositives positive examples are needed.
func FitCalibrator(cross, anom []float64, outcome []bool, pseudo float64, minPositives int) (Calibrator, error) {
	if len(cross) != len(outcome) || len(anom) != len(outcome) {
		return Calibrator{}, errors.New("evidence and outcome lengths differ")
	}
	type ex struct{ raw, y float64 }
	exs := make([]ex, len(cross))
	pos := 0
	for i := range cross {
		exs[i].raw = AnyOf(cross[i], anom[i])
		if outcome[i] {
			exs[i].y = 1
			pos++
		}
	}
	if pos < minPositives || pos == 0 {
		return Calibrator{}, ErrFewIncidents
	}
	sort.Slice(exs, func(i, j int) bool { return exs[i].raw < exs[j].raw })
	// Pool adjacent violators over blocks of equal raw evidence.
	type block struct{ sumRaw, sumY, n float64 }
	var st []block
	for i := 0; i < len(exs); {
		b, start := block{}, exs[i].raw
		for ; i < len(exs) && exs[i].raw == start; i++ {
			b.sumRaw += exs[i].raw
			b.sumY += exs[i].y
			b.n++
		}
		st = append(st, b)
		for len(st) > 1 {
			a, z := st[len(st)-2], st[len(st)-1]
			if a.sumY/a.n < z.sumY/z.n {
				break
			}
			st = append(st[:len(st)-2], block{a.sumRaw + z.sumRaw, a.sumY + z.sumY, a.n + z.n})
		}
	}
	// Blocks of a handful of examples make a jagged map: merge each with its
	// successor until it holds minBlock (merging adjacent PAV blocks keeps
	// the means monotone).
	const minBlock = 30
	var merged []block
	for _, b := range st {
		if n := len(merged); n > 0 && merged[n-1].n < minBlock {
			m := &merged[n-1]
			m.sumRaw, m.sumY, m.n = m.sumRaw+b.sumRaw, m.sumY+b.sumY, m.n+b.n
			continue
		}
		merged = append(merged, b)
	}
	c := Calibrator{N: len(exs), Positives: pos}
	prev := 0.0
	for _, b := range merged {
		x := b.sumRaw / b.n
		y := (b.sumY + pseudo*x) / (b.n + pseudo)
		// Shrinkage can break monotonicity between blocks of very
		// different sizes; the running maximum restores it.
		y = math.Max(y, prev)
		prev = y
		c.X = append(c.X, x)
		c.Y = append(c.Y, y)
	}
	return c, nil
}
