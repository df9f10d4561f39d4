package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestLSTMGradient checks backpropagation through time against central
// differences of the loss, for every parameter of a small network: the
// squared error with and without the output sigmoid, and the log loss of
// σ(base + output) that the failure model trains on, whose gradient on
// the output is p − y.
func TestLSTMGradient(t *testing.T) {
	const T, base = 4, -2.0
	for _, c := range []string{"mse", "mse sigmoid", "log loss"} {
		out := 2
		if c == "log loss" {
			out = 1
		}
		n := NewLSTM(2, out, LSTMOptions{Hidden1: 3, Hidden2: 2, Dropout: -1, Seed: 1, Sigmoid: c == "mse sigmoid"})
		rng := rand.New(rand.NewPCG(2, 2))
		x := make([]float64, T*2)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		target := []float64{0.3, 0.8}
		loss := func() float64 {
			y := n.forward(x, T, nil)
			if c == "log loss" {
				return logLoss(base+y[0], true)
			}
			var s float64
			for i, v := range y {
				s += (v - target[i]) * (v - target[i])
			}
			return s
		}
		n.startTraining()
		y := n.forward(x, T, nil)
		if c == "log loss" {
			n.backward([]float64{sigm(base+y[0]) - 1}, T)
		} else {
			n.accumulate(target, T, 1)
		}
		const eps = 1e-6
		for k := range n.params {
			old := n.params[k]
			n.params[k] = old + eps
			up := loss()
			n.params[k] = old - eps
			dn := loss()
			n.params[k] = old
			num := (up - dn) / (2 * eps)
			if math.Abs(num-n.ws.grad[k]) > 1e-6*math.Max(1, math.Abs(num)) {
				t.Errorf("%s: dL/dθ%d = %g, central difference %g", c, k, n.ws.grad[k], num)
			}
		}
	}
}

func sineWindows(n, w int, seed uint64) (xs, ys [][]float64, series []float64) {
	rng := rand.New(rand.NewPCG(seed, 4))
	series = make([]float64, n)
	for i := range series {
		series[i] = math.Sin(2*math.Pi*float64(i)/24) + 0.05*rng.NormFloat64()
	}
	for t := w; t < n; t++ {
		xs = append(xs, series[t-w:t])
		ys = append(ys, series[t:t+1])
	}
	return xs, ys, series
}

func TestLSTMTrainsAndIsDeterministic(t *testing.T) {
	xs, ys, _ := sineWindows(400, 24, 1)
	opts := LSTMOptions{Hidden1: 12, Hidden2: 6, Epochs: 25, LearningRate: 0.01, Seed: 7}
	a := NewLSTM(1, 1, opts)
	la, err := a.Train(xs, 24, ys)
	if err != nil {
		t.Fatal(err)
	}
	// The sine's variance is 0.5: the loss must fall far below it.
	if last := la[len(la)-1]; !(last < 0.05 && last < la[0]/4) {
		t.Errorf("epoch losses %.4g ... %.4g", la[0], last)
	}
	b := NewLSTM(1, 1, opts)
	lb, _ := b.Train(xs, 24, ys)
	if !slices.Equal(la, lb) || !slices.Equal(a.params, b.params) {
		t.Error("same seed, different training")
	}
	opts.Seed = 8
	c := NewLSTM(1, 1, opts)
	if slices.Equal(a.params, c.params) {
		t.Error("different seeds, same network")
	}
	if _, err := a.Train(xs, 23, ys); err == nil {
		t.Error("wrong window length: no error")
	}
}

// TestLSTMFailureProbability: windows of two signals, labelled 1 when the
// second signal ends high; with Sigmoid the outputs are probabilities that
// separate the classes.
func TestLSTMFailureProbability(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const T = 10
	var xs, ys [][]float64
	for range 300 {
		x := make([]float64, 2*T)
		fail := rng.Float64() < 0.3
		for s := range T {
			x[2*s] = rng.NormFloat64()
			x[2*s+1] = 0.2 * rng.NormFloat64()
			if fail {
				x[2*s+1] += 0.3 * float64(s) // a climbing signal
			}
		}
		label := 0.0
		if fail {
			label = 1
		}
		xs, ys = append(xs, x), append(ys, []float64{label})
	}
	n := NewLSTM(2, 1, LSTMOptions{Hidden1: 8, Hidden2: 4, Epochs: 15, LearningRate: 0.01, Sigmoid: true, Seed: 1})
	if _, err := n.Train(xs[:200], T, ys[:200]); err != nil {
		t.Fatal(err)
	}
	correct := 0
	var out []float64
	for i := 200; i < 300; i++ {
		out = n.Predict(out, xs[i])
		if out[0] < 0 || out[0] > 1 {
			t.Fatalf("probability %g outside [0,1]", out[0])
		}
		if (out[0] > 0.5) == (ys[i][0] == 1) {
			correct++
		}
	}
	if correct < 95 {
		t.Errorf("%d of 100 held-out windows classified correctly, want ≥ 95", correct)
	}
}

func TestLSTMForecaster(t *testing.T) {
	_, _, y := sineWindows(600, 24, 2)
	f, err := FitLSTMForecaster(y[:500], LSTMForecastOptions{Window: 24,
		LSTMOptions: LSTMOptions{Hidden1: 12, Hidden2: 6, Epochs: 20, LearningRate: 0.01, Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	var fc Forecast
	if err := f.PredictInto(&fc, 3, 0.95); err != nil {
		t.Fatal(err)
	}
	if fc.Point[0] != f.OneStep() {
		t.Errorf("PredictInto(1) %g != OneStep %g", fc.Point[0], f.OneStep())
	}
	// One-step MAE on the next 100 points beats the naive forecast's by far.
	var e, naive float64
	for i := 500; i < 600; i++ {
		e += math.Abs(y[i] - f.OneStep())
		naive += math.Abs(y[i] - y[i-1])
		f.Update(y[i])
	}
	if e > naive/2 {
		t.Errorf("LSTM MAE %.3g, naive %.3g", e/100, naive/100)
	}
	if _, err := FitLSTMForecaster(y[:30], LSTMForecastOptions{}); err == nil {
		t.Error("30 points, window 48: no error")
	}
}

func BenchmarkLSTMTrainEpoch(b *testing.B) {
	xs, ys, _ := sineWindows(1000+48, 48, 1)
	n := NewLSTM(1, 1, LSTMOptions{Epochs: 1, Seed: 1}) // 64/32 units
	b.ReportAllocs()
	for b.Loop() {
		if _, err := n.Train(xs, 48, ys); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSelectLSTM is the LSTM candidate's cost in Select on a series
// the size of a NAB file at a five-minute step (4032 points, a daily
// season under noise): its fit and its backtest, per series.
func BenchmarkSelectLSTM(b *testing.B) {
	rng := rand.New(rand.NewPCG(8, 8))
	y := make([]float64, 4032)
	for i := range y {
		y[i] = 50 + 10*math.Sin(2*math.Pi*float64(i)/288) + rng.NormFloat64()
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, sel, err := Select(y, SelectOptions{Periods: []int{288}, Horizon: 12, Candidates: []string{"lstm"}}); err != nil || sel.Model != "lstm" {
			b.Fatalf("Select chose %q: %v", sel.Model, err)
		}
	}
}
