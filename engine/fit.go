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
	// round counts the batches queued, which staggers the reselections
	// (see reselect).
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

// reselect reports whether the refit of round for the series key runs the
// full selection: once every reselectEvery rounds, at a round that the
// key's hash staggers so that no batch reselects every series at once.
func reselect(key string, round uint32) bool {
	h := fnv.New32a()
	h.Write([]byte(key))
	return (h.Sum32()+round)%reselectEvery == 0
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
	e.fits.round++
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
		jobs = append(jobs, job{s: s, labels: s.refs.labels[0], keep: keep, first: s.det == nil})
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
				ts, ys, r.err = e.readHistory(ctx, ts[:0], ys[:0], j.labels)
				if r.err == nil {
					r, r.err = fitSeries(&rf, ts, ys, e.step, e.horizon, j.keep)
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
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		work <- j
	}
	close(work)
	wg.Wait()
}

// readHistory reads the input series l over the history window ending at
// the TSDB's newest sample of it onto the step grid (NaN for missing
// points), appending to ts and ys.
func (e *Engine) readHistory(ctx context.Context, ts []int64, ys []float64, l labels.Labels) ([]int64, []float64, error) {
	end := e.alignDown(e.now())
	start := end - e.opts.History.Milliseconds()
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
