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
// the calibration learnt from incidents (a replay of the history otherwise)
// and each series' chosen model (a backtest of every candidate otherwise;
// with it the first fit fits that model only).
type snapshot struct {
	Version     int               `json:"version"`
	Calibration model.Calibrator  `json:"calibration"`
	Models      map[string]string `json:"models"`
}

// Snapshot encodes the engine's learnt state.
func (e *Engine) Snapshot() ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s := snapshot{Version: snapshotVersion, Calibration: e.calib, Models: map[string]string{}}
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
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calib = s.Calibration
	e.restored = s.Models
	return len(s.Models), nil
}
