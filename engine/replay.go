package engine

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// Replay runs a fresh engine with opts over [start, end] on a simulated
// clock, evaluating every EvaluationInterval, so that each prediction sees
// only the data and incidents before it: the predictions "as they would
// have been made". The engine's first evaluation fits on the History before
// start. opts.Now, when set, is replaced by the simulated clock; sources
// with a clock of their own must be built on the same simulated time (or be
// asked only for the past, as the demo fleet and Prometheus are). progress,
// if not nil, is called after each simulated day. Replay returns the
// engine, whose FailureHistory holds the predictions, or ctx's error; the
// caller closes it. The replay keeps its series in a temporary store of
// its own, whatever opts.Store: the past it writes is not the live one's.
func Replay(ctx context.Context, opts Options, start, end time.Time, setClock func(time.Time), progress func(day int)) (*Engine, error) {
	sim := start
	opts.Now = func() time.Time { return sim }
	opts.Store, opts.AppendedUntil, opts.Capacity = nil, time.Time{}, false
	e, err := New(opts)
	if err != nil {
		return nil, err
	}
	e.replay = true
	for ; !sim.After(end); sim = sim.Add(e.opts.EvaluationInterval) {
		if err := ctx.Err(); err != nil {
			e.Close()
			return nil, err
		}
		if setClock != nil {
			setClock(sim)
		}
		e.Evaluate(ctx)
		if d := sim.Sub(start); progress != nil && d > 0 && d%(24*time.Hour) == 0 {
			progress(int(d / (24 * time.Hour)))
		}
	}
	return e, nil
}

// Adopt takes over what a replay of the past learned: its calibration, when
// it fitted one, its entities' multivariate channels (see adoptEntities),
// and the failure probabilities (with their evidence) it recorded before
// this engine's own, appended to this engine's store, so that the past can
// be queried and calibration refits on the whole history. A store that
// refuses samples that old (its out-of-order window) keeps only the
// calibration and the channels. It records the end of the replay
// (Replayed), for the snapshot, and makes Run evaluate at once, so that
// the next State serves the calibration and channels it adopted. r must
// not be evaluated after.
func (e *Engine) Adopt(ctx context.Context, r *Engine) {
	e.adoptEntities(r)
	r.mu.RLock()
	calib, calibErr, calibs := r.calib, r.calibErr, slices.Clone(r.calibs)
	end := r.evalTime
	r.mu.RUnlock()
	e.mu.Lock()
	if calib.N > 0 {
		e.calib, e.calibErr, e.calibs = calib, calibErr, calibs
	}
	e.replayed = end
	e.mu.Unlock()
	// The next State serves the calibration and channels adopted, without
	// waiting for the past's probabilities below (tens of seconds for a
	// fortnight on a loaded machine).
	e.fits.wakeRun()
	first := e.State().At
	if first.IsZero() {
		first = end
	}
	horizon := model.Duration(e.opts.Horizon).String()
	defer e.pauseCompactions()()
	hs := r.FailureHistory(time.Time{}, first.Add(-time.Millisecond))
	n := 0
	for _, h := range hs {
		n += len(h.Points) * len(evidenceMetrics)
	}
	past := e.newPastWriter(n)
	for _, h := range hs {
		var refs [len(evidenceMetrics)]storage.SeriesRef
		var ls [len(evidenceMetrics)]labels.Labels
		for k, name := range evidenceMetrics {
			ls[k] = labels.FromStrings(labels.MetricName, name, h.EntityLabel, h.Entity, "horizon", horizon)
		}
		e.writePast(ctx, past, func(a *appender) {
			for _, p := range h.Points {
				for k, v := range [...]float64{p.P, p.Cross, p.Anom} {
					a.addProb(&refs[k], ls[k], p.T, v)
				}
			}
		})
	}
	e.flushPast(ctx, past)
}

// Replayed returns the end of the calibration replay this engine adopted,
// or the one its snapshot recorded (the past failure probabilities it
// wrote are in the store): zero when there was none, and a restart needs
// one to learn from the past.
func (e *Engine) Replayed() time.Time {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.replayed
}
