package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/augur-sre/augur/model"
)

// The values of Options.FailureModel.
const (
	// FailureModelCalibrated maps the evidence through the isotonic
	// calibration (calibrate) only.
	FailureModelCalibrated = "calibrated"
	// FailureModelLSTM uses the learned model (model.FailureModel) once it
	// is trained.
	FailureModelLSTM = "lstm"
	// FailureModelAuto uses the learned model where its held-out Brier
	// score beats the calibration's on the same predictions.
	FailureModelAuto = "auto"
)

// failureModelWindow is the learned model's window in steps (the default of
// model.FailureModelOptions): half an hour at one minute.
const failureModelWindow = 30

// FailureModelStatus describes the learned failure model, for
// /api/v1/targets and the snapshot.
type FailureModelStatus struct {
	Mode    string
	InUse   bool
	Trained *time.Time
	// Incidents is the number of incidents the model trained on;
	// HeldOut the held-out predictions it was compared on, where Brier is
	// its Brier score there, CalibratedBrier the calibration's on the same
	// predictions and BaseRateBrier the training part's base rate's.
	Incidents       int
	HeldOut         int
	Brier           *float64
	CalibratedBrier *float64
	BaseRateBrier   *float64
	TrainSeconds    float64
	// Note says why the model is not in use.
	Note string
}

// learned is the engine's learned failure model and its status.
type learned struct {
	m      *model.FailureModel // nil until trained; used only by the Run goroutine
	use    bool
	status FailureModelStatus
	// trainedAt is the time (Unix ms) of the last training; a training is
	// under way while busy is set.
	trainedAt int64
	busy      bool
}

// retrainIncidents is how many incidents must have started since the last
// training for the model to be trained again: one new incident changes a
// few dozen positive windows among thousands.
const retrainIncidents = 3

// trainFailureModel trains the learned failure model on the history the
// TSDB holds (each entity's signals, one feature per signal: the entity's
// highest value of it as a share of its limit, or the value where there is
// no limit; and the crossing probability and anomaly evidence of the
// evaluation before, NaN where none was recorded) labelled by the known
// incidents, when incidents have become
// known since the last training. With wait it trains before returning (a
// replay); otherwise in the background, the result installed when done. A
// training is a few tens of seconds of CPU (BenchmarkTrainFailureModelOnDemo).
func (e *Engine) trainFailureModel(ctx context.Context, wait bool) {
	if !e.learnedMode() {
		return
	}
	e.mu.Lock()
	incidents := failures(e.incidents)
	fresh := 0
	for _, inc := range incidents {
		if inc.Start.UnixMilli() > e.fm.trainedAt {
			fresh++
		}
	}
	if e.fm.busy || e.fm.m != nil && fresh < retrainIncidents {
		e.mu.Unlock()
		return
	}
	e.fm.busy = true
	type member struct {
		l      labels.Labels
		signal int
		limit  float64
	}
	var names []string
	var members [][]member
	for name, st := range e.entities {
		names = append(names, name)
		var ms []member
		for _, s := range st.members {
			ms = append(ms, member{l: s.refs.labels[0], signal: s.member.signal, limit: s.limit})
		}
		members = append(members, ms)
	}
	e.mu.Unlock()

	train := func() {
		began := time.Now()
		end := e.alignDown(e.now())
		start := end - e.opts.History.Milliseconds() + e.step
		n := int((end-start)/e.step) + 1
		hist := make([]model.FailureHistory, len(names))
		evidence := map[string][]ProbabilityPoint{}
		if eh, err := e.failureHistory(ctx, start, end); err == nil {
			for _, h := range eh {
				evidence[h.Entity] = h.Points
			}
		}
		var ts []int64
		var ys []float64
		for i, ms := range members {
			f := make([][]float64, n)
			for t := range f {
				f[t] = nanRow(len(e.signals) + 2)
			}
			for _, m := range ms {
				var err error
				if ts, ys, err = e.readHistory(ctx, ts[:0], ys[:0], m.l); err != nil {
					continue
				}
				for k, t := range ts {
					if j := int((t - start) / e.step); j >= 0 && j < n {
						f[j][m.signal] = maxNaN(f[j][m.signal], feature(ys[k], m.limit))
					}
				}
			}
			hist[i].Features = f
			if pts := evidence[names[i]]; pts != nil {
				// A row holds the evidence of the evaluation before it, as
				// observeFeatures sees it.
				for _, p := range pts {
					if j := int((p.T-start)/e.step) + 1; j >= 0 && j < n {
						f[j][len(e.signals)], f[j][len(e.signals)+1] = p.Cross, p.Anom
					}
				}
			}
			for _, inc := range incidents {
				if inc.Entity != names[i] {
					continue
				}
				s := int((inc.Start.UnixMilli() - start) / e.step)
				en := max(int((inc.End.UnixMilli()-start)/e.step), s+1)
				if en > 0 && s < n {
					hist[i].Incidents = append(hist[i].Incidents, model.StepSpan{Start: max(s, 0), End: min(en, n)})
				}
			}
		}
		o := e.opts.Learned
		o.Window, o.Horizon = failureModelWindow, e.horizon
		m, err := model.TrainFailureModel(hist, o)
		st := FailureModelStatus{Mode: e.opts.FailureModel, TrainSeconds: time.Since(began).Seconds()}
		use := false
		if err == nil {
			at := time.UnixMilli(end).UTC()
			st.Trained, st.Incidents = &at, m.Incidents
			st.BaseRateBrier = finitePtr(m.BaseRateBrier)
			use = e.compareFailureModel(ctx, m, names, start, &st)
		} else {
			st.Note = err.Error()
			if !errors.Is(err, model.ErrFewIncidents) {
				e.logger.Warn("cannot train the failure model", "err", err)
			}
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		e.fm.busy, e.fm.trainedAt = false, end
		if err != nil && e.fm.m != nil {
			// The model in use stays; say why it was not retrained.
			e.fm.status.Note = "not retrained: " + err.Error()
			return
		}
		st.InUse = use
		e.fm.m, e.fm.use, e.fm.status = m, use, st
		e.logger.Info("trained the failure model", "in_use", use, "incidents", st.Incidents, "held_out", st.HeldOut, "seconds", st.TrainSeconds)
	}
	if wait {
		train()
		return
	}
	go train()
}

// compareFailureModel fills the held-out comparison of a trained model with
// the calibration: the Brier scores of both on the held-out steps whose
// evidence the TSDB recorded, the calibration's probability recomputed
// from that evidence with the map in use (fitted on predictions that
// include those steps, so the comparison favours it). It reports whether
// the model is to be used.
func (e *Engine) compareFailureModel(ctx context.Context, m *model.FailureModel, names []string, start int64, st *FailureModelStatus) bool {
	hist, err := e.failureHistory(ctx, start, e.alignDown(e.now()))
	if err != nil {
		st.Note = fmt.Sprintf("cannot read the recorded evidence to compare with: %v", err)
		return e.opts.FailureModel == FailureModelLSTM
	}
	byEntity := map[string]map[int64]ProbabilityPoint{}
	for _, h := range hist {
		pts := make(map[int64]ProbabilityPoint, len(h.Points))
		for _, p := range h.Points {
			pts[p.T] = p
		}
		byEntity[h.Entity] = pts
	}
	e.mu.RLock()
	calib := e.calib
	e.mu.RUnlock()
	var lstm, cal float64
	for _, p := range m.HeldOut {
		rec, ok := byEntity[names[p.Entity]][start+int64(p.Step)*e.step]
		if !ok {
			continue
		}
		y := 0.0
		if p.Failed {
			y = 1
		}
		c := calib.Apply(rec.Cross, rec.Anom)
		lstm += (p.P - y) * (p.P - y)
		cal += (c - y) * (c - y)
		st.HeldOut++
	}
	if st.HeldOut == 0 {
		st.Note = "no recorded evidence on the held-out steps to compare with the calibration"
		return e.opts.FailureModel == FailureModelLSTM
	}
	lstm, cal = lstm/float64(st.HeldOut), cal/float64(st.HeldOut)
	st.Brier, st.CalibratedBrier = finitePtr(lstm), finitePtr(cal)
	if e.opts.FailureModel == FailureModelAuto && !(lstm < cal) {
		st.Note = fmt.Sprintf("held-out Brier %.5f does not beat the calibration's %.5f", lstm, cal)
		return false
	}
	return true
}

// learnedMode reports whether a learned failure model is configured.
func (e *Engine) learnedMode() bool {
	return e.opts.FailureModel != "" && e.opts.FailureModel != FailureModelCalibrated
}

// feature is a signal's value as the learned model sees it: a share of its
// limit where there is one.
func feature(v, limit float64) float64 {
	if limit > 0 && !math.IsInf(limit, 0) {
		return v / limit
	}
	return v
}

func nanRow(n int) []float64 {
	r := make([]float64, n)
	for i := range r {
		r[i] = math.NaN()
	}
	return r
}

// maxNaN is the larger of a and b, the other where one is NaN.
func maxNaN(a, b float64) float64 {
	switch {
	case math.IsNaN(a):
		return b
	case math.IsNaN(b):
		return a
	}
	return max(a, b)
}

// observeFeatures appends the entity's features at this evaluation to its
// window and, with a learned model in use, sets its learned probability
// (NaN otherwise). The caller holds e.mu for writing.
func (e *Engine) observeFeatures(st *entityState) {
	st.learnedP = math.NaN()
	if !e.learnedMode() {
		return
	}
	if len(st.rows) != failureModelWindow {
		st.rows = make([][]float64, failureModelWindow)
		for i := range st.rows {
			st.rows[i] = nanRow(len(e.signals) + 2)
		}
		st.filled = 0
	}
	row := st.rows[0]
	copy(st.rows, st.rows[1:])
	st.rows[len(st.rows)-1] = row
	for i := range row {
		row[i] = math.NaN()
	}
	for _, s := range st.members {
		if s.win.n > 0 {
			row[s.member.signal] = maxNaN(row[s.member.signal], feature(s.win.at(s.win.n-1), s.limit))
		}
	}
	row[len(e.signals)], row[len(e.signals)+1] = st.prevCross, st.prevAnom
	st.filled = min(st.filled+1, failureModelWindow)
	if e.fm.use && e.fm.m != nil && st.filled == failureModelWindow && e.fm.m.In == len(row) {
		st.learnedP = e.fm.m.Predict(st.rows)
	}
}

// failureProbability is an entity's failure probability from its evidence:
// the learned model's, where it is in use and has a prediction, else the
// calibration's. The caller holds e.mu.
func (e *Engine) failureProbability(entity string, cross, anom float64) float64 {
	if st := e.entities[entity]; st != nil && !math.IsNaN(st.learnedP) {
		return st.learnedP
	}
	return e.calib.Apply(cross, anom)
}

// failureModelStatus describes the learned failure model; nil when the
// engine uses the calibration only. The caller holds e.mu.
func (e *Engine) failureModelStatus() *FailureModelStatus {
	if !e.learnedMode() {
		return nil
	}
	st := e.fm.status
	if st.Mode == "" {
		st.Mode, st.Note = e.opts.FailureModel, "not trained yet"
	}
	return &st
}
