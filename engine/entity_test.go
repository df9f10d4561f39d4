package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/model"
)

// writePairCSV writes one entity's two signals a and b at a five-minute
// step: a daily cycle and a common AR(1) factor f, with independent noise
// of a tenth of f's. From breakAt on, b follows −2f: each signal alone
// stays within its usual range and moves as much as before, but the two
// no longer move together.
func writePairCSV(t *testing.T, dir string, start time.Time, steps, breakAt int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 15))
	var b strings.Builder
	b.WriteString("timestamp,a,b\n")
	f := 0.0
	for i := range steps {
		ts := start.Add(time.Duration(i) * 5 * time.Minute)
		f = 0.9*f + rng.NormFloat64()
		cycle := 10 * math.Sin(2*math.Pi*float64(ts.Unix()%86400)/86400)
		gain := 1.0
		if i >= breakAt {
			gain = -2
		}
		fmt.Fprintf(&b, "%d,%.4f,%.4f\n", ts.Unix(), 50+cycle+3*f+0.3*rng.NormFloat64(), 30+cycle+3*gain*f+0.3*rng.NormFloat64())
	}
	if err := os.WriteFile(filepath.Join(dir, "host-1.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestEntityChannelSeesBrokenCorrelation replays an entity whose two
// signals stop moving together and checks that its multivariate channel
// flows into the failure probability's evidence: the entity score was
// seldom extreme before the break, is extreme after it, the anomaly
// evidence is model.EntityAnomalyPrior of the signals' scores and the
// entity score, and the factors name b, whose residuals carry most of the
// departure, first.
func TestEntityChannelSeesBrokenCorrelation(t *testing.T) {
	dir := t.TempDir()
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const steps, breakAt = 5 * 288, 5*288 - 24
	writePairCSV(t, dir, start, steps, breakAt)
	src, err := ingest.NewCSVSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	var sigs []Signal
	for _, c := range []string{"a", "b"} {
		sigs = append(sigs, Signal{Name: c, SourceName: "files", Source: src, Query: c, Entity: "file", Limit: math.NaN()})
	}
	opts := Options{Signals: sigs, Step: 5 * time.Minute, History: 2 * day, Horizon: time.Hour, RefitInterval: day}
	replayFrom := start.Add(2 * day)
	breakTime := start.Add(breakAt * 5 * time.Minute)
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	sim := replayFrom
	e.opts.Now = func() time.Time { return sim }
	warm := replayFrom.Add(time.Duration(model.EntityOptions{}.Warmup+500) * opts.Step)
	extreme, normal := 0, 0
	var last EntityRisk
	for ; sim.Before(src.Now().Add(opts.Step)); sim = sim.Add(opts.Step) {
		e.Evaluate(context.Background())
		st := e.State()
		if len(st.Entities) != 1 {
			t.Fatalf("%s: %d entities, want 1", sim, len(st.Entities))
		}
		last = st.Entities[0]
		if sim.After(warm) && sim.Before(breakTime) {
			normal++
			if last.EntityScore > 0.999 {
				extreme++
			}
		}
	}
	if normal < 100 || extreme > normal/100 {
		t.Errorf("entity score above 0.999 at %d of %d evaluations before the break, want at most 1 %%", extreme, normal)
	}
	if last.EntityScore < 0.999 {
		t.Errorf("entity score %.6f after the break, want above 0.999", last.EntityScore)
	}
	var scores []float64
	shares := 0.0
	for _, f := range last.Factors {
		scores = append(scores, f.AnomalyScore)
		shares += f.EntityShare
	}
	if want := model.EntityAnomalyPrior(scores, last.EntityScore); math.Abs(last.AnomalyEvidence-want) > 1e-12 {
		t.Errorf("anomaly evidence %v, want %v from the signals' scores %v and the entity score %v", last.AnomalyEvidence, want, scores, last.EntityScore)
	}
	if math.Abs(shares-1) > 1e-9 {
		t.Errorf("entity shares sum to %v, want 1", shares)
	}
	if len(last.Factors) != 2 || last.Factors[0].Signal != "b" || last.Factors[0].EntityShare < 0.6 {
		t.Errorf("factors %+v, want b first with most of the entity's share", last.Factors)
	}

	// A live engine that adopts the replay serves its warmed channel at
	// once, where its own would score 0 for the warm-up.
	live, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	live.opts.Now = func() time.Time { return sim }
	live.Evaluate(context.Background())
	live.Adopt(context.Background(), e)
	live.Evaluate(context.Background())
	if got := live.State().Entities[0].EntityScore; got < 0.999 {
		t.Errorf("entity score %.6f after adopting the replay's channel, want above 0.999", got)
	}
}

// BenchmarkUpdateEntities steps the channels of 1,000 entities of three
// series each once, as one evaluation does: it must not allocate.
func BenchmarkUpdateEntities(b *testing.B) {
	e := &Engine{entities: map[string]*entityState{}}
	rng := rand.New(rand.NewPCG(1, 2))
	var all []*series
	for i := range 1000 {
		for j := range 3 {
			s := &series{entity: fmt.Sprintf("host-%d", i), key: fmt.Sprint(i, j)}
			e.joinEntity(s)
			all = append(all, s)
		}
	}
	e.updateEntities() // the channels' first step allocates them
	b.ReportAllocs()
	t := int64(0)
	for b.Loop() {
		t++
		for _, s := range all {
			s.member.resid, s.member.residT = rng.NormFloat64(), t
		}
		e.updateEntities()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/entity")
}

// demoFleetOptions are the engine options of the demo fleet (its cpu,
// memory and connections with their limits, a one-hour horizon, daily
// refits), its scripted failures the incidents, anchored at anchor: the
// demo's data as the simulated clock sim reads it.
func demoFleetOptions(anchor time.Time, step, history time.Duration, sim *time.Time) Options {
	demo := ingest.NewDemo(ingest.DemoOptions{Start: anchor, History: history, Clock: func() time.Time { return *sim }})
	var sigs []Signal
	for _, name := range []string{"cpu", "memory", "connections"} {
		s := Signal{Name: name, SourceName: "demo", Source: demo, Query: name, Entity: "host", Limit: 100}
		if name == "connections" {
			s.Limit, s.LimitQuery = math.NaN(), "max_connections"
		}
		sigs = append(sigs, s)
	}
	return Options{Signals: sigs, Step: step, History: history, Horizon: time.Hour, RefitInterval: day, Incidents: demo}
}

// TestLearnedFailureModelServes replays a week of the demo fleet (at a
// five-minute step, for the test's time) with the learned failure model (a
// small LSTM), which trains on the evidence the replay recorded and the
// scripted failures, and checks that once an entity's window of features
// is full its failure probability is the calibration's corrected by the
// model, that the targets report the model in use, and that a restart
// restores the model from the snapshot.
func TestLearnedFailureModelServes(t *testing.T) {
	anchor := time.Date(2026, 1, 19, 0, 0, 0, 0, time.UTC)
	var sim time.Time
	opts := demoFleetOptions(anchor.Add(-7*day), 5*time.Minute, 7*day, &sim)
	opts.FailureModel = FailureModelLSTM
	opts.Learned = model.FailureModelOptions{MinIncidents: 3, LSTM: model.LSTMOptions{Hidden1: 8, Hidden2: 4, Epochs: 3, Seed: 1}}
	e, err := Replay(context.Background(), opts, anchor.Add(-7*day), anchor, func(t time.Time) { sim = t }, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	fm := e.Calibration().FailureModel
	if fm == nil || fm.Trained == nil || !fm.InUse || fm.Incidents < 3 || fm.HeldOut == 0 || fm.Brier == nil || fm.CalibratedBrier == nil {
		t.Fatalf("failure model %+v, want trained, compared and in use", fm)
	}
	t.Logf("failure model: epochs %v, weight α %v, held-out Brier %.6f against the calibration's %.6f (%s)", fm.Epochs, fm.Alpha, *fm.Brier, *fm.CalibratedBrier, fm.Note)
	st := e.State()
	if len(st.Entities) == 0 {
		t.Fatal("no entities")
	}
	corrected := 0
	for _, r := range st.Entities {
		es := e.entities[r.Entity]
		if math.IsNaN(es.correction) {
			t.Errorf("%s: no correction from the learned model", r.Entity)
			continue
		}
		if es.correction != 0 {
			corrected++
		}
		if want := model.Correct(e.calib.Apply(r.CrossingProbability, r.AnomalyEvidence), es.correction); r.FailureProbability != want {
			t.Errorf("%s: failure probability %v, want the corrected calibration's %v", r.Entity, r.FailureProbability, want)
		}
		if r.FailureProbability < 0 || r.FailureProbability > 1 {
			t.Errorf("%s: failure probability %v outside [0,1]", r.Entity, r.FailureProbability)
		}
	}
	if corrected == 0 {
		t.Error("the learned model corrects no entity's probability: the test shows no prediction from it")
	}

	// A restart restores the model from the snapshot instead of training
	// it, and it corrects as the trained one did.
	data, err := e.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.Restore(data); err != nil {
		t.Fatal(err)
	}
	if got := b.Calibration().FailureModel; got == nil || !got.InUse || got.Trained == nil || !got.Trained.Equal(*fm.Trained) || !slices.Equal(got.Epochs, fm.Epochs) || got.Alpha != fm.Alpha {
		t.Fatalf("restored failure model %+v, want the one trained at %v in use", got, fm.Trained)
	}
	for name, es := range e.entities {
		if got := b.fm.m.Correction(es.rows); got != es.correction {
			t.Errorf("%s: restored model corrects by %v, the trained one by %v", name, got, es.correction)
		}
	}

	// A snapshot whose failure model has the layout before the weight α
	// (one network's Params, no Version) restores all but the model,
	// which is retrained.
	var snap map[string]json.RawMessage
	if err := json.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	snap["failure_model"] = json.RawMessage(`{"state": {"Kind": "logit-correction", "In": 5, "Window": 30, "Epoch": 1, "Hidden1": 8, "Hidden2": 4, "Params": [0.5]}, "status": {"Mode": "lstm", "InUse": true, "Epoch": 1}}`)
	old, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Restore(old); err != nil {
		t.Fatalf("a snapshot with an old failure model is refused: %v", err)
	}
	if got := c.Calibration(); c.fm.m != nil || got.FailureModel == nil || got.FailureModel.InUse || !strings.Contains(got.FailureModel.Note, "version 1") || got.Examples != e.Calibration().Examples {
		t.Errorf("restored from an old failure model: model %v, calibration %+v, failure model %+v; want no model, the reason and the snapshot's calibration", c.fm.m, got, got.FailureModel)
	}
}

// BenchmarkTrainFailureModelOnDemo trains the learned failure model (the
// seed's LSTM, 64/32 units, the defaults of model.FailureModelOptions) on
// the demo's fortnight at its one-minute step, as augur evaluate's replay
// does at its end: the histories the engine reads from its TSDB after a
// calibrated replay of the fortnight (not timed), and the training. It
// reports the held-out Brier scores of the model, of the calibration it
// corrects and of the base rate, the weight α and each network's epoch
// kept.
func BenchmarkTrainFailureModelOnDemo(b *testing.B) {
	anchor := time.Date(2026, 1, 19, 0, 0, 0, 0, time.UTC)
	var sim time.Time
	opts := demoFleetOptions(anchor.Add(-14*day), time.Minute, 14*day, &sim)
	e, err := Replay(context.Background(), opts, anchor.Add(-14*day), anchor, func(t time.Time) { sim = t }, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	e.mu.Lock()
	fl := e.fleet()
	e.mu.Unlock()
	o := model.FailureModelOptions{Window: failureModelWindow, Horizon: e.horizon}
	b.ReportAllocs()
	var m *model.FailureModel
	for b.Loop() {
		hist, err := e.learnedHistories(context.Background(), fl, e.alignDown(e.now()))
		if err != nil {
			b.Fatal(err)
		}
		if m, err = model.TrainFailureModel(hist, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(m.Brier, "brier")
	b.ReportMetric(m.BaseBrier, "calibrated-brier")
	b.ReportMetric(m.BaseRateBrier, "base-rate-brier")
	b.ReportMetric(m.Alpha, "alpha")
	for k, ep := range m.Epochs {
		b.ReportMetric(float64(ep), fmt.Sprintf("epoch-%d", k))
	}
	b.ReportMetric(float64(m.Incidents), "train-incidents")
}
