package engine

import (
	"fmt"
	"math"
	"time"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/augur-sre/augur/model"
)

// z95 is Φ⁻¹(0.975): the one-step band served as augur_forecast_lower/upper
// is the model's 95 % prediction interval.
const z95 = 1.959963984540054

// series is the pipeline of one series: its fitted models, the streaming
// detector and a short window of recent points. Its history lives in the
// TSDB: a refit reads it back from there. Only the engine's Run goroutine
// writes a series, under Engine.mu; readers hold the read lock.
type series struct {
	key    string
	signal *signalState
	labels map[string]string
	entity string
	limit  float64

	// win holds the last points on the step grid, what the growth trends
	// of the crossing model and the recent anomaly score read; lastT is
	// the time of the newest point observed (ms).
	win   window
	lastT int64
	// first is the time of the oldest point the series has (ms): the span
	// of history its forecasts rest on.
	first int64

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
	// regime is the long-run level model of capacity plans, a
	// piecewise-linear trend with cycles fitted on the whole history at
	// each refit; nil on less than two days.
	regime *model.RegimeTrend
	// fullUpTo is the time of the last point of the last full refit's
	// history (ms): the baselines and the regime model are as old as that
	// at most (see fullRefitEvery).
	fullUpTo int64

	// det is nil until the first fit, which warms it on the history.
	det      *model.Detector
	fitted   time.Time
	fitErr   error
	fitTook  time.Duration
	period   int
	points   int // points of history the last full refit read
	pending  bool
	observed int

	counterLike bool

	// fetchGen is the fetch that last fed the series (Engine.fetchGen).
	fetchGen uint64

	// target is what /api/v1/targets shows of the last fit (fitTarget).
	target SeriesTarget

	// member feeds the series' residuals to its entity's channel.
	member entityMember

	// refs belongs to the TSDB writer.
	refs *seriesRefs
}

func newSeries(sig *signalState, labels map[string]string, entity, key string, window int, stepMs int64) *series {
	s := &series{
		key:    key,
		signal: sig,
		labels: labels,
		entity: entity,
		limit:  sig.Limit,
		win:    newWindow(window, stepMs),
		refs:   newSeriesRefs(labels),
	}
	s.target = s.fitTarget()
	return s
}

// observe feeds one grid point to the models and the window, and appends
// the point and what the models made of it to the TSDB. Before the first
// fit only the input is written: the fit writes the history's outputs.
func (s *series) observe(a *appender, t int64, v float64) {
	if s.first == 0 {
		s.first = t
	}
	s.lastT = t
	s.observed++
	a.add(&s.refs.refs[0], s.refs.labels[0], t, v)
	if s.det == nil {
		s.win.push(t, v, math.NaN())
		return
	}
	s.step(a, t, v)
	s.win.push(t, v, s.win.lastDS)
}

// step runs the fitted models over one point and appends their outputs
// (one-step forecast and interval, band, anomaly score) at t; it leaves
// the detector's score in s.win.lastDS. s.det must be set.
func (s *series) step(a *appender, t int64, v float64) {
	f, lo, hi := math.NaN(), math.NaN(), math.NaN()
	if s.fc != nil {
		if s.fc.PredictInto(&s.one, 1, 0.95) == nil {
			f, lo, hi = s.one.Point[0], s.one.Lower[0], s.one.Upper[0]
		}
		s.fc.Update(v)
	}
	s.member.noteResidual(t, v, f, lo, hi)
	ds := s.det.Observe(t, v)
	s.win.lastDS = ds
	if a == nil {
		return
	}
	score := ds
	blo, bhi := math.NaN(), math.NaN()
	if s.base != nil {
		score = min(ds, bandScore(s.base, t, v))
		blo, bhi = s.base.Band(t)
	}
	a.addPoint(s.refs, t, [...]float64{f, lo, hi, blo, bhi, score})
}

// score is the anomaly score of point i of the window: the lower of the
// detector's and the baseline's (see bandScore).
func (s *series) score(i int) float64 {
	ds := float64(s.win.ds[s.win.index(i)])
	if s.base == nil || math.IsNaN(ds) {
		return ds
	}
	return min(ds, bandScore(s.base, s.win.t(i), s.win.v[s.win.index(i)]))
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

// window is a ring of a series' last points on the step grid: values and
// the streaming detector's scores, NaN where missing. Its times follow
// from the newest one's, one step apart. The scores, in [0,1], are kept in
// float32 (a relative error of 6e-8, far below any threshold's resolution),
// which spares a series 1 KB of its 4 KB window.
type window struct {
	v      []float64
	ds     []float32
	n      int // points held
	head   int // index of the oldest point
	newest int64
	step   int64 // ms
	lastDS float64
}

func newWindow(n int, stepMs int64) window {
	return window{v: make([]float64, n), ds: make([]float32, n), step: stepMs}
}

// push appends the point at t, after filling any grid points between the
// newest one and t as missing.
func (w *window) push(t int64, v, ds float64) {
	if w.n > 0 {
		missing := (t-w.newest)/w.step - 1
		if missing >= int64(len(w.v)) {
			w.n, w.head = 0, 0
		}
		for ; missing > 0 && w.n > 0; missing-- {
			w.append(math.NaN(), math.NaN())
		}
	}
	w.append(v, ds)
	w.newest = t
}

func (w *window) append(v, ds float64) {
	c := len(w.v)
	if c == 0 {
		return
	}
	i := (w.head + w.n) % c
	if w.n == c {
		w.head = (w.head + 1) % c
	} else {
		w.n++
	}
	w.v[i], w.ds[i] = v, float32(ds)
}

// index returns the ring index of the i-th point, 0 the oldest.
func (w *window) index(i int) int { return (w.head + i) % len(w.v) }

// at returns the value of the i-th point, 0 the oldest.
func (w *window) at(i int) float64 { return w.v[w.index(i)] }

// t returns the time of the i-th point, 0 the oldest.
func (w *window) t(i int) int64 { return w.newest - int64(w.n-1-i)*w.step }

// fitResult is what a fit produces, installed into the series by the Run
// goroutine.
type fitResult struct {
	s      *series
	fc     model.Forecaster
	sel    model.Selection
	base   *model.Baseline
	daily  *model.Baseline
	regime *model.RegimeTrend
	det    *model.Detector
	period int
	points int
	// upTo is the time of the last point the fit read (ms): the window's
	// points after it are fed to the new models when they are installed.
	upTo int64
	took time.Duration
	err  error
	// fullUpTo is the series' (see series): upTo after a full refit.
	fullUpTo int64
	// recent are the detector's scores of the last points up to upTo,
	// oldest first (see recentScores).
	recent []float32
	// Set when the models come from the models file (ReadModels): when
	// they were fitted, the time of the oldest point of the series then,
	// and whether it looked like a counter.
	fitted      time.Time
	first       int64
	counterLike bool
}

// fitSeries fits the series' models on the history ts, ys (the step grid,
// NaN for missing points) read from the TSDB: the forecaster, chosen by
// rolling-origin backtest, and the seasonal baselines (model.FitSeries),
// and the regime model of capacity plans with rf. horizon is the
// multi-step lead of the backtest criterion. With a model kind to keep
// (restored from a snapshot, or chosen by an earlier selection), the
// choice is not made again: only that model is fitted.
func fitSeries(rf *model.RegimeFitter, ts []int64, ys []float64, stepMs int64, horizon int, keep string) (fitResult, error) {
	start := time.Now()
	f, err := model.FitSeries(ts, ys, model.SeriesOptions{Step: stepMs, Horizon: horizon, Restored: keep})
	if err != nil {
		return fitResult{}, fmt.Errorf("cannot fit: %w", err)
	}
	n := len(ys)
	regime, _ := rf.Fit(ys, ts[n-1], stepMs) // nil on less than two days
	return fitResult{fc: f.Forecaster, sel: f.Selection, base: f.Baseline, daily: f.Daily, regime: regime, period: f.Period, points: n, upTo: ts[n-1], fullUpTo: ts[n-1], took: time.Since(start)}, nil
}

// backfillSpan is how much of the past a first fit writes the outputs of:
// a day serves the dashboards' usual ranges, and writing the whole
// history's would multiply the first start's writes by the number of
// derived series for little use.
const backfillSpan = 24 * time.Hour

// warm completes a first fit: it runs a new detector over the history the
// fit read, and appends the outputs of the last backfillSpan of it to the
// TSDB: the band and the anomaly scores, and the one-step forecasts and
// intervals of the chosen kind of model fitted on the first quarter of the
// history (at least two seasonal periods and a validation share) and run
// forward over the rest, each point's forecast made before the point is
// fed, so that past ranges show what the model would have forecast, out
// of sample.
func (r *fitResult) warm(a *appender, refs *seriesRefs, ts []int64, ys []float64) {
	r.det = model.NewDetector(model.DetectorOptions{})
	k := max(len(ys)/4, 2*r.period+r.period/2, 50)
	var m model.Forecaster
	if k < len(ys) {
		m, _, _ = model.Select(ys[:k], model.SelectOptions{Periods: r.sel.Periods, Horizon: r.sel.Horizon, Candidates: []string{r.sel.Model}})
	}
	var one model.Forecast
	from := r.upTo - backfillSpan.Milliseconds()
	r.recent = r.recent[:0]
	for i, t := range ts {
		v := ys[i]
		ds := r.det.Observe(t, v)
		if i >= len(ts)-recentScores {
			r.recent = append(r.recent, float32(ds))
		}
		lo, hi := r.base.Band(t)
		x := [...]float64{math.NaN(), math.NaN(), math.NaN(), lo, hi, min(ds, bandScore(r.base, t, v))}
		if m != nil && i >= k {
			if m.PredictInto(&one, 1, 0.95) == nil {
				x[0], x[1], x[2] = one.Point[0], one.Lower[0], one.Upper[0]
			}
		}
		if m != nil && i >= k-1 {
			m.Update(v)
		}
		if t <= from {
			continue
		}
		if math.IsNaN(v) {
			x[3], x[4] = math.NaN(), math.NaN()
		}
		a.addPoint(refs, t, x)
	}
}

// install swaps in the models a fit produced and brings them up to date
// with the points the window gained after the fit's history; the points
// of a first fit get their outputs appended, since observe could write
// only their input.
func (s *series) install(a *appender, r fitResult, now time.Time) {
	s.fitted, s.fitErr, s.pending = now, r.err, false
	defer func() { s.target = s.fitTarget() }()
	if r.err != nil {
		return
	}
	first := s.det == nil
	s.fc, s.sel, s.base, s.daily, s.regime, s.period, s.fitTook, s.points = r.fc, r.sel, r.base, r.daily, r.regime, r.period, r.took, r.points
	s.fullUpTo = r.fullUpTo
	if r.det != nil {
		s.det = r.det
	}
	if !r.fitted.IsZero() {
		s.fitted, s.counterLike = r.fitted, s.counterLike || r.counterLike
		s.first = min(s.first, r.first)
		// The window's points up to the models' last one were fed to
		// them before the restart.
		s.lastT = max(s.lastT, r.upTo)
	}
	for i := range s.win.n {
		t := s.win.t(i)
		if t <= r.upTo {
			// The scores of the last points the detector saw, which
			// the anomaly evidence of the next evaluations reads.
			if j := len(r.recent) - 1 - int((r.upTo-t)/s.win.step); first && j >= 0 {
				s.win.ds[s.win.index(i)] = r.recent[j]
			}
			continue
		}
		v := s.win.at(i)
		if first {
			s.step(a, t, v)
			s.win.ds[s.win.index(i)] = float32(s.win.lastDS)
			continue
		}
		// The detector already saw the point; only the new forecaster
		// needs it.
		if s.fc != nil {
			s.fc.Update(v)
		}
	}
}
