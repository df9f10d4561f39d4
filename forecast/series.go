package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/augur-sre/augur/model"
)

// z95 is Φ⁻¹(0.975): the one-step band served as augur_forecast_lower/upper
// is the model's 95 % prediction interval.
const z95 = 1.959963984540054

// series is the pipeline of one series: retained history, its fitted
// models and the streaming detector. Only the engine's Run goroutine writes
// it, under Engine.mu; readers hold the read lock.
type series struct {
	key    string
	signal *signalState
	labels map[string]string
	entity string
	limit  float64

	// Retained history on the step grid: times (ms), values (NaN = missing),
	// the one-step forecast made before each point with its 95 % interval,
	// the streaming detector's score and the anomaly score (the lower of
	// the detector's and the baseline's, see bandScore).
	t                    []int64
	v, f, lo, hi, ds, sc []float64
	lastT                int64

	// fc is the forecaster Select chose by backtest; sel records the choice.
	fc   model.Forecaster
	sel  model.Selection
	one  model.Forecast // observe's scratch
	base *model.Baseline
	// daily is the baseline by time of day only, which deseasonalises the
	// recent trends of the crossing model: each of its slots holds every
	// day of the history, so a past incident at the same time of week (a
	// leak cycle, an OOM) cannot drag its centre the way it drags a weekly
	// slot's two or three days.
	daily *model.Baseline

	det      *model.Detector
	fitted   time.Time
	fitErr   error
	fitTook  time.Duration
	period   int
	observed int

	counterLike bool

	// refs and appended (the time of the last point written) belong to
	// the TSDB writer, appendOutputs.
	refs     *seriesRefs
	appended int64
}

func newSeries(sig *signalState, labels map[string]string, key string) *series {
	return &series{
		key:    key,
		signal: sig,
		labels: labels,
		entity: labels[sig.Entity],
		limit:  sig.Limit,
		det:    model.NewDetector(model.DetectorOptions{}),
	}
}

// observe feeds one grid point to the models and appends it to the history,
// dropping points older than the retention window.
func (s *series) observe(t int64, v float64, retain int64) {
	f, lo, hi := math.NaN(), math.NaN(), math.NaN()
	if s.fc != nil {
		if s.fc.PredictInto(&s.one, 1, 0.95) == nil {
			f, lo, hi = s.one.Point[0], s.one.Lower[0], s.one.Upper[0]
		}
		s.fc.Update(v)
	}
	ds := s.det.Observe(t, v)
	score := ds
	if s.base != nil {
		score = min(ds, bandScore(s.base, t, v))
	}
	s.t = append(s.t, t)
	s.v = append(s.v, v)
	s.f = append(s.f, f)
	s.lo = append(s.lo, lo)
	s.hi = append(s.hi, hi)
	s.ds = append(s.ds, ds)
	s.sc = append(s.sc, score)
	s.lastT = t
	s.observed++
	// Trim in bulk once the buffer holds twice the window, so that
	// trimming costs O(1) per point amortised.
	if n := len(s.t); n > 1 && s.t[n-1]-s.t[0] > 2*retain {
		cut := 0
		for cut < n && s.t[cut] <= t-retain {
			cut++
		}
		s.t = append(s.t[:0], s.t[cut:]...)
		s.v = append(s.v[:0], s.v[cut:]...)
		s.f = append(s.f[:0], s.f[cut:]...)
		s.lo = append(s.lo[:0], s.lo[cut:]...)
		s.hi = append(s.hi[:0], s.hi[cut:]...)
		s.ds = append(s.ds[:0], s.ds[cut:]...)
		s.sc = append(s.sc[:0], s.sc[cut:]...)
	}
}

// bandScore is the seasonal evidence that v is anomalous at t: one minus
// the two-sided normal tail probability of its distance from the slot's
// centre, scaled so that the band's edge (K robust σ, calibrated to leave 1 %
// of normal points outside) scores 0.99. The engine's anomaly score is the
// lower of this and the streaming detector's: a point must be unusual both
// for the recent stream and for its time of day and week, which keeps a
// busy but regular host (a nightly batch) from looking anomalous.
func bandScore(b *model.Baseline, t int64, v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	center, scale := b.At(t)
	if !(scale > 0) {
		return 0
	}
	z := math.Abs(v-center) / scale * zBand / b.K()
	return 1 - 2*distuv.UnitNormal.Survival(z)
}

// zBand is Φ⁻¹(0.995): the band's edge as a standard normal deviate.
const zBand = 2.5758293035489004

// fitResult is what a fit produces, installed into the series under the lock.
type fitResult struct {
	fc     model.Forecaster
	sel    model.Selection
	base   *model.Baseline
	daily  *model.Baseline
	period int
	took   time.Duration
}

var errShortHistory = errors.New("history too short to fit")

// fitSeries chooses and fits the series' forecaster (model.Select: by
// rolling-origin backtest among seasonal naive, Holt-Winters, damped
// variants, MSTL and AR, over the daily and weekly periods the history
// supports, with a cheap default on a short history) and fits the seasonal
// baseline. horizon is the multi-step lead of the backtest criterion.
//
// With a model restored from a snapshot, the choice is not made again:
// only that model is fitted.
func fitSeries(s *series, stepMs int64, horizon int, restored string) (fitResult, error) {
	start := time.Now()
	n := len(s.v)
	valid := 0
	for _, v := range s.v {
		if !math.IsNaN(v) {
			valid++
		}
	}
	if valid < 10 {
		return fitResult{}, fmt.Errorf("%w: %d points", errShortHistory, valid)
	}
	var periods []int
	for _, p := range []time.Duration{24 * time.Hour, 7 * 24 * time.Hour} {
		if k := int(p.Milliseconds() / stepMs); k > 1 && n >= 2*k {
			periods = append(periods, k)
		}
	}
	opts := model.SelectOptions{Periods: periods, Horizon: horizon}
	if restored != "" {
		opts.Candidates = []string{restored}
	}
	fc, sel, err := model.Select(s.v, opts)
	if err != nil && restored != "" {
		opts.Candidates = nil
		fc, sel, err = model.Select(s.v, opts)
	}
	if err != nil {
		return fitResult{}, fmt.Errorf("cannot fit a forecaster: %w", err)
	}
	period := 0
	if len(sel.Periods) > 0 {
		period = sel.Periods[0]
	}
	span := s.t[n-1] - s.t[0]
	weekly := span >= (14*24*time.Hour - time.Hour).Milliseconds()
	base, err := model.FitBaseline(s.t, s.v, model.BaselineOptions{
		SlotWidth: slotWidth(stepMs, weekly),
		Weekly:    weekly,
	})
	if err != nil {
		return fitResult{}, fmt.Errorf("cannot fit baseline: %w", err)
	}
	daily := base
	if weekly {
		if daily, err = model.FitBaseline(s.t, s.v, model.BaselineOptions{SlotWidth: slotWidth(stepMs, false)}); err != nil {
			return fitResult{}, fmt.Errorf("cannot fit daily baseline: %w", err)
		}
	}
	return fitResult{fc: fc, sel: sel, base: base, daily: daily, period: period, took: time.Since(start)}, nil
}

// slotWidth is the narrowest baseline slot, among widths that divide a day,
// that gathers at least ten points over two weeks of history: narrow slots
// follow sharp daily shapes (a batch starting on the hour), but a slot with
// a couple of points has no robust centre.
func slotWidth(stepMs int64, weekly bool) int64 {
	perDay := int64(14) // a daily slot sees every day of two weeks
	if weekly {
		perDay = 2
	}
	for _, w := range []time.Duration{5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour} {
		if ms := w.Milliseconds(); ms >= stepMs && perDay*ms/stepMs >= 10 {
			return ms
		}
	}
	return (24 * time.Hour).Milliseconds()
}

func (s *series) install(r fitResult, err error, now time.Time) {
	s.fitted, s.fitErr = now, err
	if err != nil {
		return
	}
	s.fc, s.sel, s.base, s.daily, s.period, s.fitTook = r.fc, r.sel, r.base, r.daily, r.period, r.took
	s.backfillForecasts()
	// Rescore the history against the new baseline, so that the first fit
	// (whose history the detector saw without one) and every refit serve
	// scores consistent with the band they show.
	for i, t := range s.t {
		s.sc[i] = min(s.ds[i], bandScore(s.base, t, s.v[i]))
	}
}

// backfillForecasts fills the one-step forecasts and intervals of the
// history observed before any model existed (the first fit's history): the
// chosen kind of model is fitted on the first quarter of that history (at
// least two seasonal periods and a validation share) and run forward over
// the rest, each point's forecast made before the point is fed, so that
// past ranges show what the model would have forecast, out of sample.
func (s *series) backfillForecasts() {
	first := -1
	for i, f := range s.f {
		if !math.IsNaN(f) {
			break
		}
		first = i
	}
	if first < 0 || s.fc == nil {
		return
	}
	k := max(len(s.v)/4, 2*s.period+s.period/2, 50)
	if k > first {
		return
	}
	m, _, err := model.Select(s.v[:k], model.SelectOptions{Periods: s.sel.Periods, Horizon: s.sel.Horizon, Candidates: []string{s.sel.Model}})
	if err != nil {
		return
	}
	for i := k; i <= first; i++ {
		if m.PredictInto(&s.one, 1, 0.95) == nil {
			s.f[i], s.lo[i], s.hi[i] = s.one.Point[0], s.one.Lower[0], s.one.Upper[0]
		}
		m.Update(s.v[i])
	}
}
