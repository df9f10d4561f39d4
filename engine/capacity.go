package engine

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/augur-sre/augur/model"
)

// Threshold is a capacity threshold: an absolute value, or a fraction of
// the series' limit when Fraction is set.
type Threshold struct {
	Value    float64
	Fraction bool
}

// Capacity is the time a series takes to reach a threshold.
type Capacity struct {
	Labels              map[string]string
	Threshold           float64
	Value               float64
	ETASeconds          Quantiles
	CrossingProbability float64
	AtHorizon           Point
	GrowthPerDay        float64
	// Reached is set when the series is at or over the threshold now: its
	// ETA is 0 at every horizon.
	Reached bool
}

// CapacityQuery asks for the capacity plans of the series Match selects
// (every one when nil) against Threshold (each series' limit when nil)
// within Horizon.
type CapacityQuery struct {
	Match     Matcher
	Threshold *Threshold
	Horizon   time.Duration
	// SortByETA orders the plans by their median ETA, soonest first: those
	// that have reached the threshold, then the others, those without a
	// median within the horizon last, in label order among equals. Limit,
	// when positive, keeps the first Limit.
	SortByETA bool
	Limit     int
}

// DefaultCapacityHorizon is the horizon of a capacity plan that names
// none (/api/v1/capacity, augur_capacity_eta_seconds) and of every series'
// time to its limit in the State (SeriesState.ETASeconds, the TSDB's and
// /metrics' augur_time_to_limit_seconds): long enough that a host hours or
// days from its limit has one.
const DefaultCapacityHorizon = 7 * 24 * time.Hour

// capacityPlan is what a series' capacity answers rest on, taken at each
// evaluation from its fitted models and recent window. It is immutable,
// so that a request computes from it outside any lock while evaluations
// and refits go on, and nothing in it depends on the threshold or the
// horizon a request asks about.
type capacityPlan struct {
	key    string
	labels map[string]string
	limit  float64
	// t and v are the newest finite sample, lastT the newest point and
	// first the oldest (ms).
	t, lastT, first int64
	v               float64
	// regime is the series' long-run level model (nil on less than two
	// days of history) and level its mean at t.
	regime *model.RegimeTrend
	level  float64
	// trends are the recent linear trends of the series less its daily
	// baseline (see plan).
	trends []model.LinearTrend
	daily  *model.Baseline
	// growthPerDay is the growth the plan's ETA rests on.
	growthPerDay float64
}

// minRegimePoints is the fewest points a recent trend needs to override
// the regime model's growth in a capacity plan.
const minRegimePoints = 60

// plan returns the series' capacity plan. A capacity plan asks when the
// level (trend and cycles, not one noisy sample) reaches a threshold: the
// regime model answers it, and the linear trends through the last
// recent/2, recent and 2·recent points (see assess) join it for the hours
// they are projected on, where they know the newest points at the series'
// step, which the regime model, fitted on hourly means at the last refit,
// has not seen or averages away: a fast leak of the last hour, the level
// the last minutes put it at. A trend joins when it rests on at least
// minRegimePoints points: the slope and standard error of a few dozen
// autocorrelated points are unreliable, and taking the highest of many
// uncertain forecasts would pull every ETA forward. Without a regime
// model every trend joins. The caller holds e.mu.
func (s *series) plan(sc *scratch, recent int, stepsPerDay float64) capacityPlan {
	t, v := s.last()
	p := capacityPlan{key: s.key, labels: s.labels, limit: s.limit, t: t, lastT: s.lastT, first: s.first, v: v, regime: s.regime, daily: s.daily}
	if m := s.regime; m != nil {
		p.level, _, _ = m.Level(t, 0)
		p.growthPerDay, _ = m.GrowthPerDay()
	}
	for _, w := range [...]int{recent / 2, recent, 2 * recent} {
		if s.regime != nil && max(w, minTrendPoints) < minRegimePoints {
			continue
		}
		tr, ok := s.trend(sc, w, math.Inf(1))
		if !ok || (s.regime != nil && tr.N < minRegimePoints) {
			continue
		}
		// The growth reported is the one the ETA rests on soonest: the
		// longest recent trend's.
		p.trends = append(p.trends, tr)
		p.growthPerDay = tr.Slope * stepsPerDay
	}
	return p
}

// capacityPlans returns the plans of every fitted series, in label order.
func (e *Engine) capacityPlans() []capacityPlan {
	e.mu.RLock()
	defer e.mu.RUnlock()
	series := e.selectSeries(nil)
	perDay := float64((24 * time.Hour).Milliseconds()) / float64(e.step)
	// The plans, independent across series, are taken in parallel, in
	// place, and those of the unfitted series (no labels) left out after.
	plans := make([]capacityPlan, len(series))
	forShards(len(series), func(lo, hi int) {
		var sc scratch
		for i := lo; i < hi; i++ {
			if s := series[i]; s.fc != nil {
				plans[i] = s.plan(&sc, e.horizon, perDay)
			}
		}
	})
	return slices.DeleteFunc(plans, func(p capacityPlan) bool { return p.labels == nil })
}

// capacityGrid is the grid of the plans' crossing curves (model.Grid):
// the series' step over the span the recent trends are projected on
// (four times the longest window, 2·recent), from an hour to a day, and a
// point an hour beyond.
func capacityGrid(stepMs int64, recent int) model.Grid {
	hour := max(1, int(time.Hour.Milliseconds()/stepMs))
	return model.Grid{Step: stepMs, Dense: min(max(8*recent, hour), max(1, int((24*time.Hour).Milliseconds()/stepMs))), Sparse: hour}
}

// threshold returns the plan's threshold: th's, else its limit (NaN when
// there is none).
func (p *capacityPlan) threshold(th *Threshold) float64 {
	switch {
	case th == nil:
		return p.limit
	case th.Fraction:
		return th.Value * p.limit
	}
	return th.Value
}

// answer returns the plan's crossing of threshold within h ms. The
// crossing curve, on grid g, is the higher at each point of the regime
// model's (model.Outlook) and the recent trends' (projectTrend), whose
// forecasts carry the noise of one observation, so one sample over the
// threshold does not settle it: a sample over it whose level the curve
// puts over it too (more likely than not at the first point), or a level
// over it, has reached it, and the answer is "now" at every horizon. The
// sample decides only when no forecast does.
func (p *capacityPlan) answer(sc *scratch, g model.Grid, threshold float64, h int64) Capacity {
	nan := math.NaN()
	c := Capacity{
		Labels: p.labels, Threshold: threshold, Value: p.v, GrowthPerDay: p.growthPerDay,
		AtHorizon: Point{Time: time.UnixMilli(p.lastT + h).UTC(), Forecast: nan, Lower: nan, Upper: nan},
	}
	n := g.Points(h)
	sc.curve = sc.curve[:0]
	var cr crossing
	var o *model.Outlook
	if m := p.regime; m != nil {
		mean, sd := m.LevelMoments(p.t + h)
		c.AtHorizon.Forecast, c.AtHorizon.Lower, c.AtHorizon.Upper = mean, mean-z95*sd, mean+z95*sd
		cr.hasAtHorizon = true
		switch {
		case p.level >= threshold:
			return c.reached()
		case len(p.trends) == 0 && threshold >= m.Reach(p.t, p.t+g.At(n-1)):
			return c // a curve of zeros
		}
		// Only a few points of the curve are read: its first and last,
		// and those ETAOf bisects on.
		m.OutlookLazyInto(&sc.o, threshold, p.t, g, n)
		o = &sc.o
	}
	// sc.curve is the trends' curve, which the regime model's joins point
	// by point (a trend shorter than n holds its last probability).
	for _, tr := range p.trends {
		if sc.projectTrend(tr, p.daily, g, p.t, n); len(sc.mean2) > 0 {
			sc.mergeCurve(&cr, sc.mean2, sc.sd2, threshold, n)
		}
	}
	size, trend := len(sc.curve), sc.curve
	if o != nil {
		size = n
	}
	at := func(k int) float64 {
		switch {
		case len(trend) == 0:
			return o.At(k)
		case o == nil:
			return trend[k]
		}
		return max(trend[min(k, len(trend)-1)], o.At(k))
	}
	if p.regime == nil && cr.hasAtHorizon {
		c.AtHorizon.Forecast, c.AtHorizon.Lower, c.AtHorizon.Upper = cr.atHorizon[0], cr.atHorizon[1], cr.atHorizon[2]
	}
	if p.v >= threshold && (size == 0 || at(0) >= 0.5) {
		return c.reached()
	}
	if size == 0 {
		return c
	}
	c.CrossingProbability = at(size - 1)
	eta := func(q float64) *float64 {
		if c.CrossingProbability < q {
			return nil // the curve's last point is its highest
		}
		x, ok := model.ETAOf(size, at, q)
		if !ok {
			return nil
		}
		s := g.Offset(x) / 1000
		return &s
	}
	c.ETASeconds = Quantiles{P10: eta(0.1), P50: eta(0.5), P90: eta(0.9)}
	return c
}

// timeToLimit returns the quantiles of the plan's time to its limit
// within h ms on grid g, answer's ETA, without computing a crossing curve
// that cannot reach the first quantile: with the regime model alone and
// its level and sample under the limit, the curve is at most the model's
// CrossingBound within h (the grid's points within h), and below 0.1 no
// quantile is reached. Most series of a fleet are far from their limit, and the curve
// of a week is ten times an hour's (BenchmarkCapacityFleet).
func (p *capacityPlan) timeToLimit(sc *scratch, g model.Grid, h int64) Quantiles {
	th := p.limit
	switch {
	case math.IsNaN(th):
		return Quantiles{}
	case p.regime != nil && len(p.trends) == 0 && p.level < th && p.v < th &&
		p.regime.CrossingBound(th, p.t, p.t+h) < 0.1:
		return Quantiles{}
	}
	return p.answer(sc, g, th, h).ETASeconds
}

// etaRefresh is the number of evaluations between two computations of a
// series' time to limit in the State, staggered by the series' place in
// key order: a week's crossing curve costs about four times the rest of
// an evaluation of the series (BenchmarkEvaluation), and a time to limit
// days away changes little in minutes. In between, the last one computed
// is carried forward less the time elapsed.
const etaRefresh = 10

// timeToLimitAt is a series' time to limit as computed at t (Unix ms) from
// a plan on regime.
type timeToLimitAt struct {
	t      int64
	q      Quantiles
	regime *model.RegimeTrend
}

// timesToLimit sets the ETASeconds of st's series to their plans' times to
// limit within DefaultCapacityHorizon at the evaluation round: computed
// for the series whose turn it is (see etaRefresh), those the previous
// State had none for, those whose regime model a refit replaced and those
// whose carried time would have run out; carried forward from prev, less
// the time elapsed, for the others. A series without a plan (not fitted
// yet) has none. st.Series, st.plans and prev.Series are in key order.
func timesToLimit(st, prev *State, g model.Grid, round int) {
	h := DefaultCapacityHorizon.Milliseconds()
	now := st.At.UnixMilli()
	// The carried quantiles point into one array, not one allocation each.
	carried := make([]float64, 0, 3*len(st.Series))
	carry := func(q *float64, elapsed float64) (*float64, bool) {
		if q == nil {
			return nil, true
		}
		if *q <= elapsed && *q > 0 {
			return nil, false
		}
		carried = append(carried, max(*q-elapsed, 0))
		return &carried[len(carried)-1], true
	}
	// The series due a computation are found in key order, then computed
	// in parallel.
	type due struct {
		s *SeriesState
		p *capacityPlan
	}
	var dues []due
	j, k := 0, 0
	for i := range st.Series {
		s := &st.Series[i]
		s.ETASeconds, s.eta = Quantiles{}, timeToLimitAt{}
		for j < len(st.plans) && st.plans[j].key < s.key {
			j++
		}
		if j == len(st.plans) || st.plans[j].key != s.key {
			continue
		}
		p := &st.plans[j]
		for k < len(prev.Series) && prev.Series[k].key < s.key {
			k++
		}
		if i%etaRefresh != round%etaRefresh && k < len(prev.Series) && prev.Series[k].key == s.key {
			if last := prev.Series[k].eta; last.regime == p.regime && last.t != 0 {
				elapsed := float64(now-last.t) / 1000
				p10, ok10 := carry(last.q.P10, elapsed)
				p50, ok50 := carry(last.q.P50, elapsed)
				p90, ok90 := carry(last.q.P90, elapsed)
				if ok10 && ok50 && ok90 {
					s.ETASeconds, s.eta = Quantiles{P10: p10, P50: p50, P90: p90}, last
					continue
				}
			}
		}
		dues = append(dues, due{s, p})
	}
	forShards(len(dues), func(lo, hi int) {
		var sc scratch
		for _, d := range dues[lo:hi] {
			d.s.ETASeconds = d.p.timeToLimit(&sc, g, h)
			d.s.eta = timeToLimitAt{t: now, q: d.s.ETASeconds, regime: d.p.regime}
		}
	})
}

func (c Capacity) reached() Capacity {
	zero := 0.0
	c.Reached, c.CrossingProbability = true, 1
	c.ETASeconds = Quantiles{P10: &zero, P50: &zero, P90: &zero}
	return c
}

// medianBound returns an offset (ms) before which the plan's median ETA
// against threshold cannot fall, and false when it cannot fall within h.
// The curve answer computes is the higher, point by point, of the regime
// model's and the recent trends' running maxima of exceedance
// probabilities, so it reaches 1/2 only once one of them does: a trend's
// where its projected mean reaches the threshold (found on its few hours
// of projection, without a normal tail), the regime model's no earlier
// than its bounds (model.RegimeTrend.MedianBound, and CrossingBound at h).
// Each is less a sparse spacing of g, since the ETA interpolates between
// the curve's points; 0 where the threshold has been reached (a sample over
// it has when the curve's first point says so, see answer).
func (p *capacityPlan) medianBound(sc *scratch, threshold float64, h int64, g model.Grid) (int64, bool) {
	if p.regime != nil && p.level >= threshold || p.v >= threshold {
		return 0, true
	}
	spacing := int64(max(g.Sparse, 1)) * g.Step
	lb, ok := int64(math.MaxInt64), false
	for _, tr := range p.trends {
		// The projection's mean is at most the line's higher end (it
		// stops after 4·N steps, see projectTrend) plus the highest
		// daily centre: most trends are ruled out without it.
		k := float64(min(int64(4*tr.N), h/g.Step))
		hi := tr.Level + max(tr.Slope, tr.Slope*k)
		if p.daily != nil {
			hi += p.daily.MaxCenter()
		}
		if hi < threshold {
			continue
		}
		sc.projectTrend(tr, p.daily, g, p.t, g.Points(h))
		if j := slices.IndexFunc(sc.mean2, func(m float64) bool { return m >= threshold }); j >= 0 {
			lb, ok = min(lb, max(g.At(j)-spacing, 0)), true
		}
	}
	if m := p.regime; m != nil {
		if t, reach := m.MedianBound(threshold, p.t, p.t+h); reach && m.CrossingBound(threshold, p.t, p.t+h) >= 0.5 {
			lb, ok = min(lb, max(t-p.t-spacing, 0)), true
		}
	}
	return lb, ok
}

// Capacity answers q from the plans of the last evaluation, outside any
// lock, or from their capacity index when it holds the answer (see
// capacityIndex). Warnings say when the history is too short to support the
// horizon.
func (e *Engine) Capacity(q CapacityQuery) ([]Capacity, []string, error) {
	if _, _, err := e.steps(q.Horizon, 0); err != nil {
		return nil, nil, err
	}
	st := e.State()
	if !st.Ready {
		return nil, nil, ErrNotReady
	}
	g := capacityGrid(e.step, e.horizon)
	var out []Capacity
	var short bool
	if x := e.indexed(st, q); x != nil {
		var sc scratch
		out, short = x.soonest(&sc, q.Match, q.Limit, g)
	} else {
		out, short = capacity(st.plans, q, g)
	}
	var warnings []string
	if short {
		warnings = append(warnings, fmt.Sprintf("some series have less history than the horizon %s: their forecasts extrapolate beyond what they have shown", q.Horizon))
	}
	return out, warnings, nil
}

// capacityItem is a plan a query selected, with its threshold.
type capacityItem struct {
	p         *capacityPlan
	threshold float64
}

// capacity answers q from plans on grid g, and reports whether some
// selected series have less history than the horizon.
func capacity(plans []capacityPlan, q CapacityQuery, g model.Grid) (out []Capacity, short bool) {
	h := q.Horizon.Milliseconds()
	var items []capacityItem
	for i := range plans {
		p := &plans[i]
		if q.Match != nil && !q.Match(p.labels) {
			continue
		}
		th := p.threshold(q.Threshold)
		if math.IsNaN(th) {
			continue
		}
		short = short || p.shortOf(h)
		items = append(items, capacityItem{p, th})
	}
	if q.SortByETA && q.Limit > 0 && q.Limit < len(items) {
		var sc scratch
		return soonest(&sc, items, medianOrder(&sc, items, g, h), q.Limit, g, h), short
	}
	return answerAll(items, q, g, h), short
}

// shortOf reports whether the plan's history is shorter than h ms.
func (p *capacityPlan) shortOf(h int64) bool { return p.first != 0 && p.lastT-p.first < h }

// answerAll answers every item within h ms, sorted and limited as q asks.
func answerAll(items []capacityItem, q CapacityQuery, g model.Grid, h int64) []Capacity {
	// The answers, independent across plans, are computed in parallel.
	out := make([]Capacity, len(items))
	forShards(len(items), func(lo, hi int) {
		var sc scratch
		for i := lo; i < hi; i++ {
			out[i] = items[i].p.answer(&sc, g, items[i].threshold, h)
		}
	})
	if q.SortByETA {
		slices.SortStableFunc(out, func(a, b Capacity) int { return CompareETA(a.ETASeconds.P50, b.ETASeconds.P50) })
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out
}

// CompareETA orders times to a threshold soonest first, unknown (beyond
// the horizon) last.
func CompareETA(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return cmp.Compare(*a, *b)
}

// bounded is an item (its index) with a lower bound on its median ETA
// (ms, see medianBound).
type bounded struct {
	i  int
	lb int64
}

// medianOrder returns the items whose median ETA can fall within h, by
// the lower bound on it (medianBound), then in label order: the order
// soonest answers them in.
func medianOrder(sc *scratch, items []capacityItem, g model.Grid, h int64) []bounded {
	var order []bounded
	for i, it := range items {
		if lb, ok := it.p.medianBound(sc, it.threshold, h, g); ok {
			order = append(order, bounded{i, lb})
		}
	}
	slices.SortFunc(order, func(a, b bounded) int { return cmp.Or(cmp.Compare(a.lb, b.lb), cmp.Compare(a.i, b.i)) })
	return order
}

// found is the answer of an item (its index) and its median ETA, p50 ms,
// when it has one within the horizon.
type found struct {
	i   int
	c   Capacity
	p50 float64
}

// soonest returns the first k answers of items in ETA order (CompareETA,
// then label order), answering as few as it can (see searchTop) in order,
// medianOrder's. When fewer than k have a median within the horizon, the
// rest are the first of the others in label order.
func soonest(sc *scratch, items []capacityItem, order []bounded, k int, g model.Grid, h int64) []Capacity {
	top, without := searchTop(sc, items, order, k, g, h)
	inTop := make(map[int]bool, len(top))
	out := make([]Capacity, 0, k)
	for _, f := range top {
		inTop[f.i] = true
		out = append(out, f.c)
	}
	for _, f := range others(sc, items, func(i int) bool { return inTop[i] }, without, k-len(top), g, h) {
		out = append(out, f.c)
	}
	return out
}

// searchTop returns the first k items with a median ETA within h in
// (median, index) order, with their answers, as a top-k search with
// bounds does: items are answered in order, medianOrder's, and the search
// stops once k answers have a median before the next bound; once k are
// found, an item's curve is first computed only as far as the k-th
// median. without holds the answers it computed that have no median
// within h. Fewer than k in top means every item in order was answered.
func searchTop(sc *scratch, items []capacityItem, order []bounded, k int, g model.Grid, h int64) (top []found, without map[int]Capacity) {
	// top is by (p50, i), at most k.
	without = map[int]Capacity{}
	for _, b := range order {
		if len(top) == k {
			if last := top[k-1]; last.p50 < float64(b.lb) || (last.p50 == float64(b.lb) && last.i < b.i) {
				break
			}
		}
		it := items[b.i]
		if len(top) == k {
			// Only a median before the k-th's can enter, and a median
			// within a shorter horizon is the same within h: the curve
			// is computed that far first.
			last := top[k-1]
			short := min(h, int64(last.p50)+int64(max(g.Sparse, 1))*g.Step)
			c := it.p.answer(sc, g, it.threshold, short)
			if c.ETASeconds.P50 == nil {
				continue
			}
			if p50 := *c.ETASeconds.P50 * 1000; p50 > last.p50 || (p50 == last.p50 && b.i > last.i) {
				continue
			}
		}
		c := it.p.answer(sc, g, it.threshold, h)
		if c.ETASeconds.P50 == nil {
			without[b.i] = c
			continue
		}
		f := found{b.i, c, *c.ETASeconds.P50 * 1000}
		at, _ := slices.BinarySearchFunc(top, f, func(a, b found) int { return cmp.Or(cmp.Compare(a.p50, b.p50), cmp.Compare(a.i, b.i)) })
		top = slices.Insert(top, at, f)
		if len(top) > k {
			top = top[:k]
		}
	}
	return top, without
}

// others returns the answers of the first n items in label order that
// skip does not leave out (their p50 unset), taken from known where it
// has them: what follows searchTop's items when every item with a median
// within h is among them.
func others(sc *scratch, items []capacityItem, skip func(i int) bool, known map[int]Capacity, n int, g model.Grid, h int64) []found {
	var out []found
	for i := 0; i < len(items) && len(out) < n; i++ {
		if skip(i) {
			continue
		}
		c, ok := known[i]
		if !ok {
			c = items[i].p.answer(sc, g, items[i].threshold, h)
		}
		out = append(out, found{i: i, c: c})
	}
	return out
}
