package engine

import (
	"context"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/augur-sre/augur/model"
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

// TestRefitRoundsKeepFullRefit runs a day of hourly refits on eight days
// of history: each series gets one full refit in the day (fullRefitEvery),
// at its staggered turn, which alone replaces its baselines; its regime
// model is refitted at its turns among the six rounds of regimeEvery, its
// forecaster at every round; a series whose last full refit is over a day
// old gets one out of turn.
func TestRefitRoundsKeepFullRefit(t *testing.T) {
	var now atomic.Int64
	demo := steppedDemo(&now, 8*day)
	ctx := context.Background()
	e := steppedDemoEngine(t, demo, 8*day)
	e.Evaluate(ctx)
	type kept struct {
		base, daily *model.Baseline
		regime      *model.RegimeTrend
		fc          model.Forecaster
		fullUpTo    int64
	}
	snap := func() map[string]kept {
		e.mu.RLock()
		defer e.mu.RUnlock()
		m := map[string]kept{}
		for _, s := range e.selectSeries(nil) {
			m[s.key] = kept{s.base, s.daily, s.regime, s.fc, s.fullUpTo}
		}
		return m
	}
	fulls := map[string]int{}
	for i := range 25 {
		before, round := snap(), e.fits.round
		var stale string
		if i == 24 {
			// Out of turn: the last full refit a day and more old.
			e.mu.Lock()
			for _, s := range e.selectSeries(nil) {
				if !turn(s.key, round, 24) {
					stale, s.fullUpTo = s.key, s.fullUpTo-25*time.Hour.Milliseconds()
					break
				}
			}
			e.mu.Unlock()
		}
		now.Add(time.Hour.Milliseconds())
		e.Evaluate(ctx)
		if e.fits.round != round+1 {
			t.Fatalf("round %d after round %d", e.fits.round, round)
		}
		for k, a := range snap() {
			b := before[k]
			full := turn(k, round, 24) || k == stale
			if full && i < 24 {
				fulls[k]++
			}
			switch {
			case a.fc == b.fc:
				t.Errorf("round %d, %s: forecaster not refitted", round, k)
			case full != (a.base != b.base) || full != (a.daily != b.daily) || full != (a.fullUpTo != b.fullUpTo):
				t.Errorf("round %d, %s: full refit %v, but baselines replaced %v %v, fullUpTo %d -> %d", round, k, full, a.base != b.base, a.daily != b.daily, b.fullUpTo, a.fullUpTo)
			case (full || turn(k, round, 6)) != (a.regime != b.regime):
				t.Errorf("round %d, %s: regime model replaced %v, want %v", round, k, a.regime != b.regime, !(a.regime != b.regime))
			}
		}
	}
	for k := range snap() {
		if fulls[k] != 1 {
			t.Errorf("%s: %d full refits in 24 rounds, want 1", k, fulls[k])
		}
	}
}
