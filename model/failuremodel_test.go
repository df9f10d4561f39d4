package model

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// precursorFleet returns entities whose incidents are announced by a ramp
// of feature 1 over the lead steps before them; the other features are
// noise, and incidents start every 150 to 450 steps and last 20.
func precursorFleet(seed uint64, entities, steps, in, lead int) []FailureHistory {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([]FailureHistory, entities)
	for e := range out {
		h := &out[e]
		for t := 150 + rng.IntN(300); t+20 < steps; t += 150 + rng.IntN(300) {
			h.Incidents = append(h.Incidents, StepSpan{t, t + 20})
		}
		h.Features = make([][]float64, steps)
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
		}
	}
	return out
}

func TestFailureModelLearnsPrecursor(t *testing.T) {
	hist := precursorFleet(1, 4, 3000, 3, 30)
	hist[0].Features[100][2] = math.NaN() // a missing value is the mean
	m, err := TrainFailureModel(hist, FailureModelOptions{Window: 10, Horizon: 20, MaxSamples: 600,
		LSTM: LSTMOptions{Hidden1: 8, Hidden2: 4, Epochs: 15, Seed: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var posP, negP float64
	var npos, nneg int
	for _, h := range m.HeldOut {
		if !(h.P >= 0 && h.P <= 1) {
			t.Fatalf("held-out probability %v outside [0,1]", h.P)
		}
		if h.Failed {
			posP, npos = posP+h.P, npos+1
		} else {
			negP, nneg = negP+h.P, nneg+1
		}
	}
	posP /= float64(npos)
	negP /= float64(nneg)
	if !(m.Brier < 0.7*m.BaseRateBrier) {
		t.Errorf("held-out Brier %.4f, base rate's %.4f: want the model clearly better", m.Brier, m.BaseRateBrier)
	}
	if !(posP > 0.3 && negP < 0.1) {
		t.Errorf("mean held-out probability %.3f before incidents, %.3f elsewhere", posP, negP)
	}
	// Predict on the last steps of a history agrees with the held-out
	// prediction at its last step.
	last := m.HeldOut[len(m.HeldOut)-1]
	if p := m.Predict(hist[last.Entity].Features[:last.Step+1]); math.Abs(p-last.P) > 1e-12 {
		t.Errorf("Predict %v, held-out prediction %v at the same step", p, last.P)
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
	if p := r.Predict(hist[last.Entity].Features[:last.Step+1]); p != last.P {
		t.Errorf("restored model predicts %v, the trained one %v", p, last.P)
	}
	st.Params = st.Params[1:]
	if _, err := NewFailureModelFromState(st); err == nil {
		t.Error("a state with a weight missing was restored")
	}
}

// The prior correction: trained on every positive and few negatives, the
// probabilities are still those of the population, so the mean
// prediction on the held-out part is near its rate of positives.
func TestFailureModelPriorCorrection(t *testing.T) {
	hist := precursorFleet(2, 4, 3000, 2, 30)
	m, err := TrainFailureModel(hist, FailureModelOptions{Window: 10, Horizon: 20, MaxSamples: 300,
		LSTM: LSTMOptions{Hidden1: 8, Hidden2: 4, Epochs: 40, Seed: 2}})
	if err != nil {
		t.Fatal(err)
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
	if mean < rate/2 || mean > 2*rate {
		t.Errorf("mean held-out probability %.4f, held-out rate of positives %.4f", mean, rate)
	}
}

func TestFailureModelErrors(t *testing.T) {
	few := precursorFleet(3, 1, 900, 2, 30)
	if _, err := TrainFailureModel(few, FailureModelOptions{MinIncidents: 5}); !errors.Is(err, ErrFewIncidents) {
		t.Errorf("%d incidents: error %v, want ErrFewIncidents", len(few[0].Incidents), err)
	}
	ragged := precursorFleet(4, 2, 50, 2, 5)
	ragged[1].Features[7] = []float64{1}
	if _, err := TrainFailureModel(ragged, FailureModelOptions{}); err == nil {
		t.Error("features of different lengths: no error")
	}
	if _, err := TrainFailureModel(nil, FailureModelOptions{}); err == nil {
		t.Error("no histories: no error")
	}
}

// BenchmarkTrainFailureModelDemo trains the default model (the seed's
// 64/32 units) on a fleet the size of the demo's fortnight: 10 entities,
// 4 signals at 1-minute steps for 14 days, 15 incidents.
func BenchmarkTrainFailureModelDemo(b *testing.B) {
	hist := precursorFleet(5, 10, 14*1440, 4, 60)
	// Keep 15 incidents across the fleet, as the demo scripts.
	kept := 0
	for e := range hist {
		var incs []StepSpan
		for _, inc := range hist[e].Incidents {
			if kept < 15 && inc.Start%7 == 0 {
				incs = append(incs, inc)
				kept++
			}
		}
		hist[e].Incidents = incs
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := TrainFailureModel(hist, FailureModelOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// fitPlatt recovers the parameters of outcomes drawn from σ(a·l + b).
func TestFitPlatt(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	const n, a, b = 20000, 0.5, -1.0
	l := make([]float64, n)
	y := make([]bool, n)
	for i := range l {
		l[i] = 2 * rng.NormFloat64()
		y[i] = rng.Float64() < sigm(a*l[i]+b)
	}
	got := fitPlatt(l, y)
	if math.Abs(got[0]-a) > 0.05 || math.Abs(got[1]-b) > 0.05 {
		t.Errorf("fitPlatt = %v, want about (%v, %v)", got, a, b)
	}
	if got := fitPlatt(l[:10], make([]bool, 10)); got != [2]float64{1, 0} {
		t.Errorf("one class: %v, want the identity", got)
	}
}
