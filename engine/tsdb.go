package engine

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/augur-sre/augur/history"
)

// The names of the series the engine writes to its TSDB, as the Prometheus
// API serves them.
const (
	MetricInput         = "augur_input"
	MetricForecast      = "augur_forecast"
	MetricForecastLower = "augur_forecast_lower"
	MetricForecastUpper = "augur_forecast_upper"
	MetricBandLower     = "augur_baseline_lower"
	MetricBandUpper     = "augur_baseline_upper"
	MetricScore         = "augur_anomaly_score"
	MetricFailure       = "augur_failure_probability"
	// The evidence the calibration maps to the failure probability; the
	// calibration refits on their history.
	MetricCrossing        = "augur_crossing_probability"
	MetricAnomalyEvidence = "augur_anomaly_evidence"
	MetricTimeToLimit     = "augur_time_to_limit_seconds"
	MetricIncident        = "augur_incident"
)

// pointMetrics are the per-step series of every modelled series, in the
// order appendPoints writes them.
var pointMetrics = [...]string{MetricInput, MetricForecast, MetricForecastLower, MetricForecastUpper, MetricBandLower, MetricBandUpper, MetricScore}

// seriesRefs caches the TSDB references of a series' per-step metrics, so
// that appends after the first skip the label lookup.
type seriesRefs struct {
	labels [len(pointMetrics)]labels.Labels
	refs   [len(pointMetrics)]storage.SeriesRef
	// eta holds the labels and references of the three ETA quantiles.
	etaLabels [3]labels.Labels
	etaRefs   [3]storage.SeriesRef
}

func newSeriesRefs(l map[string]string) *seriesRefs {
	r := &seriesRefs{}
	b := labels.NewBuilder(labels.FromMap(l))
	for i, name := range pointMetrics {
		b.Set(labels.MetricName, name)
		r.labels[i] = b.Labels()
	}
	b.Set(labels.MetricName, MetricTimeToLimit)
	for i, q := range [...]string{"0.1", "0.5", "0.9"} {
		b.Set("quantile", q)
		r.etaLabels[i] = b.Labels()
	}
	return r
}

// entityRefs are the TSDB series of an entity's failure probability and
// its evidence, in the order of evidenceMetrics.
type entityRefs struct {
	labels [len(evidenceMetrics)]labels.Labels
	refs   [len(evidenceMetrics)]storage.SeriesRef
}

// appender wraps a TSDB appender: it drops non-finite samples (absent
// reads better in PromQL than NaN), counts rather than fails on samples
// the TSDB already holds (a restart refetches the source's recent past),
// and keeps the first other error.
//
// With a backfill, samples older than cut go into the backfill's block
// rather than the head (see history.Backfill).
type appender struct {
	app      storage.Appender
	min      int64 // samples at or before it are already written
	appended int
	dup      int
	err      error

	old        storage.Appender
	cut        int64
	backfilled int
	// oldRefs are the backfill's references of the series, keyed by where
	// the caller keeps the head's: a Backfill has a head of its own.
	oldRefs map[*storage.SeriesRef]storage.SeriesRef
}

func (a *appender) add(ref *storage.SeriesRef, l labels.Labels, t int64, v float64) {
	if t <= a.min || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	app, r0 := a.app, *ref
	if t < a.cut && a.old != nil {
		app, r0 = a.old, a.oldRefs[ref]
	}
	r, err := app.Append(r0, l, t, v)
	switch {
	case err == nil && app == a.old:
		a.oldRefs[ref] = r
		a.appended++
		a.backfilled++
	case err == nil:
		*ref = r
		a.appended++
	case errors.Is(err, storage.ErrOutOfOrderSample), errors.Is(err, storage.ErrDuplicateSampleForTimestamp), errors.Is(err, storage.ErrTooOldSample), errors.Is(err, storage.ErrOutOfBounds):
		a.dup++
	case a.err == nil:
		a.err = err
	}
}

// addPoint appends a series' outputs at t, in pointMetrics' order after
// the input: forecast, its interval, the band and the anomaly score.
func (a *appender) addPoint(r *seriesRefs, t int64, x [len(pointMetrics) - 1]float64) {
	for k, v := range x[:len(x)-1] {
		a.addOutput(&r.refs[k+1], r.labels[k+1], t, v)
	}
	a.addProb(&r.refs[len(x)], r.labels[len(x)], t, x[len(x)-1])
}

// addOutput appends a model output (forecast, interval, band, time to
// limit) rounded to outputBits significant bits, see quantize.
func (a *appender) addOutput(ref *storage.SeriesRef, l labels.Labels, t int64, v float64) {
	a.add(ref, l, t, quantize(v))
}

// addProb appends a probability or score in [0, 1] rounded to a multiple of
// 2^-probBits (about 1e-6): absolute, so that a tail near 1 (an anomaly
// score of 0.99999) keeps its distance from 1.
func (a *appender) addProb(ref *storage.SeriesRef, l labels.Labels, t int64, v float64) {
	a.add(ref, l, t, math.Ldexp(math.Round(math.Ldexp(v, probBits)), -probBits))
}

// The precision of the outputs the TSDB keeps. The TSDB's XOR chunks
// (Gorilla, Pelkonen et al. 2015) store a sample as the bits between the
// first and last that differ from the previous value: a model output at
// full precision costs 7 bytes a sample, its 53-bit mantissa noise in the
// model's arithmetic. 12 significant bits are a relative error of at most
// 2^-13 = 1.2e-4 (a forecast of 50 % CPU to ±0.006, a time to limit of 30
// days to ±5 min), far inside any interval augur serves, and cost 2 bytes a
// sample (BenchmarkTSDBBytesPerSample); the input is stored as the source
// sent it.
const (
	outputBits = 12
	probBits   = 20
)

// quantize rounds v to outputBits significant bits, half away from zero:
// adding half of the dropped part carries into the exponent when the
// mantissa overflows, which is the correct rounding.
func quantize(v float64) float64 {
	const drop = 52 - (outputBits - 1)
	b := math.Float64bits(v)
	b += 1 << (drop - 1)
	b &^= 1<<drop - 1
	if q := math.Float64frombits(b); !math.IsInf(q, 0) {
		return q
	}
	return v
}

// newAppender returns an appender on the engine's store; with a backfill
// (nil for none), samples older than the head takes in order go into it.
func (e *Engine) newAppender(ctx context.Context, bf *history.Backfill) *appender {
	a := &appender{app: e.store.Appender(ctx), min: e.opts.AppendedUntil.UnixMilli()}
	if bf != nil {
		a.old, a.cut, a.oldRefs = bf.Appender(ctx), e.backfillCut(), map[*storage.SeriesRef]storage.SeriesRef{}
	}
	return a
}

// backfiller is what a store offers to write the past into blocks:
// *history.DB's.
type backfiller interface {
	NewBackfill() (*history.Backfill, error)
}

// newBackfill returns a backfill into the store for about samples
// samples, or nil when the head should take them: when the store has no
// backfill to offer, or for fewer than backfillMin samples, which a block
// costs more to write and load (a fixed tenth of a second or so, its files
// synced to disk) than the head does to take out of order.
func (e *Engine) newBackfill(samples int) *history.Backfill {
	s, ok := e.store.(backfiller)
	if !ok || samples < backfillMin {
		return nil
	}
	bf, err := s.NewBackfill()
	if err != nil {
		e.logger.Warn("writing the past into the TSDB's head", "err", err)
		return nil
	}
	return bf
}

// backfillMin is the fewest samples a backfill is worth, backfillFlush
// how many a fetch's backfill holds in memory before writing its block
// (about 2 bytes each in the TSDB's chunks): a first fetch of a fortnight
// at one minute backfills from 30 series on, and writes a block every
// twelve hours of it at 10k series. Half a million samples take the head
// a quarter of a second out of order, more than a block costs.
const (
	backfillMin   = 1 << 19
	backfillFlush = 1 << 22
)

// flushBackfill writes bf's block, if bf is not nil, counting and logging
// a failure as commit does.
func (e *Engine) flushBackfill(ctx context.Context, bf *history.Backfill) {
	if bf == nil {
		return
	}
	if err := bf.Flush(ctx); err != nil {
		e.metrics.errors.WithLabelValues("tsdb").Inc()
		e.logger.Warn("cannot append to the TSDB", "err", err)
	}
}

// pastWriter gives writers of the past (the first fits of a batch,
// concurrently; the adoption of a replay's probabilities) appenders on a shared backfill, which it writes out and replaces
// each time it holds backfillFlush samples: a backfill keeps its samples
// in memory, in the TSDB's chunks, until it writes its block.
type pastWriter struct {
	mu sync.RWMutex // held for writing while bf is replaced
	bf *history.Backfill
	n  atomic.Int64 // samples in bf
}

// newPastWriter returns a pastWriter for about samples samples; nil (the
// head takes them) when they are too few for a backfill.
func (e *Engine) newPastWriter(samples int) *pastWriter {
	bf := e.newBackfill(samples)
	if bf == nil {
		return nil
	}
	return &pastWriter{bf: bf}
}

// writePast runs f with an appender, on w's backfill when w is not nil,
// and commits it.
func (e *Engine) writePast(ctx context.Context, w *pastWriter, f func(a *appender)) {
	if w == nil {
		a := e.newAppender(ctx, nil)
		f(a)
		e.commit(a)
		return
	}
	w.mu.RLock()
	a := e.newAppender(ctx, w.bf)
	f(a)
	e.commit(a)
	full := w.n.Add(int64(a.backfilled)) >= backfillFlush
	w.mu.RUnlock()
	if !full {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n.Load() >= backfillFlush {
		e.flushBackfill(ctx, w.bf)
		w.bf = e.newBackfill(backfillMin)
		w.n.Store(0)
	}
}

// flushPast writes the last block of w, if w is not nil.
func (e *Engine) flushPast(ctx context.Context, w *pastWriter) {
	if w != nil {
		e.flushBackfill(ctx, w.bf)
	}
}

// backfillCut is the time before which a sample goes to a backfill: the
// TSDB's head takes a series' samples in order down to half a block (an
// hour) behind its newest sample, and the present is about that.
func (e *Engine) backfillCut() int64 {
	return e.alignDown(e.now()) - time.Hour.Milliseconds()
}

// commit commits a's samples, counting and logging a failure: the TSDB is
// augur's record of its outputs, not a reason to stop producing them.
func (e *Engine) commit(a *appender) {
	err := a.err
	if cerr := a.app.Commit(); err == nil {
		err = cerr
	}
	if a.old != nil {
		if cerr := a.old.Commit(); err == nil {
			err = cerr
		}
	}
	e.metrics.appended.Add(float64(a.appended))
	if err != nil {
		e.metrics.errors.WithLabelValues("tsdb").Inc()
		e.logger.Warn("cannot append to the TSDB", "err", err)
	}
	if a.dup > 0 {
		e.logger.Debug("samples already in the TSDB skipped", "samples", a.dup)
	}
}

// mmapHead moves the store's full head chunks out of the heap onto its
// memory-mapped chunk files, if it has them. The TSDB does that once a
// minute; a first fetch writes a fortnight in seconds, all of which would
// stay on the heap until then (about 130 KB a series at one minute), so
// the evaluation does it after each chunk of a fetch that spans several
// and wrote something.
func (e *Engine) mmapHead() {
	if m, ok := e.store.(interface{ ForceHeadMMap() }); ok {
		m.ForceHeadMMap()
	}
}

// appendOutputs writes to the TSDB the evaluation's outputs that are not
// per point (observe writes those): the series' times to limit and the
// entities' failure probabilities with their evidence. The caller is the
// Run goroutine.
func (e *Engine) appendOutputs(ctx context.Context, st *State) {
	if !st.Ready {
		return
	}
	start := time.Now()
	a := e.newAppender(ctx, nil)
	now := st.At.UnixMilli()
	for _, sc := range st.Series {
		for k, q := range [...]*float64{sc.ETASeconds.P10, sc.ETASeconds.P50, sc.ETASeconds.P90} {
			if q != nil {
				a.addOutput(&sc.refs.etaRefs[k], sc.refs.etaLabels[k], now, *q)
			}
		}
	}
	horizon := model.Duration(e.opts.Horizon).String()
	for _, r := range st.Entities {
		er := e.entityRefs[r.Entity]
		if er == nil {
			er = &entityRefs{}
			for k, name := range evidenceMetrics {
				er.labels[k] = labels.FromStrings(labels.MetricName, name, r.EntityLabel, r.Entity, "horizon", horizon)
			}
			e.entityRefs[r.Entity] = er
		}
		for k, v := range [...]float64{r.FailureProbability, r.CrossingProbability, r.AnomalyEvidence} {
			a.addProb(&er.refs[k], er.labels[k], now, v)
		}
	}
	e.commit(a)
	e.metrics.appendDuration.Observe(time.Since(start).Seconds())
}
