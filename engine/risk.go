package engine

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
	P10 *float64
	P50 *float64
	P90 *float64
}

// Band is an interval of values.
type Band struct {
	Lower float64
	Upper float64
}

// Factor is one signal's contribution to an entity's failure probability.
type Factor struct {
	Signal       string
	Labels       map[string]string
	Share        float64
	Value        float64
	Limit        *float64
	Band         *Band
	AnomalyScore float64
	// EntityShare is the signal's share of the entity's multivariate
	// score (see EntityRisk.EntityScore).
	EntityShare         float64
	CrossingProbability float64
	ETASeconds          Quantiles
}

// EntityRisk is an entity's failure probability over the horizon.
type EntityRisk struct {
	Entity             string
	EntityLabel        string
	FailureProbability float64
	// CrossingProbability is the probability that one of the entity's
	// signals reaches its limit within the horizon, AnomalyEvidence the
	// prior probability of failure from its signals' anomaly scores and
	// its multivariate score EntityScore (model.EntityAnomalyPrior): the
	// evidence the calibration maps to FailureProbability.
	CrossingProbability float64
	AnomalyEvidence     float64
	EntityScore         float64
	Severity            string
	ETASeconds          Quantiles
	Factors             []Factor
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
	for i := max(0, s.win.n-window); i < s.win.n; i++ {
		if sc := s.score(i); sc > m {
			m = sc
		}
	}
	return m
}

// scoreAt returns the anomaly score of the point at t, NaN if the window
// does not hold it.
func (s *series) scoreAt(t int64) float64 {
	i := s.win.n - 1 - int((s.win.newest-t)/s.win.step)
	if s.win.n == 0 || i < 0 || i >= s.win.n || s.win.t(i) != t {
		return math.NaN()
	}
	return s.score(i)
}

// last returns the newest finite point of the window, (0, NaN) if none.
func (s *series) last() (t int64, v float64) {
	for i := s.win.n - 1; i >= 0; i-- {
		if v := s.win.at(i); !math.IsNaN(v) {
			return s.win.t(i), v
		}
	}
	return 0, math.NaN()
}

// crossing is a series' probability of reaching a threshold within the
// horizon, the quantiles of the time it takes, in points of its curve, and
// the forecast at the horizon (set by mergeCurve).
type crossing struct {
	prob       float64
	p10, p50   float64
	p90        float64
	ok10, ok50 bool
	ok90       bool
	// atHorizon is the forecast at the last step with its 95 % interval.
	atHorizon    [3]float64
	hasAtHorizon bool
}

// scratch holds the buffers assess reuses across series.
type scratch struct {
	fc                     model.Forecast
	sd, curve              []float64
	mean2, sd2, curve2, rs []float64
	// o is a capacity plan's regime outlook.
	o model.Outlook
	// ahead and behind are the daily baseline's centres at the points a
	// series' trends are projected on and fitted to, which its three
	// windows share: ahead[j] at point j of grid aheadGrid after aheadT,
	// behind[k] at the k-th newest point of window behindWin (see
	// centreAhead, centreBehind).
	ahead      []float64
	aheadOf    *model.Baseline
	aheadT     int64
	aheadGrid  model.Grid
	behind     []float64
	behindOf   *model.Baseline
	behindWin  *window
	behindLast int64
}

// centreAhead returns daily's centre at point j of g after t, computed
// once for every trend of a series projected from t on g.
func (sc *scratch) centreAhead(daily *model.Baseline, g model.Grid, t int64, j int) float64 {
	if sc.aheadOf != daily || sc.aheadT != t || sc.aheadGrid != g {
		sc.ahead, sc.aheadOf, sc.aheadT, sc.aheadGrid = sc.ahead[:0], daily, t, g
	}
	for len(sc.ahead) <= j {
		center, _ := daily.At(t + g.At(len(sc.ahead)))
		sc.ahead = append(sc.ahead, center)
	}
	return sc.ahead[j]
}

// centreBehind returns daily's centre at the k-th newest point of w
// (0 the newest), computed once for every trend fitted to w.
func (sc *scratch) centreBehind(daily *model.Baseline, w *window, k int) float64 {
	if sc.behindOf != daily || sc.behindWin != w || sc.behindLast != w.newest {
		sc.behind, sc.behindOf, sc.behindWin, sc.behindLast = sc.behind[:0], daily, w, w.newest
	}
	for len(sc.behind) <= k {
		center, _ := daily.At(w.t(w.n - 1 - len(sc.behind)))
		sc.behind = append(sc.behind, center)
	}
	return sc.behind[k]
}

// shortTermSteps is the horizon up to which Holt-Winters' own forecast
// joins the trend model: beyond a day, its local trend extrapolates noise.
const shortTermSteps = 24 * 60

// assess returns the probability that a sample reaches threshold within h
// steps (noise included: a spike to the limit is a failure). Forecasts are
// combined by taking, at each step, the highest probability of having
// crossed, so that the soonest credible path sets the ETA:
//   - up to a day ahead, the series' chosen forecaster (seasonal, short-term);
//   - linear trends through the last recent/2, recent and 2·recent points
//     of the series less its daily baseline (see projectTrend), the window
//     restarting after the last point at the threshold (see trend): what
//     recognises a leak, a filling pool or a runaway process. The short
//     window catches a fast ramp before the long one's slope, diluted by
//     the flat part, can; its wider interval keeps it from raising alarms
//     on noise.
//
// recent is the failure horizon in steps. A series already at or over the
// threshold crosses now, with certainty.
func (s *series) assess(sc *scratch, h, recent int, threshold float64, stepMs int64) crossing {
	tLast, v := s.last()
	if v >= threshold {
		// Crossed already: the ETA is now.
		return crossing{prob: 1, ok10: true, ok50: true, ok90: true}
	}
	if s.fc == nil || math.IsNaN(threshold) {
		return crossing{}
	}
	var c crossing
	sc.curve = sc.curve[:0]
	// Each forecast's curve at a step does not depend on h, so a shorter
	// horizon's answer is a prefix of a longer one's: P(cross within h) is
	// non-decreasing in h and an ETA within it stays the same.
	if s.fc.PredictInto(&sc.fc, min(h, shortTermSteps), 0.95) == nil {
		sc.sd = sc.sd[:0]
		for i := range sc.fc.Point {
			sc.sd = append(sc.sd, (sc.fc.Upper[i]-sc.fc.Lower[i])/(2*z95))
		}
		sc.mergeCurve(&c, sc.fc.Point, sc.sd, threshold, h)
	}
	g := model.Grid{Step: stepMs}
	for _, w := range [...]int{recent / 2, recent, 2 * recent} {
		tr, ok := s.trend(sc, w, threshold)
		if !ok {
			continue
		}
		if sc.projectTrend(tr, s.daily, g, tLast, h); len(sc.mean2) > 0 {
			sc.mergeCurve(&c, sc.mean2, sc.sd2, threshold, h)
		}
	}
	if len(sc.curve) == 0 {
		return c
	}
	c.prob = sc.curve[len(sc.curve)-1]
	c.p10, c.ok10 = model.ETA(sc.curve, 0.1)
	c.p50, c.ok50 = model.ETA(sc.curve, 0.5)
	c.p90, c.ok90 = model.ETA(sc.curve, 0.9)
	return c
}

// projectTrend sets sc.mean2 and sc.sd2 to the forecast of a recent trend
// tr (of the series less its daily baseline, from the point at t) at the
// points of g within h points, on top of the baseline's future centre, and
// with the noise of one observation: a slope from a few dozen
// autocorrelated points is too uncertain for the line's own interval to be
// trusted. A window's line is projected no further than four window
// lengths: an hour's slope says nothing of next week.
func (sc *scratch) projectTrend(tr model.LinearTrend, daily *model.Baseline, g model.Grid, t int64, h int) {
	sc.mean2, sc.sd2 = sc.mean2[:0], sc.sd2[:0]
	for j := range h {
		off := g.At(j)
		k := off / g.Step
		if k > int64(4*tr.N) {
			break
		}
		m, d := tr.MeanSD(float64(k))
		if daily != nil {
			m += sc.centreAhead(daily, g, t, j)
		}
		sc.mean2 = append(sc.mean2, m)
		sc.sd2 = append(sc.sd2, d)
	}
}

// mergeCurve folds the crossing curve of a forecast (mean, sd per step, up
// to h steps) into sc.curve by taking the higher probability at each step;
// a forecast shorter than the curve holds its probability of having
// crossed by its end for every later step. The first forecast that reaches
// h sets the value expected at the horizon.
func (sc *scratch) mergeCurve(c *crossing, mean, sd []float64, threshold float64, h int) {
	sc.curve2 = model.CrossingCurve(sc.curve2, mean, sd, threshold)
	if len(mean) == h && !c.hasAtHorizon {
		d := z95 * sd[h-1]
		c.atHorizon, c.hasAtHorizon = [3]float64{mean[h-1], mean[h-1] - d, mean[h-1] + d}, true
	}
	for len(sc.curve) < len(sc.curve2) {
		last := 0.0
		if n := len(sc.curve); n > 0 {
			last = sc.curve[n-1]
		}
		sc.curve = append(sc.curve, last)
	}
	for i, p := range sc.curve2 {
		sc.curve[i] = max(sc.curve[i], p)
	}
	if last := sc.curve2[len(sc.curve2)-1]; len(sc.curve2) < len(sc.curve) {
		for i := len(sc.curve2); i < len(sc.curve); i++ {
			sc.curve[i] = max(sc.curve[i], last)
		}
	}
}

// minTrendPoints is the shortest window a growth estimate uses.
const minTrendPoints = 20

// trend fits the linear trend of the last w points less the baseline. The
// window never reaches back past the last point at or over resetAt (the
// limit): a failure and its recovery (a restart, a drained pool) start a
// new regime whose growth owes nothing to the ramp that led to the failure.
func (s *series) trend(sc *scratch, w int, resetAt float64) (model.LinearTrend, bool) {
	n := s.win.n
	w = min(max(w, minTrendPoints), n)
	from := n - w
	for i := n - 1; i >= from; i-- {
		if s.win.at(i) >= resetAt {
			from = i + 1
			break
		}
	}
	if n-from < minTrendPoints {
		return model.LinearTrend{}, false
	}
	sc.rs = sc.rs[:0]
	for i := from; i < n; i++ {
		r := s.win.at(i)
		if s.daily != nil {
			r -= sc.centreBehind(s.daily, &s.win, n-1-i)
		}
		sc.rs = append(sc.rs, r)
	}
	tr, err := model.FitLinearTrend(sc.rs)
	return tr, err == nil
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
// configured one when zero), most likely to fail first: the published
// State's for the configured horizon, computed for another.
func (e *Engine) Failures(horizon time.Duration) ([]EntityRisk, error) {
	if horizon <= 0 {
		horizon = e.opts.Horizon
	}
	h := int(horizon / e.opts.Step)
	if h < 1 || h > maxSteps {
		return nil, fmt.Errorf("%w: %s at step %s", ErrTooLong, horizon, e.opts.Step)
	}
	if st := e.State(); st.Ready && horizon == e.opts.Horizon {
		return st.Entities, nil
	}
	risks, _, err := e.failures(h, false)
	return risks, err
}

// failures computes every entity's failure probability over h steps and,
// with withSeries, every series' state from the same assessment.
func (e *Engine) failures(h int, withSeries bool) ([]EntityRisk, []SeriesState, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.ready {
		return nil, nil, ErrNotReady
	}
	var states []SeriesState
	type acc struct {
		risk    EntityRisk
		weights []float64
		cross   []float64
		scores  []float64
		eshare  []float64
		// warming is set while no series of the entity has a model.
		warming bool
	}
	entities := map[string]*acc{}
	// The assessments, independent across series, run in parallel; what
	// they add up to per entity is summed in key order.
	all := e.byKey
	type assessed struct {
		c     crossing
		score float64
	}
	res := make([]assessed, len(all))
	forShards(len(all), func(lo, hi int) {
		var sc scratch
		for i := lo; i < hi; i++ {
			s := all[i]
			res[i] = assessed{s.assess(&sc, h, h, s.limit, e.step), s.recentScore()}
		}
	})
	for i, s := range all {
		sig := s.signal
		a := entities[s.entity]
		if a == nil {
			a = &acc{risk: EntityRisk{Entity: s.entity, EntityLabel: sig.entityLabel}, warming: true}
			entities[s.entity] = a
		}
		a.warming = a.warming && s.warmingUp()
		c, score := res[i].c, res[i].score
		t, v := s.last()
		f := Factor{
			Signal:              sig.Name,
			Labels:              s.labels,
			Value:               v,
			AnomalyScore:        score,
			EntityShare:         s.entityShare(),
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
		if withSeries {
			ss := SeriesState{
				Labels: s.labels, Entity: s.entity, EntityLabel: sig.entityLabel, T: t, Value: v, Band: f.Band,
				AnomalyScore: score, PointScore: s.scoreAt(t), ETASeconds: f.ETASeconds, Stale: sig.stale,
				refs: s.refs, key: s.key,
			}
			if math.IsNaN(v) {
				ss.Band = nil
			}
			states = append(states, ss)
		}
		a.cross = append(a.cross, c.prob)
		a.scores = append(a.scores, score)
		a.eshare = append(a.eshare, f.EntityShare)
		a.weights = append(a.weights, -math.Log1p(-math.Min(model.AnyOf(c.prob, model.AnomalyPrior([]float64{score})), 1-1e-12)))
		mergeETA(&a.risk.ETASeconds, f.ETASeconds)
	}
	out := make([]EntityRisk, 0, len(entities))
	for _, a := range entities {
		escore := e.entityScore(a.risk.Entity)
		cross, anom := model.AnyOf(a.cross...), model.EntityAnomalyPrior(a.scores, escore)
		p := e.failureProbability(a.risk.Entity, cross, anom)
		a.risk.CrossingProbability, a.risk.AnomalyEvidence, a.risk.FailureProbability = cross, anom, p
		a.risk.EntityScore = escore
		addEntityWeights(a.weights, a.eshare, escore)
		a.risk.Severity = Severity(p, e.opts.FailureThreshold)
		if a.warming {
			// Not "ok": nothing is known of the entity yet.
			a.risk.Severity = string(HealthWarmingUp)
		}
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
	return out, states, nil
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
