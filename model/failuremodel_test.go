package model

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// precursorFleet returns entities whose incidents are announced by a ramp
// of feature 1 over the lead steps before them (none for lead 0); the
// other features are noise, and incidents start every 150 to 450 steps
// and last 20. Its base probability is the constant 0.05: a base blind to
// the precursor.
func precursorFleet(seed uint64, entities, steps, in, lead int) []FailureHistory {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([]FailureHistory, entities)
	for e := range out {
		h := &out[e]
		for t := 150 + rng.IntN(300); t+20 < steps; t += 150 + rng.IntN(300) {
			h.Incidents = append(h.Incidents, StepSpan{t, t + 20})
		}
		h.Features = make([][]float64, steps)
		h.Base = make([]float64, steps)
		for t := range h.Features {
			f := make([]float64, in)
			for j := range f {
				f[j] = 50 + 10*rng.NormFloat64()
			}
			for _, inc := range h.Incidents {
				if d := inc.Start - t; d > 0 && d <= lead {
					f[1] += 40 * float64(lead-d) / float64(lead)
				}
			}
			h.Features[t] = f
			h.Base[t] = 0.05
		}
	}
	return out
}

// heldOutMeans returns the mean held-out probability before incidents and
// elsewhere.
func heldOutMeans(t *testing.T, m *FailureModel) (pos, neg float64) {
	t.Helper()
	var npos, nneg int
	for _, h := range m.HeldOut {
		if !(h.P >= 0 && h.P <= 1) {
			t.Fatalf("held-out probability %v outside [0,1]", h.P)
		}
		if h.Failed {
			pos, npos = pos+h.P, npos+1
		} else {
			neg, nneg = neg+h.P, nneg+1
		}
	}
	return pos / float64(npos), neg / float64(nneg)
}

// On a base blind to a precursor, the correction learns it.
func TestFailureModelLearnsPrecursor(t *testing.T) {
	hist := precursorFleet(1, 4, 3000, 3, 30)
	hist[0].Features[100][2] = math.NaN() // a missing value is the mean
	hist[1].Base[200] = math.NaN()        // no sample ends where the base is unknown
	m, err := TrainFailureModel(hist, FailureModelOptions{Window: 10, Horizon: 20, MaxSamples: 600,
		LSTM: LSTMOptions{Hidden1: 8, Hidden2: 4, Epochs: 15, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if slices.Max(m.Epochs) == 0 || m.Alpha == 0 {
		t.Fatalf("epochs %v kept, weight %v: the model is the base", m.Epochs, m.Alpha)
	}
	if !(m.Loss < m.BaseLoss) {
		t.Errorf("held-out log loss %.4f at α = %v, the base's %.4f", m.Loss, m.Alpha, m.BaseLoss)
	}
	if !(m.Brier < 0.7*m.BaseBrier) {
		t.Errorf("held-out Brier %.4f, the base's %.4f: want the model clearly better", m.Brier, m.BaseBrier)
	}
	if pos, neg := heldOutMeans(t, m); !(pos > 0.3 && neg < 0.1) {
		t.Errorf("mean held-out probability %.3f before incidents, %.3f elsewhere", pos, neg)
	}
	// Correction on the last steps of a history gives the held-out
	// prediction at its last step.
	last := m.HeldOut[len(m.HeldOut)-1]
	steps := hist[last.Entity].Features[:last.Step+1]
	if p := Correct(last.Base, m.Correction(steps)); math.Abs(p-last.P) > 1e-12 {
		t.Errorf("Correct(base, Correction) %v, held-out prediction %v at the same step", p, last.P)
	}
	// A model restored from its state predicts what it did, through JSON
	// as the engine's snapshot stores it.
	data, err := json.Marshal(m.State())
	if err != nil {
		t.Fatal(err)
	}
	var st FailureModelState
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	r, err := NewFailureModelFromState(st)
	if err != nil {
		t.Fatal(err)
	}
	if p := Correct(last.Base, r.Correction(steps)); p != last.P {
		t.Errorf("restored model predicts %v, the trained one %v", p, last.P)
	}
	for name, mutate := range map[string]func(*FailureModelState){
		"a weight missing": func(s *FailureModelState) {
			s.Networks = slices.Clone(s.Networks)
			s.Networks[0] = s.Networks[0][1:]
		},
		"an epoch missing":     func(s *FailureModelState) { s.Epochs = s.Epochs[1:] },
		"a weight α above 1":   func(s *FailureModelState) { s.Alpha = 1.5 },
		"another kind":         func(s *FailureModelState) { s.Kind = "" },
		"the version before α": func(s *FailureModelState) { s.Version = 0 },
	} {
		bad := st
		mutate(&bad)
		if _, err := NewFailureModelFromState(bad); err == nil {
			t.Errorf("a state with %s was restored", name)
		}
	}
}

// Where the features say nothing the base does not, the model stays with
// the base: its held-out Brier is no worse, and it is calibrated (the mean
// prediction near the rate of positives), although it trained on every
// positive and few negatives.
func TestFailureModelKeepsAGoodBase(t *testing.T) {
	hist := precursorFleet(2, 4, 3000, 2, 0)
	for _, h := range hist {
		for t := range h.Base {
			h.Base[t] = 0.01
			if nextIncident(h.Incidents, t, 20) >= 0 {
				h.Base[t] = 0.8
			}
		}
	}
	m, err := TrainFailureModel(hist, FailureModelOptions{Window: 10, Horizon: 20, MaxSamples: 300,
		LSTM: LSTMOptions{Hidden1: 8, Hidden2: 4, Epochs: 10, Seed: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if m.Brier > 1.05*m.BaseBrier {
		t.Errorf("held-out Brier %.5f, the base's %.5f: the model made a good base worse", m.Brier, m.BaseBrier)
	}
	var mean, rate float64
	for _, h := range m.HeldOut {
		mean += h.P
		if h.Failed {
			rate++
		}
	}
	mean /= float64(len(m.HeldOut))
	rate /= float64(len(m.HeldOut))
	if mean < rate/1.5 || mean > 1.5*rate {
		t.Errorf("mean held-out probability %.4f, held-out rate of positives %.4f", mean, rate)
	}
}

// drawNegatives' weights make an unbiased sample: the weights sum to about
// the number of negatives, and the hard negatives are drawn more often.
func TestDrawNegatives(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	ss := make([]failureSample, 20000)
	for i := range ss {
		p := 0.001
		if i%100 == 0 {
			p = 0.5
		}
		ss[i] = failureSample{base: logit(p), w: 1}
	}
	got := drawNegatives(ss, 1000, rng)
	var w float64
	hard := 0
	for _, s := range got {
		w += s.w
		if sigm(s.base) > 0.1 {
			hard++
		}
	}
	if math.Abs(float64(len(got))-1000) > 100 {
		t.Errorf("drew %d, want about 1000", len(got))
	}
	if math.Abs(w-20000) > 0.1*20000 {
		t.Errorf("weights sum to %.0f, want about 20000", w)
	}
	if hard != 200 {
		t.Errorf("%d of the 200 hard negatives drawn, want all (π = 1)", hard)
	}
}

func TestFailureModelErrors(t *testing.T) {
	few := precursorFleet(3, 1, 900, 2, 30)
	if _, err := TrainFailureModel(few, FailureModelOptions{MinIncidents: 5}); !errors.Is(err, ErrFewIncidents) {
		t.Errorf("%d incidents: error %v, want ErrFewIncidents", len(few[0].Incidents), err)
	}
	unknown := precursorFleet(3, 4, 3000, 2, 30)
	for _, h := range unknown {
		for t := range h.Base {
			h.Base[t] = math.NaN()
		}
	}
	if _, err := TrainFailureModel(unknown, FailureModelOptions{Window: 10, Horizon: 20}); !errors.Is(err, ErrFewIncidents) {
		t.Errorf("no base known: error %v, want ErrFewIncidents", err)
	}
	ragged := precursorFleet(4, 2, 50, 2, 5)
	ragged[1].Features[7] = []float64{1}
	if _, err := TrainFailureModel(ragged, FailureModelOptions{}); err == nil {
		t.Error("features of different lengths: no error")
	}
	short := precursorFleet(4, 2, 50, 2, 5)
	short[0].Base = short[0].Base[1:]
	if _, err := TrainFailureModel(short, FailureModelOptions{}); err == nil {
		t.Error("fewer base probabilities than steps: no error")
	}
	if _, err := TrainFailureModel(nil, FailureModelOptions{}); err == nil {
		t.Error("no histories: no error")
	}
}

// chooseAlpha keeps the base (α = 0) unless the correction beats it by
// more than a standard error, and weights an informative correction.
func TestChooseAlpha(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	samples := func(n int, f func(y bool) float64) ([]failureSample, []float64) {
		ss := make([]failureSample, n)
		fs := make([]float64, n)
		for i := range ss {
			y := i%10 == 0
			ss[i] = failureSample{y: y, base: logit(0.1), w: 1 + rng.Float64()}
			fs[i] = f(y)
		}
		return ss, fs
	}
	for _, tc := range []struct {
		name     string
		n        int
		f        func(y bool) float64
		min, max float64
	}{
		{"informative", 2000, func(y bool) float64 {
			if y {
				return 3 + rng.NormFloat64()
			}
			return -3 + rng.NormFloat64()
		}, 0.5, 1},
		{"harmful", 2000, func(y bool) float64 {
			if y {
				return -2
			}
			return 2
		}, 0, 0},
		{"noise", 2000, func(bool) float64 { return 0.3 * rng.NormFloat64() }, 0, 0},
		{"zero", 2000, func(bool) float64 { return 0 }, 0, 0},
		{"no samples", 0, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, fs := samples(tc.n, tc.f)
			alpha, base, loss, full := chooseAlpha(ss, fs)
			if alpha < tc.min || alpha > tc.max {
				t.Errorf("α %v, want in [%v, %v]", alpha, tc.min, tc.max)
			}
			if alpha == 0 && loss != base {
				t.Errorf("α 0 with log loss %v, the base's %v", loss, base)
			}
			if alpha > 0 && !(loss < base) {
				t.Errorf("α %v with log loss %v, no better than the base's %v", alpha, loss, base)
			}
			if tc.name == "harmful" && !(full > base) {
				t.Errorf("a harmful correction's log loss %v at full weight, the base's %v", full, base)
			}
		})
	}
}
