package engine

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"

	"github.com/augur-sre/augur/model"
)

// fitter runs refits off the evaluation path: a batch of series is fitted
// by at most Options.FitConcurrency goroutines, each reading one series'
// history from the TSDB at a time, and the results wait in done until the
// Run goroutine installs them (installFits). Readers never wait for a fit
// and an evaluation never waits for one either, but in Evaluate's
// synchronous mode (replays, tests).
type fitter struct {
	mu      sync.Mutex
	done    []fitResult
	running bool
	// wake receives a value when a batch ends, so that Run installs its
	// results at once rather than at the next tick, and when a replay is
	// adopted, so that Run publishes what it learnt (see wakeRun).
	wake chan struct{}
	// install receives a value when installEvery results wait in done, so
	// that Run installs them between evaluations: a refit's new models
	// would otherwise wait beside the old ones until the next evaluation,
	// a whole batch's when it takes less than an evaluation interval.
	install chan struct{}
	// round counts the batches of every series queued, which staggers
	// the full refits (see reselect); the batches of new series alone do
	// not count, else a series' turn could fall in one that skips it.
	round uint32
}

// installEvery is how many fit results wait before Run installs them
// without waiting for the next evaluation: a few MB of models, installed
// under the engine's lock in well under a millisecond.
const installEvery = 256

// add queues rs for installFits, and has Run install the queue once it
// holds installEvery results.
func (f *fitter) add(rs ...fitResult) {
	f.mu.Lock()
	f.done = append(f.done, rs...)
	full := len(f.done) >= installEvery
	f.mu.Unlock()
	if full {
		select {
		case f.install <- struct{}{}:
		default:
		}
	}
}

// wakeRun makes Run evaluate now, if it is not about to already.
func (f *fitter) wakeRun() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// reselectEvery is how many refits of a series pass between two runs of
// the full model selection on it; the refits in between fit the chosen
// kind of model alone. A series' best kind seldom changes from one hour
// to the next, and the selection's backtest of every candidate is about
// three quarters of a fit's cost (BenchmarkRefit). With the default hourly
// refit, each series is reselected daily, a 24th of them at each batch.
const reselectEvery = 24

// fullRefitEvery is how often a series gets a full refit: a read of the
// whole history and the fits of everything on it, the seasonal baselines
// and the regime model of capacity plans besides the forecaster (and the
// selection, at its reselect rounds). The refits in between read only the
// recent span of the history that the kept kind of forecaster fits and is
// validated on (model.RecentSpan, five days and a half of a fortnight)
// and refit the forecaster alone, at about a third of a full refit's
// cost (BenchmarkRefitCycle). With the default hourly refit, a 24th of the
// series get theirs at each batch, staggered as the reselections are; a
// refit interval of a day or more (the replays') makes every refit full.
//
// What is kept between full refits:
//   - the weekly and daily baselines: each slot's centre and scale are
//     order statistics of the fortnight's points at that time of week or
//     day, and a day replaces a fourteenth of a daily slot's points, half
//     of a weekly slot's in a seventh of the slots and none in the rest;
//     an hour's points alone would change no more than one slot of each.
//     Kept for longer, they went stale: refitted every 24th daily refit,
//     the replay's (`augur evaluate`) Brier score rose from 0.00093 to
//     0.00107, with two more false alarms;
//   - the periods the forecaster's kind was fitted with (see
//     model.SelectOptions.Kept), detected again at the full refit.
//
// What follows the data at every refit: the forecaster, refitted on its
// recent span, besides its update at every point; at every point, the
// detector and the window that the crossing model's trends and the
// anomaly evidence read, which no refit touches.
const fullRefitEvery = 24 * time.Hour

// regimeEvery is how often the regime model is refitted, on the whole
// history, between full refits. What it has not seen, a leak's newest
// growth, only the window's recent trends carry into a capacity plan
// (see series.plan), and those span two hours. A regime must last
// regimeMinSegment (six hours) to be selected, so a refit every six hours
// delays a new regime's selection by as much again at most, where a daily
// one would by a day; the full read it takes adds about a tenth to an
// average refit's cost (BenchmarkRefitCycle).
const regimeEvery = 6 * time.Hour

// reselect reports whether the refit of round for the series key runs the
// full selection: once every reselectEvery rounds, at a round that the
// key's hash staggers so that no batch reselects every series at once.
func reselect(key string, round uint32) bool { return turn(key, round, reselectEvery) }

// refitsIn is how many refits of a series pass in d, at least one.
func (e *Engine) refitsIn(d time.Duration) uint32 {
	return uint32(max(1, d/e.opts.RefitInterval))
}

// turn reports whether round is the key's turn among every rounds, the
// stagger its hash gives.
func turn(key string, round, every uint32) bool {
	h := fnv.New32a()
	h.Write([]byte(key))
	return (h.Sum32()+round)%every == 0
}

// job is one series to fit, with what the fit needs of it, copied by the
// Run goroutine so that the worker touches nothing the loop writes.
type job struct {
	s      *series
	labels labels.Labels // of its augur_input series
	// keep is the model kind to refit, without a new selection: the
	// snapshot's at a first fit, the current one between reselections.
	keep  string
	first bool
	// span, when positive, is how many of the history's last points a
	// refit between full refits reads, to refit the forecaster of kept
	// alone; points and fullUpTo are the series' and kept, and regime
	// too unless fitRegime, when the whole history is read to refit it.
	span      int
	kept      *model.FittedSeries
	regime    *model.RegimeTrend
	fitRegime bool
	points    int
	fullUpTo  int64
}

// recentJob makes j a refit of the forecaster alone on the recent span of
// the history, keeping the rest of the series' last full refit, unless the
// series is due a full refit (see fullRefitEvery): at its staggered round,
// or when its last full refit is older than fullRefitEvery and a refit
// interval (a restart changed the stagger, or a full refit failed).
// The caller holds e.mu.
func (e *Engine) recentJob(j *job, round uint32, end int64) {
	s := j.s
	if j.first || j.keep != s.sel.Model || s.base == nil || turn(s.key, round, e.refitsIn(fullRefitEvery)) ||
		end-s.fullUpTo >= (fullRefitEvery+e.opts.RefitInterval).Milliseconds() {
		return
	}
	span, ok := model.RecentSpan(s.points, e.step, s.sel)
	if !ok {
		return
	}
	j.span, j.points, j.fullUpTo, j.regime = span, s.points, s.fullUpTo, s.regime
	j.fitRegime = turn(s.key, round, e.refitsIn(regimeEvery))
	j.kept = &model.FittedSeries{Selection: s.sel, Baseline: s.base, Daily: s.daily, Period: s.period}
}

// startRefit queues every series for a refit in a batch of its own (with
// onlyNew, the series due a first fit: those a source showed after the
// last batch, and new ones that now have the points a model needs),
// unless one is still running; with wait, it returns once the batch is
// done. The caller is the Run goroutine.
func (e *Engine) startRefit(ctx context.Context, wait, onlyNew bool) {
	e.fits.mu.Lock()
	if e.fits.running {
		e.fits.mu.Unlock()
		return
	}
	e.fits.running = true
	e.fits.mu.Unlock()
	var jobs []job
	var restored []fitResult
	e.mu.Lock()
	firsts := 0
	round := e.fits.round
	if !onlyNew {
		e.fits.round++
	}
	end := e.alignDown(e.now())
	for _, s := range e.selectSeries(nil) {
		if onlyNew && !s.dueFirstFit() {
			continue
		}
		if s.det == nil {
			if r, ok := e.restoredFit(s); ok {
				r.s = s
				restored = append(restored, r)
				s.pending = true
				continue
			}
		}
		keep := e.restored[s.key]
		if keep == "" && s.sel.Model != "" && !reselect(s.key, round) {
			keep = s.sel.Model
		}
		j := job{s: s, labels: s.refs.labels[0], keep: keep, first: s.det == nil}
		e.recentJob(&j, round, end)
		jobs = append(jobs, j)
		s.pending = true
		if s.det == nil {
			firsts++
		}
	}
	e.unfitted = 0
	if !onlyNew {
		// The snapshot and the models file serve the first fits only.
		e.restored, e.restoredModels = nil, nil
		e.lastFit = e.now()
	}
	e.mu.Unlock()
	if len(restored) > 0 {
		e.fits.add(restored...)
		e.logger.Info("installing models from the models file", "series", len(restored), "to_fit", len(jobs))
	}
	// The first evaluation paused compactions before its fetch (see
	// evaluateOnce); a later batch with first fits pauses them itself.
	resume := e.resumeCompactions
	e.resumeCompactions = nil
	run := func() {
		start := time.Now()
		if resume == nil && firsts > 0 {
			resume = e.pauseCompactions()
		}
		if resume != nil {
			defer resume()
		}
		// The first fits' past outputs go into blocks of their own.
		var past *pastWriter
		if firsts > 0 {
			past = e.newPastWriter(firsts * int(backfillSpan/e.opts.Step) * (len(pointMetrics) - 1))
		}
		e.fitBatch(ctx, jobs, past)
		e.flushPast(ctx, past)
		e.logger.Info("fitted models", "series", len(jobs), "duration", time.Since(start).Round(time.Millisecond))
		e.metrics.refitDuration.Set(time.Since(start).Seconds())
		e.fits.mu.Lock()
		e.fits.running = false
		e.fits.mu.Unlock()
		e.fits.wakeRun()
	}
	if wait {
		run()
		return
	}
	go run()
}

// fitBatch fits jobs with FitConcurrency workers.
func (e *Engine) fitBatch(ctx context.Context, jobs []job, past *pastWriter) {
	work := make(chan job)
	var wg sync.WaitGroup
	for range e.opts.FitConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ts []int64
			var ys []float64
			var rf model.RegimeFitter
			for j := range work {
				t0 := time.Now()
				var r fitResult
				if j.span > 0 {
					ts, ys, r, r.err = e.refitRecent(ctx, &rf, ts[:0], ys[:0], j)
				}
				if j.span == 0 || r.err != nil {
					// A recent span that cannot be fitted (all missing,
					// a source down for days) gets the full refit.
					ts, ys, r.err = e.readHistory(ctx, ts[:0], ys[:0], j.labels)
					if r.err == nil {
						r, r.err = fitSeries(&rf, ts, ys, e.step, e.horizon, j.keep)
					}
				}
				if r.err == nil && j.first {
					e.writePast(ctx, past, func(a *appender) { r.warm(a, j.s.refs, ts, ys) })
				}
				r.s = j.s
				e.metrics.fitDuration.Observe(time.Since(t0).Seconds())
				switch {
				case errors.Is(r.err, model.ErrShortHistory):
					// A new series, reported as warming up: not an error.
					e.logger.Debug("cannot fit series yet", "series", j.s.key, "err", r.err)
				case r.err != nil:
					e.metrics.errors.WithLabelValues("fit").Inc()
					e.logger.Warn("cannot fit series", "series", j.s.key, "err", r.err)
				}
				e.fits.add(r)
			}
		}()
	}
	prog := newProgress(e.logger, "fitting models", "series", len(jobs))
	for i, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		prog.done(i)
		work <- j
	}
	close(work)
	wg.Wait()
}

// refitRecent reads the last j.span points of the history of j's series
// (all of it with j.fitRegime) and refits its forecaster on them
// (model.SeriesOptions.Kept), and the regime model with j.fitRegime,
// keeping the rest of its last full refit; it appends the points read to
// ts and ys.
func (e *Engine) refitRecent(ctx context.Context, rf *model.RegimeFitter, ts []int64, ys []float64, j job) ([]int64, []float64, fitResult, error) {
	start := time.Now()
	// An hour more than the span, for a series whose newest point is
	// some minutes old: the span counts back from it.
	span := time.Duration(j.span)*e.opts.Step + time.Hour
	if j.fitRegime {
		span = e.opts.History
	}
	ts, ys, err := e.readSpan(ctx, ts, ys, j.labels, span)
	if err != nil {
		return ts, ys, fitResult{}, err
	}
	n, k := len(ts), max(0, len(ts)-j.span)
	f, err := model.FitSeries(ts[k:], ys[k:], model.SeriesOptions{Step: e.step, Horizon: e.horizon, Kept: j.kept})
	if err != nil {
		return ts, ys, fitResult{}, fmt.Errorf("cannot refit: %w", err)
	}
	r := fitResult{fc: f.Forecaster, sel: f.Selection, base: f.Baseline, daily: f.Daily, regime: j.regime, period: f.Period,
		points: j.points, upTo: ts[n-1], fullUpTo: j.fullUpTo}
	if j.fitRegime {
		r.regime, _ = rf.Fit(ys, ts[n-1], e.step) // nil on less than two days
	}
	r.took = time.Since(start)
	return ts, ys, r, nil
}

// readHistory reads the input series l over the history window ending at
// the TSDB's newest sample of it onto the step grid (NaN for missing
// points), appending to ts and ys.
func (e *Engine) readHistory(ctx context.Context, ts []int64, ys []float64, l labels.Labels) ([]int64, []float64, error) {
	return e.readSpan(ctx, ts, ys, l, e.opts.History)
}

// readSpan is readHistory over the last span of the window.
func (e *Engine) readSpan(ctx context.Context, ts []int64, ys []float64, l labels.Labels, span time.Duration) ([]int64, []float64, error) {
	end := e.alignDown(e.now())
	start := end - min(span, e.opts.History).Milliseconds()
	q, err := e.store.Querier(start, end)
	if err != nil {
		return ts, ys, fmt.Errorf("cannot read history: %w", err)
	}
	defer q.Close()
	ms := make([]*labels.Matcher, 0, l.Len())
	l.Range(func(l labels.Label) { ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value)) })
	ss := q.Select(ctx, false, nil, ms...)
	var it chunkenc.Iterator
	for ss.Next() {
		if labels.Compare(ss.At().Labels(), l) != 0 {
			continue // a series with more labels than l
		}
		it = ss.At().Iterator(it)
		for it.Next() == chunkenc.ValFloat {
			t, v := it.At()
			if n := len(ts); n > 0 {
				for g := ts[n-1] + e.step; g < t; g += e.step {
					ts, ys = append(ts, g), append(ys, math.NaN())
				}
			}
			ts, ys = append(ts, t), append(ys, v)
		}
		if err := it.Err(); err != nil {
			return ts, ys, fmt.Errorf("cannot read history: %w", err)
		}
	}
	if err := ss.Err(); err != nil {
		return ts, ys, fmt.Errorf("cannot read history: %w", err)
	}
	if len(ts) == 0 {
		return ts, ys, fmt.Errorf("%w: no points in the TSDB", model.ErrShortHistory)
	}
	return ts, ys, nil
}

// installFits installs the results of the fits done since the last call.
// The caller is the Run goroutine.
func (e *Engine) installFits(ctx context.Context) {
	e.fits.mu.Lock()
	done := e.fits.done
	e.fits.done = nil
	e.fits.mu.Unlock()
	if len(done) == 0 && (e.ready || e.lastFit.IsZero()) {
		return
	}
	a := e.newAppender(ctx, nil)
	now := e.now()
	e.mu.Lock()
	for _, r := range done {
		r.s.install(a, r, now)
	}
	// Ready once the first batch was queued and no series of it waits for
	// its first fit (there may be none: every query returned nothing, or
	// the sources were down): the series a source shows later get theirs
	// in a batch of their own, without holding up the rest.
	if !e.ready {
		e.ready = true
		for _, s := range e.selectSeries(nil) {
			if s.pending && s.det == nil {
				e.ready = false
				break
			}
		}
	}
	e.countSeries()
	e.mu.Unlock()
	e.commit(a)
}

// countSeries sets augur_series once the engine is ready. The caller
// holds e.mu.
func (e *Engine) countSeries() {
	if !e.ready {
		return
	}
	for _, sig := range e.signals {
		e.metrics.series.WithLabelValues(sig.Name).Set(float64(len(sig.series)))
	}
}

// compactor is what a store offers to pause its background compactions:
// *tsdb.DB's.
type compactor interface {
	DisableCompactions()
	EnableCompactions()
}

// pauseCompactions pauses the store's compactions, if it has any, until
// the function it returns is called; it waits for a compaction under way.
// First fits append the past out of order, and the TSDB's head, truncated
// by a compaction while out-of-order chunks were being written to disk,
// panicked ("expected newly cut file to have sequence:offset",
// prometheus/prometheus#11618).
func (e *Engine) pauseCompactions() func() {
	c, ok := e.store.(compactor)
	if !ok {
		return func() {}
	}
	c.DisableCompactions()
	return c.EnableCompactions
}
