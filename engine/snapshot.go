package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/augur-sre/augur/model"
)

// snapshotVersion changes whenever the snapshot's meaning does; a snapshot
// of another version is refused rather than misread.
const snapshotVersion = 1

// snapshot is what a restart needs to resume without fitting from scratch:
// the calibration learnt from incidents and the end of the calibration
// replay it adopted, if any (a replay of the history otherwise), each
// series' chosen model (a backtest of every candidate otherwise; with it
// the first fit fits that model only), the entities' multivariate channels
// (a warm-up of EntityOptions.Warmup evaluations otherwise) and the
// learned failure model, when one was trained (a training otherwise). The
// past failure probabilities a replay recorded are in the TSDB, where the
// calibration's refits read them.
type snapshot struct {
	Version      int                       `json:"version"`
	Calibration  model.Calibrator          `json:"calibration"`
	Replayed     time.Time                 `json:"replayed,omitzero"`
	Models       map[string]string         `json:"models"`
	Entities     map[string]entitySnapshot `json:"entities,omitempty"`
	FailureModel *learnedSnapshot          `json:"failure_model,omitempty"`
}

// entitySnapshot is an entity's channel: its members' series keys, in the
// detector's order, and what the channel has learnt and last scored.
type entitySnapshot struct {
	Members  []string                  `json:"members"`
	Detector model.EntityDetectorState `json:"detector"`
	Score    float64                   `json:"score"`
	Shares   []float64                 `json:"shares"`
	Updated  int64                     `json:"updated"`
}

// learnedSnapshot is the learned failure model and whether it is in use.
// The model's state is decoded on its own, so that a state of another
// layout (model.FailureModelState's version) is refused, and the model
// retrained, without the rest of the snapshot.
type learnedSnapshot struct {
	State  json.RawMessage    `json:"state"`
	Status FailureModelStatus `json:"status"`
}

// Snapshot encodes the engine's learnt state.
func (e *Engine) Snapshot() ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s := snapshot{Version: snapshotVersion, Calibration: e.calib, Replayed: e.replayed, Models: map[string]string{}, Entities: map[string]entitySnapshot{}}
	for name, st := range e.entities {
		if st.det == nil {
			continue
		}
		es := entitySnapshot{Detector: st.det.State(), Score: st.score, Shares: st.shares, Updated: st.updated}
		for _, m := range st.members {
			es.Members = append(es.Members, m.key)
		}
		s.Entities[name] = es
	}
	if e.fm.m != nil {
		state, err := json.Marshal(e.fm.m.State())
		if err != nil {
			return nil, fmt.Errorf("cannot encode the failure model: %w", err)
		}
		s.FailureModel = &learnedSnapshot{State: state, Status: e.fm.status}
	}
	for _, sig := range e.signals {
		for key, se := range sig.series {
			if se.fc != nil {
				s.Models[key] = se.sel.Model
			}
		}
	}
	return json.Marshal(s)
}

// Restore loads a Snapshot before Run: the calibration is used at once,
// the first fit of each series the snapshot knows fits its chosen model
// only, and an entity whose series are the snapshot's, in the same order,
// resumes its channel. It returns how many series' models the snapshot
// holds.
func (e *Engine) Restore(data []byte) (int, error) {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return 0, fmt.Errorf("cannot decode engine snapshot: %w", err)
	}
	if s.Version != snapshotVersion {
		return 0, fmt.Errorf("engine snapshot has version %d, want %d", s.Version, snapshotVersion)
	}
	if len(s.Calibration.X) != len(s.Calibration.Y) {
		return 0, fmt.Errorf("engine snapshot: calibration has %d points and %d values", len(s.Calibration.X), len(s.Calibration.Y))
	}
	var fm *model.FailureModel
	var refused error
	if l := s.FailureModel; l != nil && e.learnedMode() {
		var st model.FailureModelState
		refused = json.Unmarshal(l.State, &st)
		if refused == nil {
			fm, refused = model.NewFailureModelFromState(st)
		}
		if refused != nil {
			e.logger.Warn("the snapshot's failure model is refused; it will be retrained", "err", refused)
		}
	}
	entities := make(map[string]restoredChannel, len(s.Entities))
	for name, es := range s.Entities {
		det, err := model.NewEntityDetectorFromState(model.EntityOptions{}, es.Detector)
		if err == nil && (len(es.Members) != len(es.Detector.Smoothed) || len(es.Shares) != len(es.Members)) {
			err = fmt.Errorf("%d members, %d signals and %d shares", len(es.Members), len(es.Detector.Smoothed), len(es.Shares))
		}
		if err != nil {
			return 0, fmt.Errorf("engine snapshot: entity %q: %w", name, err)
		}
		entities[name] = restoredChannel{members: es.Members, ch: &entityState{det: det, z: make([]float64, len(es.Members)), score: es.Score, shares: es.Shares, updated: es.Updated}}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// The past the snapshot's engine served is taken as served by its
	// last calibration.
	e.calibs = nil
	e.setCalibration(s.Calibration, math.MinInt64)
	e.replayed = s.Replayed
	e.restored = s.Models
	e.restoredEntities = entities
	if refused != nil {
		e.fm.status = FailureModelStatus{Mode: e.opts.FailureModel, Note: fmt.Sprintf("not trained yet: the snapshot's model was refused (%v)", refused)}
	}
	if fm != nil {
		st := s.FailureModel.Status
		// auto decided on the held-out comparison; lstm uses any model.
		use := st.InUse || e.opts.FailureModel == FailureModelLSTM
		st.Mode, st.InUse = e.opts.FailureModel, use
		e.fm.m, e.fm.use, e.fm.status = fm, use, st
		if st.Trained != nil {
			e.fm.trainedAt = st.Trained.UnixMilli()
		}
	}
	return len(s.Models), nil
}
