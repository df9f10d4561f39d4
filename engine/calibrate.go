package engine

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// Calibration settings. Two pseudo-observations at the raw evidence keep
// the thinnest block (30 predictions) from claiming certainty, and weigh
// nothing against the thousands a fortnight of evaluations puts in most.
const (
	calibPseudo = 2.0
	// CalibrationMinIncidents is the number of failures (see
	// CountFailures) needed before the mapping is fitted at all.
	CalibrationMinIncidents = 2
)

// Outcome labels a prediction made at t (Unix ms) about an entity: positive
// when one of its incidents starts within (t, t+horizon]; ok is false when
// the entity is failing at t (a prediction then is not a forecast).
func Outcome(incidents []ingest.Incident, entity string, t int64, horizon time.Duration) (positive, ok bool) {
	h := horizon.Milliseconds()
	for _, inc := range incidents {
		if inc.Entity != entity {
			continue
		}
		s, e := inc.Start.UnixMilli(), inc.End.UnixMilli()
		if t >= s && t <= e {
			return false, false
		}
		if s > t && s <= t+h {
			positive = true
		}
	}
	return positive, true
}

// calibrate refits the mapping from raw to calibrated failure probability
// on the recorded raw probabilities whose outcome is known against the
// known incidents. With too few incidents the documented prior, the
// identity, stays.
//
// A prediction's outcome is known when its horizon has passed and lies
// within the window the incidents were listed for (the History up to now).
// Recorded predictions can be older than that window (the TSDB's
// retention, or a replay's adopted past): an incident that preceded the window has
// been forgotten, not averted, so the predictions before it are censored
// and left out rather than labelled negative. Counting them as negatives
// teaches the map that the strongest evidence, which preceded those very
// incidents, is often a false alarm: on the demo fleet, once the first
// day's incidents aged out of the window, raw evidence above 0.998, which
// within the window nearly always preceded a failure, mapped to 0.79,
// under the alert threshold. An outcome whose window was not observed is
// censored, a missing label rather than a negative one (Kleinbaum & Klein,
// "Survival Analysis: A Self-Learning Text", ch. 1).
func (e *Engine) calibrate() {
	e.mu.RLock()
	incidents := failures(e.incidents)
	known := e.evalTime.Add(-e.opts.Horizon).UnixMilli()
	listed := e.incidentsFrom
	e.mu.RUnlock()
	hist, err := e.failureHistory(context.Background(), listed, known)
	if err != nil {
		e.logger.Warn("cannot read the failure probabilities to calibrate", "err", err)
		return
	}
	var cross, anom []float64
	var outcome []bool
	for _, h := range hist {
		for _, p := range h.Points {
			y, ok := Outcome(incidents, h.Entity, p.T, e.opts.Horizon)
			if !ok {
				continue
			}
			cross = append(cross, p.Cross)
			anom = append(anom, p.Anom)
			outcome = append(outcome, y)
		}
	}
	n := 0
	for _, inc := range incidents {
		if inc.End.UnixMilli() <= known {
			n++
		}
	}
	var c model.Calibrator
	if n < CalibrationMinIncidents {
		err = model.ErrFewIncidents
	} else {
		c, err = model.FitCalibrator(cross, anom, outcome, calibPseudo, 1)
	}
	e.mu.Lock()
	e.calibErr = err
	if err == nil {
		e.setCalibration(c, e.evalTime.UnixMilli())
	}
	// Otherwise the mapping in use stays: the prior, or one restored from a
	// snapshot or learnt by a replay while this engine's own history of
	// predictions is still too short.
	e.mu.Unlock()
	if err != nil {
		if !errors.Is(err, model.ErrFewIncidents) {
			e.logger.Warn("cannot calibrate", "err", err)
		}
		return
	}
	e.logger.Debug("calibrated", "blocks", len(c.X), "examples", c.N, "positives", c.Positives, "incidents", n)
}

// failures returns the incidents that are failures: augur's own alerts,
// routed back by Alertmanager's webhook (source "augur"), are predictions.
func failures(incidents []ingest.Incident) []ingest.Incident {
	out := make([]ingest.Incident, 0, len(incidents))
	for _, inc := range incidents {
		if isFailure(inc) {
			out = append(out, inc)
		}
	}
	return out
}

func isFailure(inc ingest.Incident) bool { return inc.Source != "augur" }

// CountFailures returns how many of the incidents are failures, what the
// calibration learns from.
func CountFailures(incidents []ingest.Incident) int {
	n := 0
	for _, inc := range incidents {
		if isFailure(inc) {
			n++
		}
	}
	return n
}

// Calibration describes the mapping in use, for /api/v1/targets: the raw
// evidence at the blocks' centres and the probability each maps to.
type Calibration struct {
	Raw        []float64
	Calibrated []float64
	Examples   int
	Positives  int
	Prior      bool // true while too few incidents are known
	Note       string
	// FailureModel is the learned failure model, when one is configured.
	FailureModel *FailureModelStatus
}

// Calibration returns the mapping from raw to calibrated probability in use.
func (e *Engine) Calibration() Calibration {
	e.mu.RLock()
	defer e.mu.RUnlock()
	c := Calibration{Raw: e.calib.X, Calibrated: e.calib.Y, Examples: e.calib.N, Positives: e.calib.Positives, Prior: e.calib.N == 0, FailureModel: e.failureModelStatus()}
	if e.calibErr != nil {
		c.Note = e.calibErr.Error()
	}
	return c
}

// datedCalibration is a calibration and the time (Unix ms) from which it
// was in use.
type datedCalibration struct {
	from int64
	c    model.Calibrator
}

// setCalibration installs c as the calibration in use from t on and
// remembers it with those in use over the History before t: the learned
// failure model corrects the probability each step was served, the
// calibration of its day (calibrationAt), not today's, which was fitted on
// those very steps. The caller holds e.mu for writing.
func (e *Engine) setCalibration(c model.Calibrator, t int64) {
	e.calib = c
	cut := t - e.opts.History.Milliseconds()
	for len(e.calibs) > 1 && e.calibs[1].from <= cut {
		e.calibs = e.calibs[1:]
	}
	e.calibs = append(e.calibs, datedCalibration{t, c})
}

// calibrationAt returns the calibration of cs (setCalibration's) in use at
// t: the prior before the first.
func calibrationAt(cs []datedCalibration, t int64) model.Calibrator {
	i, _ := slices.BinarySearchFunc(cs, t, func(d datedCalibration, t int64) int { return cmp.Compare(d.from, t+1) })
	if i == 0 {
		return model.Calibrator{}
	}
	return cs[i-1].c
}
