package engine

import (
	"encoding/json"
	"fmt"

	"github.com/augur-sre/augur/model"
)

// snapshotVersion changes whenever the snapshot's meaning does; a snapshot
// of another version is refused rather than misread.
const snapshotVersion = 1

// snapshot is what a restart needs to resume without fitting from scratch:
// the calibration learnt from incidents (a replay of the history otherwise),
// each series' chosen model (a backtest of every candidate otherwise;
// with it the first fit fits that model only) and the learned failure
// model, when one was trained (a training otherwise).
type snapshot struct {
	Version      int               `json:"version"`
	Calibration  model.Calibrator  `json:"calibration"`
	Models       map[string]string `json:"models"`
	FailureModel *learnedSnapshot  `json:"failure_model,omitempty"`
}

// learnedSnapshot is the learned failure model and whether it is in use.
type learnedSnapshot struct {
	State  model.FailureModelState `json:"state"`
	Status FailureModelStatus      `json:"status"`
}

// Snapshot encodes the engine's learnt state.
func (e *Engine) Snapshot() ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s := snapshot{Version: snapshotVersion, Calibration: e.calib, Models: map[string]string{}}
	if e.fm.m != nil {
		s.FailureModel = &learnedSnapshot{State: e.fm.m.State(), Status: e.fm.status}
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

// Restore loads a Snapshot before Run: the calibration is used at once, and
// the first fit of each series the snapshot knows fits its chosen model only.
// It returns how many series' models the snapshot holds.
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
	if l := s.FailureModel; l != nil && e.learnedMode() {
		var err error
		if fm, err = model.NewFailureModelFromState(l.State); err != nil {
			return 0, fmt.Errorf("engine snapshot: %w", err)
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calib = s.Calibration
	e.restored = s.Models
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
