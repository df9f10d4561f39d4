package forecast

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/augur-sre/augur/model"
)

// Quantiles of a time to an event, in seconds; nil where the quantile lies
// beyond the horizon considered.
type Quantiles struct {
	P10 *float64 `json:"p10"`
	P50 *float64 `json:"p50"`
	P90 *float64 `json:"p90"`
}

// Band is an interval of values.
type Band struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

// Factor is one signal's contribution to an entity's failure probability.
type Factor struct {
	Signal              string            `json:"signal"`
	Labels              map[string]string `json:"labels"`
	Share               float64           `json:"share"`
	Value               float64           `json:"value"`
	Limit               *float64          `json:"limit,omitempty"`
	Band                *Band             `json:"band,omitempty"`
	AnomalyScore        float64           `json:"anomaly_score"`
	CrossingProbability float64           `json:"crossing_probability"`
	ETASeconds          Quantiles         `json:"eta_seconds"`
}

// EntityRisk is an entity's failure probability over the horizon.
type EntityRisk struct {
	Entity             string    `json:"entity"`
	EntityLabel        string    `json:"entity_label"`
	FailureProbability float64   `json:"failure_probability"`
	Severity           string    `json:"severity"`
	ETASeconds         Quantiles `json:"eta_seconds"`
	Factors            []Factor  `json:"factors"`
}

// Severity names the alert level of a failure probability: critical at or
// above 0.9, warning at or above the alert threshold, ok below.
func Severity(p, threshold float64) string {
	switch {
	case p >= 0.9:
		return "critical"
	case p >= threshold:
		return "warning"
	}
	return "ok"
}

// Errors a caller can map to a client error.
var (
	ErrNotReady = errors.New("models are not fitted yet")
	ErrTooLong  = errors.New("horizon too long for the step")
)

// maxSteps bounds the length of a forecast path computed for a request.
const maxSteps = 200_000

// recentScore is the anomaly evidence of a series: the highest score over
// the last few points, so that one ordinary point right after an anomalous
// one does not erase the evidence.
func (s *series) recentScore() float64 {
	const window = 5
	m := 0.0
	for i := max(0, len(s.sc)-window); i < len(s.sc); i++ {
		if s.sc[i] > m {
			m = s.sc[i]
		}
	}
	return m
}

func (s *series) last() (t int64, v float64) {
	for i := len(s.v) - 1; i >= 0; i-- {
		if !math.IsNaN(s.v[i]) {
			return s.t[i], s.v[i]
		}
	}
	return 0, math.NaN()
}

// crossing computes the series' probability of reaching threshold within h
// steps and the quantiles of the time it takes, in steps.
type crossing struct {
	prob       float64
	p10, p50   float64
	p90        float64
	ok10, ok50 bool
	ok90       bool
}

// assess forecasts h steps ahead and returns the crossing of threshold.
// A series already at or over the threshold crosses now, with certainty.
func (s *series) assess(fc *model.Forecast, sd, curve []float64, h int, threshold float64) (crossing, []float64, []float64) {
	if _, v := s.last(); v >= threshold {
		return crossing{prob: 1, ok10: true, ok50: true, ok90: true}, sd, curve
	}
	if s.hw == nil || math.IsNaN(threshold) {
		return crossing{}, sd, curve
	}
	if err := s.hw.PredictInto(fc, h, 0.95); err != nil {
		return crossing{}, sd, curve
	}
	sd = sd[:0]
	for i := range fc.Point {
		sd = append(sd, (fc.Upper[i]-fc.Lower[i])/(2*z95))
	}
	curve = model.CrossingCurve(curve, fc.Point, sd, threshold)
	c := crossing{prob: curve[len(curve)-1]}
	c.p10, c.ok10 = model.ETA(curve, 0.1)
	c.p50, c.ok50 = model.ETA(curve, 0.5)
	c.p90, c.ok90 = model.ETA(curve, 0.9)
	return c, sd, curve
}

func (c crossing) quantiles(step time.Duration) Quantiles {
	sec := step.Seconds()
	q := func(v float64, ok bool) *float64 {
		if !ok {
			return nil
		}
		x := v * sec
		return &x
	}
	return Quantiles{P10: q(c.p10, c.ok10), P50: q(c.p50, c.ok50), P90: q(c.p90, c.ok90)}
}

// Failures returns every entity's failure probability over horizon (the
// configured one when zero), most likely to fail first.
func (e *Engine) Failures(horizon time.Duration) ([]EntityRisk, error) {
	if horizon <= 0 {
		horizon = e.opts.Horizon
	}
	h := int(horizon / e.opts.Step)
	if h < 1 || h > maxSteps {
		return nil, fmt.Errorf("%w: %s at step %s", ErrTooLong, horizon, e.opts.Step)
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.ready {
		return nil, ErrNotReady
	}
	type acc struct {
		risk    EntityRisk
		weights []float64
		cross   []float64
		scores  []float64
	}
	entities := map[string]*acc{}
	var fc model.Forecast
	var sd, curve []float64
	for _, sig := range e.signals {
		for _, s := range sig.series {
			a := entities[s.entity]
			if a == nil {
				a = &acc{risk: EntityRisk{Entity: s.entity, EntityLabel: sig.Entity}}
				entities[s.entity] = a
			}
			var c crossing
			c, sd, curve = s.assess(&fc, sd, curve, h, s.limit)
			score := s.recentScore()
			t, v := s.last()
			f := Factor{
				Signal:              sig.Name,
				Labels:              s.labels,
				Value:               v,
				AnomalyScore:        score,
				CrossingProbability: c.prob,
				ETASeconds:          c.quantiles(e.opts.Step),
			}
			if !math.IsNaN(s.limit) {
				l := s.limit
				f.Limit = &l
			}
			if s.base != nil && t != 0 {
				lo, hi := s.base.Band(t)
				f.Band = &Band{Lower: lo, Upper: hi}
			}
			a.risk.Factors = append(a.risk.Factors, f)
			a.cross = append(a.cross, c.prob)
			a.scores = append(a.scores, score)
			a.weights = append(a.weights, -math.Log1p(-math.Min(model.AnyOf(c.prob, model.AnomalyPrior([]float64{score})), 1-1e-12)))
			mergeETA(&a.risk.ETASeconds, f.ETASeconds)
		}
	}
	out := make([]EntityRisk, 0, len(entities))
	for _, a := range entities {
		p := model.AnyOf(model.AnyOf(a.cross...), model.AnomalyPrior(a.scores))
		a.risk.FailureProbability = p
		a.risk.Severity = Severity(p, e.opts.FailureThreshold)
		total := 0.0
		for _, w := range a.weights {
			total += w
		}
		for i := range a.risk.Factors {
			if total > 0 {
				a.risk.Factors[i].Share = a.weights[i] / total
			}
		}
		sort.SliceStable(a.risk.Factors, func(i, j int) bool { return a.risk.Factors[i].Share > a.risk.Factors[j].Share })
		out = append(out, a.risk)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].FailureProbability != out[j].FailureProbability {
			return out[i].FailureProbability > out[j].FailureProbability
		}
		return out[i].Entity < out[j].Entity
	})
	return out, nil
}

// mergeETA keeps, per quantile, the earliest time: an entity fails when its
// first signal does.
func mergeETA(dst *Quantiles, q Quantiles) {
	m := func(a **float64, b *float64) {
		if b != nil && (*a == nil || *b < **a) {
			v := *b
			*a = &v
		}
	}
	m(&dst.P10, q.P10)
	m(&dst.P50, q.P50)
	m(&dst.P90, q.P90)
}
