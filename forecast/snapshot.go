package forecast

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
// and each series' fitted Holt-Winters parameters (an optimisation
// otherwise; with them the first fit only runs the filter).
type snapshot struct {
	Version     int                 `json:"version"`
	Calibration model.Calibrator    `json:"calibration"`
	Models      map[string]hwParams `json:"models"`
}

type hwParams struct {
	Period                  int
	Alpha, Beta, Gamma, Phi float64
}

// Snapshot encodes the engine's learnt state.
func (e *Engine) Snapshot() ([]byte, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	s := snapshot{Version: snapshotVersion, Calibration: e.calib, Models: map[string]hwParams{}}
	for _, sig := range e.signals {
		for key, se := range sig.series {
			if m := se.hw; m != nil {
				s.Models[key] = hwParams{Period: m.Period, Alpha: m.Alpha, Beta: m.Beta, Gamma: m.Gamma, Phi: m.Phi}
			}
		}
	}
	return json.Marshal(s)
}

// Restore loads a Snapshot before Run: the calibration is used at once, and
// the first fit of each series the snapshot knows reuses its parameters.
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

// fixedOptions returns Holt-Winters options that reuse restored parameters
// for the period the history supports, or false.
func (p hwParams) fixedOptions(period int) (model.HoltWintersOptions, bool) {
	if p.Period != period {
		return model.HoltWintersOptions{}, false
	}
	opts := model.HoltWintersOptions{Period: period, Alpha: &p.Alpha, Beta: &p.Beta, Gamma: &p.Gamma}
	if p.Phi < 1 {
		opts.Damped, opts.Phi = true, &p.Phi
	}
	return opts, true
}
