package forecast

import (
	"context"
	"time"
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
	opts.KeepProbabilities = max(opts.KeepProbabilities, end.Sub(start)+opts.History)
	e, err := New(opts)
	if err != nil {
		return nil, err
	}
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
// it fitted one, and the failure probabilities it recorded before this
// engine's own, so that the past can be queried and calibration refits on
// the whole history.
func (e *Engine) Adopt(r *Engine) {
	r.mu.RLock()
	calib, calibErr := r.calib, r.calibErr
	past := map[string]*probHistory{}
	for name, h := range r.probHistory {
		past[name] = &probHistory{label: h.label, points: append([]ProbabilityPoint(nil), h.points...)}
	}
	r.mu.RUnlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	if calib.N > 0 {
		e.calib, e.calibErr = calib, calibErr
	}
	for name, p := range past {
		h := e.probHistory[name]
		if h == nil {
			e.probHistory[name] = p
			continue
		}
		first := int64(1<<63 - 1)
		if len(h.points) > 0 {
			first = h.points[0].T
		}
		var older []ProbabilityPoint
		for _, pt := range p.points {
			if pt.T < first {
				older = append(older, pt)
			}
		}
		h.points = append(older, h.points...)
	}
}
