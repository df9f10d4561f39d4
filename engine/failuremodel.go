package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// The values of Options.FailureModel.
const (
	// FailureModelCalibrated maps the evidence through the isotonic
	// calibration (calibrate) only.
	FailureModelCalibrated = "calibrated"
	// FailureModelLSTM uses the learned model (model.FailureModel, a
	// correction of the calibration's logit) once it is trained.
	FailureModelLSTM = "lstm"
	// FailureModelAuto uses the learned model where its correction's
	// weight α is above 0 and its held-out Brier score beats the
	// calibration's on the same steps.
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
	// Incidents is the number of incidents the model trained on; Epochs
	// the training epoch whose weights each of its networks kept (0: none
	// beat the calibration on the validation part, and the network's
	// correction is 0); Alpha the weight of their mean correction, chosen
	// on the held-out part (0: the model is the calibration), where
	// LogLoss is its mean log loss, CalibratedLogLoss the calibration's
	// and FullLogLoss the model's at α = 1; HeldOut the held-out steps it
	// was compared on, where Brier is its Brier score, CalibratedBrier the
	// calibration's and BaseRateBrier the training part's base rate's.
	Incidents         int
	Epochs            []int
	Alpha             float64
	LogLoss           *float64
	CalibratedLogLoss *float64
	FullLogLoss       *float64
	HeldOut           int
	Brier             *float64
	CalibratedBrier   *float64
	BaseRateBrier     *float64
	TrainSeconds      float64
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

// learnedFleet is what training the learned failure model reads of the
// engine under its lock: the entities, their series, the calibrations
// in use over the History and the incidents known.
type learnedFleet struct {
	names     []string
	members   [][]learnedMember
	calibs    []datedCalibration
	incidents []ingest.Incident
}

// learnedMember is one series of an entity, for reading its history.
type learnedMember struct {
	l      labels.Labels
	signal int
	limit  float64
}

// fleet returns the entities, their series, the calibrations and the
// known failures. The caller holds e.mu.
func (e *Engine) fleet() learnedFleet {
	f := learnedFleet{calibs: slices.Clone(e.calibs), incidents: failures(e.incidents)}
	// In name order: the samples' order, and so the training, does not
	// depend on the map's.
	for _, name := range slices.Sorted(maps.Keys(e.entities)) {
		st := e.entities[name]
		f.names = append(f.names, name)
		var ms []learnedMember
		for _, s := range st.members {
			ms = append(ms, learnedMember{l: s.refs.labels[0], signal: s.member.signal, limit: s.limit})
		}
		f.members = append(f.members, ms)
	}
	return f
}

// trainFailureModel trains the learned failure model on the fleet's
// histories (learnedHistories) when incidents have become known since
// the last training. With wait it trains before returning (a replay);
// otherwise in the background, the result installed when done. A
// training takes tens of seconds (BenchmarkTrainFailureModelOnDemo).
func (e *Engine) trainFailureModel(ctx context.Context, wait bool) {
	if !e.learnedMode() {
		return
	}
	e.mu.Lock()
	fl := e.fleet()
	fresh := 0
	for _, inc := range fl.incidents {
		if inc.Start.UnixMilli() > e.fm.trainedAt {
			fresh++
		}
	}
	if e.fm.busy || e.fm.m != nil && fresh < retrainIncidents {
		e.mu.Unlock()
		return
	}
	e.fm.busy = true
	e.mu.Unlock()

	train := func() {
		began := time.Now()
		end := e.alignDown(e.now())
		var m *model.FailureModel
		hist, err := e.learnedHistories(ctx, fl, end)
		if err == nil {
			o := e.opts.Learned
			o.Window, o.Horizon = failureModelWindow, e.horizon
			m, err = model.TrainFailureModel(hist, o)
		}
		st := FailureModelStatus{Mode: e.opts.FailureModel, TrainSeconds: time.Since(began).Seconds()}
		use := false
		if err == nil {
			at := time.UnixMilli(end).UTC()
			st.Trained, st.Incidents, st.Epochs, st.Alpha, st.HeldOut = &at, m.Incidents, m.Epochs, m.Alpha, len(m.HeldOut)
			st.LogLoss, st.CalibratedLogLoss, st.FullLogLoss = finitePtr(m.Loss), finitePtr(m.BaseLoss), finitePtr(m.FullLoss)
			st.Brier, st.CalibratedBrier, st.BaseRateBrier = finitePtr(m.Brier), finitePtr(m.BaseBrier), finitePtr(m.BaseRateBrier)
			use = e.opts.FailureModel == FailureModelLSTM || m.Alpha > 0 && m.Brier < m.BaseBrier
			switch {
			case slices.Max(m.Epochs) == 0:
				st.Note = "α = 0, the calibration: no network's correction beat it on the validation part by more than a standard error (each kept epoch 0)"
			case m.Alpha == 0:
				st.Note = fmt.Sprintf("α = 0, the calibration: the networks' correction does not beat it on the held-out part by more than a standard error (log loss %.6f at full weight against its %.6f)", m.FullLoss, m.BaseLoss)
			case !use:
				st.Note = fmt.Sprintf("held-out Brier %.6f does not beat the calibration's %.6f", m.Brier, m.BaseBrier)
			}
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
		if err != nil {
			e.logger.Debug("cannot train the failure model yet", "err", err)
			return
		}
		e.logger.Info("trained the failure model", "at", st.Trained, "in_use", use, "incidents", st.Incidents, "epochs", st.Epochs, "alpha", st.Alpha, "held_out", st.HeldOut,
			"brier", m.Brier, "calibrated_brier", m.BaseBrier, "log_loss", m.Loss, "calibrated_log_loss", m.BaseLoss, "full_log_loss", m.FullLoss, "seconds", st.TrainSeconds)
	}
	if wait {
		train()
		return
	}
	go train()
}

// learnedHistories reads the fleet's histories over the History before
// end for the learned model from the TSDB: each entity's signals, one
// feature per signal (the entity's highest value of it as a share of its
// limit, or the value where there is no limit), and the crossing
// probability and anomaly evidence of the evaluation before, NaN where
// none was recorded; as the probability the model corrects, the
// calibration in use at each step (calibrationAt) applied to the evidence
// recorded there, the probability the calibrated path served, so only the
// steps an evaluation recorded are samples; labelled by the known
// incidents.
func (e *Engine) learnedHistories(ctx context.Context, fl learnedFleet, end int64) ([]model.FailureHistory, error) {
	start := end - e.opts.History.Milliseconds() + e.step
	n := int((end-start)/e.step) + 1
	eh, err := e.failureHistory(ctx, start, end)
	if err != nil {
		return nil, fmt.Errorf("cannot read the recorded evidence: %w", err)
	}
	evidence := map[string][]ProbabilityPoint{}
	for _, h := range eh {
		evidence[h.Entity] = h.Points
	}
	hist := make([]model.FailureHistory, len(fl.names))
	var ts []int64
	var ys []float64
	for i, ms := range fl.members {
		f := make([][]float64, n)
		for t := range f {
			f[t] = nanRow(len(e.signals) + 2)
		}
		for _, m := range ms {
			if ts, ys, err = e.readHistory(ctx, ts[:0], ys[:0], m.l); err != nil {
				continue
			}
			for k, t := range ts {
				if j := int((t - start) / e.step); j >= 0 && j < n {
					f[j][m.signal] = maxNaN(f[j][m.signal], feature(ys[k], m.limit))
				}
			}
		}
		hist[i].Features, hist[i].Base = f, nanRow(n)
		for _, p := range evidence[fl.names[i]] {
			j := int((p.T - start) / e.step)
			if j >= 0 && j < n {
				hist[i].Base[j] = calibrationAt(fl.calibs, p.T).Apply(p.Cross, p.Anom)
			}
			// A row holds the evidence of the evaluation before it, as
			// observeFeatures sees it.
			if j++; j >= 0 && j < n {
				f[j][len(e.signals)], f[j][len(e.signals)+1] = p.Cross, p.Anom
			}
		}
		for _, inc := range fl.incidents {
			if inc.Entity != fl.names[i] {
				continue
			}
			s := int((inc.Start.UnixMilli() - start) / e.step)
			en := max(int((inc.End.UnixMilli()-start)/e.step), s+1)
			if en > 0 && s < n {
				hist[i].Incidents = append(hist[i].Incidents, model.StepSpan{Start: max(s, 0), End: min(en, n)})
			}
		}
	}
	return hist, nil
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
// window and, with a learned model in use, sets its learned correction
// (NaN otherwise). The caller holds e.mu for writing.
func (e *Engine) observeFeatures(st *entityState) {
	st.correction = math.NaN()
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
		st.correction = e.fm.m.Correction(st.rows)
	}
}

// failureProbability is an entity's failure probability from its evidence:
// the calibration's, corrected by the learned model where it is in use
// and has a prediction. The caller holds e.mu.
func (e *Engine) failureProbability(entity string, cross, anom float64) float64 {
	p := e.calib.Apply(cross, anom)
	if st := e.entities[entity]; st != nil && !math.IsNaN(st.correction) {
		return model.Correct(p, st.correction)
	}
	return p
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
