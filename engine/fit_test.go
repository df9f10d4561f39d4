package engine

import (
	"math"
	"testing"
	"time"
)

// TestRunInstallsBetweenEvaluations queues installEvery fit results on a
// running engine, between two evaluations an hour apart: Run installs them
// at once, without an evaluation (the State stays the one published), so
// that a refit's new models do not wait beside the old ones.
func TestRunInstallsBetweenEvaluations(t *testing.T) {
	e := demoEngine(t)
	st := e.State()
	e.mu.RLock()
	s := e.selectSeries(nil)[0]
	r := fitResult{s: s, fc: s.fc, sel: s.sel, base: s.base, daily: s.daily, regime: s.regime, period: s.period, points: s.points, upTo: math.MaxInt64, took: 42 * time.Hour}
	e.mu.RUnlock()
	for range installEvery - 1 {
		e.fits.add(r)
	}
	installed := func() bool {
		e.mu.RLock()
		defer e.mu.RUnlock()
		return s.fitTook == r.took
	}
	time.Sleep(100 * time.Millisecond)
	if installed() {
		t.Fatalf("installed with %d results waiting, fewer than installEvery", installEvery-1)
	}
	e.fits.add(r)
	for deadline := time.Now().Add(10 * time.Second); !installed(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d results not installed within 10 s", installEvery)
		}
	}
	if e.State() != st {
		t.Error("an evaluation ran to install the results")
	}
}
