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

	hw   *model.HoltWinters
	base *model.Baseline

	det      *model.Detector
	fitted   time.Time
	fitErr   error
	fitTook  time.Duration
	period   int
	observed int

	counterLike bool
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
	if s.hw != nil {
		f = s.hw.OneStep()
		d := z95 * s.hw.StdDev(1)
		lo, hi = f-d, f+d
		s.hw.Update(v)
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
	hw     *model.HoltWinters
	base   *model.Baseline
	period int
	took   time.Duration
}

var errShortHistory = errors.New("history too short to fit")

// fitSeries fits Holt-Winters and the seasonal baseline on the series'
// history. The seasonal period is one day when the history holds at least
// two days, none otherwise (cold start: Holt's linear trend).
//
// With restored parameters (from a snapshot) for the same period, the fit
// reuses them and only runs the filter.
func fitSeries(s *series, stepMs int64, restored hwParams, useRestored bool) (fitResult, error) {
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
	day := int((24 * time.Hour).Milliseconds() / stepMs)
	period := 0
	if n >= 2*day && day > 1 {
		period = day
	}
	opts := model.HoltWintersOptions{Period: period}
	if useRestored {
		if fixed, ok := restored.fixedOptions(period); ok {
			opts = fixed
		}
	}
	hw, err := model.FitHoltWinters(s.v, opts)
	if err != nil {
		return fitResult{}, fmt.Errorf("cannot fit Holt-Winters: %w", err)
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
	return fitResult{hw: hw, base: base, period: period, took: time.Since(start)}, nil
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
	s.hw, s.base, s.period, s.fitTook = r.hw, r.base, r.period, r.took
	s.backfillForecasts()
	// Rescore the history against the new baseline, so that the first fit
	// (whose history the detector saw without one) and every refit serve
	// scores consistent with the band they show.
	for i, t := range s.t {
		s.sc[i] = min(s.ds[i], bandScore(s.base, t, s.v[i]))
	}
}

// backfillForecasts fills the one-step forecasts and intervals of the
// history that was observed before any model existed (the first fit's
// history), by running the fitted model's filter, with its parameters, from
// the start: the values it would have forecast, in-sample. The interval is
// the fit's one-step 95 % interval.
func (s *series) backfillForecasts() {
	first := -1
	for i, f := range s.f {
		if !math.IsNaN(f) {
			break
		}
		first = i
	}
	if first < 0 || s.hw == nil {
		return
	}
	m := s.hw
	start := max(2*m.Period, 3)
	if start >= len(s.v) {
		return
	}
	alpha, beta, gamma, phi := m.Alpha, m.Beta, m.Gamma, m.Phi
	opts := model.HoltWintersOptions{Period: m.Period, Alpha: &alpha, Beta: &beta, Gamma: &gamma}
	if phi < 1 {
		opts.Damped, opts.Phi = true, &phi
	}
	f, err := model.FitHoltWinters(s.v[:start], opts)
	if err != nil {
		return
	}
	d := z95 * m.Sigma
	for i := start; i <= first && i < len(s.v); i++ {
		p := f.OneStep()
		s.f[i], s.lo[i], s.hi[i] = p, p-d, p+d
		f.Update(s.v[i])
	}
}
