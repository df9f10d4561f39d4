package query

import (
	"context"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/ingest"
)

// ForecastEngine is what EngineSource reads of a engine.Engine.
type ForecastEngine interface {
	Ready() bool
	Now() time.Time
	Step() time.Duration
	Forecast(match engine.Matcher, horizon, step time.Duration, level float64) ([]engine.SeriesForecast, error)
	Capacity(q engine.CapacityQuery) ([]engine.Capacity, []string, error)
	Incidents() []ingest.Incident
	State() *engine.State
}

// EngineSource serves the future, the capacity plans and the incidents of
// an engine.Engine: it is a Forecaster, a Planner and an IncidentSource.
type EngineSource struct {
	E ForecastEngine
}

// Evaluated is the engine's last evaluation, zero before its first fit.
func (s EngineSource) Evaluated() time.Time {
	if !s.E.Ready() {
		return time.Time{}
	}
	return s.E.Now()
}

// Forecasts forecasts the series ms select up to end at the engine's step.
// The engine computes them all before any is passed on, so their number is
// checked first, on the published State's series.
func (s EngineSource) Forecasts(ctx context.Context, ms []*labels.Matcher, end time.Time, maxPoints int, fn func(Forecast) error) error {
	if !s.E.Ready() {
		return nil
	}
	step := s.E.Step()
	horizon := end.Sub(s.E.Now()) + step
	if horizon < step {
		return nil
	}
	match := mapMatcher(ms)
	n := 0
	for _, st := range s.E.State().Series {
		if match(st.Labels) {
			n++
		}
	}
	if points := int64(n) * int64(horizon/step); points > int64(maxPoints) {
		return &TooManyPointsError{Series: n, End: end, Points: points}
	}
	fcs, err := s.E.Forecast(match, horizon, step, 0.95)
	if err != nil {
		return err
	}
	var f Forecast
	for _, sf := range fcs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(sf.Points) == 0 {
			continue
		}
		f = Forecast{Labels: labels.FromMap(sf.Labels), Start: sf.Points[0].Time.UnixMilli(), Step: step.Milliseconds(),
			Point: f.Point[:0], Lower: f.Lower[:0], Upper: f.Upper[:0]}
		for _, p := range sf.Points {
			f.Point, f.Lower, f.Upper = append(f.Point, p.Forecast), append(f.Lower, p.Lower), append(f.Upper, p.Upper)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// Plans runs the engine's capacity plans of the series ms select, each to
// its limit.
func (s EngineSource) Plans(ms []*labels.Matcher, horizon time.Duration, fn func(l map[string]string, p10, p50, p90 *float64)) ([]string, error) {
	if !s.E.Ready() {
		return nil, nil
	}
	caps, warnings, err := s.E.Capacity(engine.CapacityQuery{Match: mapMatcher(ms), Horizon: horizon})
	if err != nil {
		return nil, err
	}
	for _, c := range caps {
		fn(c.Labels, c.ETASeconds.P10, c.ETASeconds.P50, c.ETASeconds.P90)
	}
	return warnings, nil
}

// Incidents lists the engine's incidents that overlap [start, end]; one
// under way lasts until the later of the wall clock and the engine's (the
// demo's may run ahead). Its entity label is the one its entity's series
// carry, "entity" when no series names it.
func (s EngineSource) Incidents(_ context.Context, start, end time.Time) ([]Incident, error) {
	incs := s.E.Incidents()
	if len(incs) == 0 {
		return nil, nil
	}
	now := time.Now()
	if t := s.E.Now(); t.After(now) {
		now = t
	}
	entityLabel := map[string]string{}
	for _, ss := range s.E.State().Series {
		if ss.EntityLabel != "" {
			entityLabel[ss.Entity] = ss.EntityLabel
		}
	}
	var out []Incident
	for _, in := range incs {
		to := in.End
		if to.IsZero() || to.Before(in.Start) {
			to = now
		}
		if to.Before(start) || in.Start.After(end) {
			continue
		}
		el := entityLabel[in.Entity]
		if el == "" {
			el = "entity"
		}
		b := labels.NewScratchBuilder(4)
		b.Add(el, in.Entity)
		b.Add("alertname", in.Name)
		b.Add("source", in.Source)
		if in.Signal != "" {
			b.Add("signal", in.Signal)
		}
		b.Sort()
		out = append(out, Incident{Labels: b.Labels(), Start: in.Start, End: to})
	}
	return out, nil
}

// mapMatcher applies matchers to the engine's label maps.
func mapMatcher(ms []*labels.Matcher) engine.Matcher {
	return func(l map[string]string) bool {
		for _, m := range ms {
			if !m.Matches(l[m.Name]) {
				return false
			}
		}
		return true
	}
}
