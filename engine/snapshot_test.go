package engine

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/model"
)

// TestSnapshotRestore checks a restarted engine resumes with the learnt
// calibration and the fitted parameters, and gives the same answers.
func TestSnapshotRestore(t *testing.T) {
	a := newDemoEngine(t, "memory")
	a.Evaluate(context.Background())
	a.mu.Lock()
	a.calib = model.Calibrator{X: []float64{0, 1}, Y: []float64{0.01, 0.5}, N: 100, Positives: 3}
	a.mu.Unlock()
	a.Evaluate(context.Background()) // publish a State with that calibration
	data, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	b := newDemoEngine(t, "memory")
	n, err := b.Restore(data)
	if err != nil || n != 8 {
		t.Fatalf("Restore: %d models, %v", n, err)
	}
	b.Evaluate(context.Background())
	if c := b.Calibration(); c.Examples != 100 || c.Calibrated[1] != 0.5 {
		t.Errorf("calibration not restored: %+v", c)
	}
	ta, tb := a.Targets(), b.Targets()
	for i := range ta[0].Series {
		if pa, pb := ta[0].Series[i].Parameters, tb[0].Series[i].Parameters; pa["alpha"] != pb["alpha"] || pa["gamma"] != pb["gamma"] {
			t.Errorf("series %v: parameters %v after restore, want %v", ta[0].Series[i].Labels, pb, pa)
		}
	}
	fa, _ := a.Failures(0)
	fb, _ := b.Failures(0)
	for i := range fa {
		if fa[i].Entity != fb[i].Entity || fa[i].FailureProbability != fb[i].FailureProbability {
			t.Errorf("%s: %v before, %s: %v after restore", fa[i].Entity, fa[i].FailureProbability, fb[i].Entity, fb[i].FailureProbability)
		}
	}

	for _, bad := range []string{`{`, `{"version":99}`, `{"version":1,"calibration":{"X":[1],"Y":[]}}`} {
		if _, err := newDemoEngine(t, "memory").Restore([]byte(bad)); err == nil || !strings.Contains(err.Error(), "snapshot") {
			t.Errorf("Restore(%s): want a snapshot error, got %v", bad, err)
		}
	}
}

// TestRestartAfterReplay restarts an engine that adopted a calibration
// replay on the same store from its snapshot, as serve does, without
// replaying: the restarted engine knows the replay was done and serves the
// failure probabilities (with the entity channels' scores the replay
// warmed up) the first one served.
func TestRestartAfterReplay(t *testing.T) {
	const signals = "cpu memory connections"
	a := newDemoEngine(t, signals)
	ctx := context.Background()
	a.Evaluate(ctx)
	// Longer than the entity channels' warm-up of 500 evaluations.
	r, err := Replay(ctx, a.opts, demoAnchor.Add(-10*time.Hour), demoAnchor, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.Adopt(ctx, r)
	r.Close()
	a.Evaluate(ctx)
	if a.Replayed().IsZero() {
		t.Fatal("the engine that adopted a replay does not say so")
	}
	data, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}

	b := newDemoEngine(t, signals, Options{Store: a.store, AppendedUntil: demoAnchor})
	if _, err := b.Restore(data); err != nil {
		t.Fatal(err)
	}
	if !b.Replayed().Equal(a.Replayed()) {
		t.Errorf("restored engine replayed until %v, want %v", b.Replayed(), a.Replayed())
	}
	b.Evaluate(ctx)
	fa, _ := a.Failures(0)
	fb, _ := b.Failures(0)
	if len(fa) != len(fb) || len(fa) == 0 {
		t.Fatalf("%d entities before the restart, %d after", len(fa), len(fb))
	}
	warm := 0
	for i := range fa {
		if fa[i].EntityScore > 0 {
			warm++
		}
		if fa[i].Entity != fb[i].Entity || math.Abs(fa[i].FailureProbability-fb[i].FailureProbability) > 1e-9 || fa[i].EntityScore != fb[i].EntityScore {
			t.Errorf("%s: probability %v, entity score %v before the restart; %s: %v, %v after", fa[i].Entity, fa[i].FailureProbability, fa[i].EntityScore, fb[i].Entity, fb[i].FailureProbability, fb[i].EntityScore)
		}
	}
	if warm == 0 {
		t.Error("no entity channel scored before the restart: the replay warmed none up, the test shows nothing")
	}
}
