package engine

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/augur-sre/augur/model"
)

// Matcher selects series by their labels.
type Matcher func(labels map[string]string) bool

// Point is a forecast at one time.
type Point struct {
	Time     time.Time
	Forecast float64
	Lower    float64
	Upper    float64
}

// SeriesForecast is the forecast of one series.
type SeriesForecast struct {
	Labels map[string]string
	Model  string
	Level  float64
	Points []Point
}

// selectSeries returns the series match selects, in key order (label
// order); with no match, e.byKey itself, which the caller must not
// modify. The caller holds e.mu.
func (e *Engine) selectSeries(match Matcher) []*series {
	if match == nil {
		return e.byKey
	}
	var out []*series
	for _, s := range e.byKey {
		if match(s.labels) {
			out = append(out, s)
		}
	}
	return out
}

func (e *Engine) steps(horizon, step time.Duration) (h, every int, err error) {
	if step <= 0 {
		step = e.opts.Step
	}
	every = max(1, int(step/e.opts.Step))
	h = int(horizon / e.opts.Step)
	if h < 1 {
		return 0, 0, fmt.Errorf("horizon %s is shorter than the step %s", horizon, e.opts.Step)
	}
	if h > maxSteps {
		return 0, 0, fmt.Errorf("%w: %s at step %s (at most %d steps)", ErrTooLong, horizon, e.opts.Step, maxSteps)
	}
	return h, every, nil
}

// Forecast returns, for every series match selects, the forecast over
// horizon sampled every step (a multiple of the engine's step) with its
// central prediction interval at level.
func (e *Engine) Forecast(match Matcher, horizon, step time.Duration, level float64) ([]SeriesForecast, error) {
	h, every, err := e.steps(horizon, step)
	if err != nil {
		return nil, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if !e.ready {
		return nil, ErrNotReady
	}
	var out []SeriesForecast
	var fc model.Forecast
	for _, s := range e.selectSeries(match) {
		if s.fc == nil {
			continue
		}
		if err := s.fc.PredictInto(&fc, h, level); err != nil {
			return nil, fmt.Errorf("cannot forecast %s: %w", s.key, err)
		}
		sf := SeriesForecast{Labels: s.labels, Model: s.modelName(), Level: level}
		for i := every - 1; i < h; i += every {
			sf.Points = append(sf.Points, Point{
				Time:     time.UnixMilli(s.lastT + int64(i+1)*e.step).UTC(),
				Forecast: fc.Point[i], Lower: fc.Lower[i], Upper: fc.Upper[i],
			})
		}
		out = append(out, sf)
	}
	return out, nil
}

func (s *series) modelName() string {
	if s.fc == nil {
		return "none"
	}
	if s.period > 1 {
		return fmt.Sprintf("%s(period=%d)", s.sel.Model, s.period)
	}
	return s.sel.Model
}

// SeriesTarget describes a modelled series for /api/v1/targets.
type SeriesTarget struct {
	Labels     map[string]string
	Model      string
	Parameters map[string]float64
	Points     int
	// WarmingUp is set while the series has too few points for a model;
	// Points are then the finite points it has.
	WarmingUp    bool
	LastSample   *time.Time
	LastFit      *time.Time
	FitSeconds   float64
	FitError     string
	CounterLike  bool
	Selection    *SelectionTarget
	AnomalyScore float64
}

// SelectionTarget records how a series' model was chosen: the chosen
// model's rolling-origin validation MASE and every candidate's (null when
// not finite, or when the history was too short to validate).
type SelectionTarget struct {
	MASE       *float64
	Candidates map[string]*float64
	Horizon    int
}

func finitePtr(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// finiteOnly drops the parameters JSON cannot encode.
func finiteOnly(m map[string]float64) map[string]float64 {
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			delete(m, k)
		}
	}
	return m
}

// SignalTarget describes a configured signal.
type SignalTarget struct {
	Signal string
	Source string
	Query  string
	// Health is the worst of the problems' (warming_up aside), up when
	// there are none, unknown before the first fetch.
	Health      Health
	Problems    []Problem
	LastError   string
	LastSuccess *time.Time
	Series      []SeriesTarget
}

// Targets describes every signal and its series.
func (e *Engine) Targets() []SignalTarget {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]SignalTarget, len(e.signals))
	index := make(map[*signalState]int, len(e.signals))
	for i, sig := range e.signals {
		index[sig] = i
		st := SignalTarget{Signal: sig.Name, Source: sig.SourceName, Query: sig.Query, Health: sig.health, Problems: sig.problems, Series: make([]SeriesTarget, 0, len(sig.series))}
		if w := e.warmingUp(sig); w != nil {
			st.Problems = append(slices.Clip(st.Problems), *w)
		}
		if !sig.lastSuccess.IsZero() {
			t := sig.lastSuccess.UTC()
			st.LastSuccess = &t
		}
		if sig.err != nil {
			st.LastError = sig.err.Error()
		}
		out[i] = st
	}
	for _, s := range e.byKey {
		t := s.target
		t.CounterLike, t.AnomalyScore = s.counterLike, s.recentScore()
		if s.fc != nil {
			// Not the fit's: a calibrated model's interval adapts at
			// every point.
			t.Parameters = finiteOnly(s.fc.Params())
		}
		if s.warmingUp() {
			t.WarmingUp, t.Points = true, s.win.finite()
		}
		if s.lastT != 0 {
			lt := time.UnixMilli(s.lastT).UTC()
			t.LastSample = &lt
		}
		st := &out[index[s.signal]]
		st.Series = append(st.Series, t)
	}
	return out
}

// fitTarget returns what the series' target says of its last fit, which
// Targets copies at every evaluation: the model and how it was chosen
// change only when a fit is installed. Its Selection is shared by every
// copy and must not be modified.
func (s *series) fitTarget() SeriesTarget {
	t := SeriesTarget{Labels: s.labels, Model: s.modelName(), Points: s.points, FitSeconds: s.fitTook.Seconds()}
	if s.fc != nil {
		t.Selection = &SelectionTarget{MASE: finitePtr(s.sel.MASE), Candidates: map[string]*float64{}, Horizon: s.sel.Horizon}
		for name, v := range s.sel.Candidates {
			t.Selection.Candidates[name] = finitePtr(v)
		}
	}
	if !s.fitted.IsZero() {
		lf := s.fitted.UTC()
		t.LastFit = &lf
	}
	if s.fitErr != nil {
		t.FitError = s.fitErr.Error()
	}
	return t
}

// Horizon returns the configured failure-probability horizon.
func (e *Engine) Horizon() time.Duration { return e.opts.Horizon }

// Step returns the analysis step.
func (e *Engine) Step() time.Duration { return e.opts.Step }
