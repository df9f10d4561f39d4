package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// FailureHistory is one entity's history for training a FailureModel:
// Features[t] holds the In features of step t (NaN where missing) and
// Incidents its incidents in steps, Start inclusive, End exclusive.
type FailureHistory struct {
	Features  [][]float64
	Incidents []StepSpan
}

// StepSpan is a half-open range of steps [Start, End).
type StepSpan struct{ Start, End int }

// FailureModelOptions configures TrainFailureModel. Zero fields take the
// defaults in brackets.
type FailureModelOptions struct {
	// Window is the number of steps a sample holds [30].
	Window int
	// Horizon is the number of steps ahead a sample is positive when an
	// incident starts within it [60].
	Horizon int
	// HoldOut is the most recent part of each entity's history kept out
	// of training to evaluate the model [0.3].
	HoldOut float64
	// MinIncidents is the number of incidents that must start in the
	// training part, and each must give a positive sample, for the model
	// to be trained at all [5]; at least one must start in the held-out
	// part to evaluate it.
	MinIncidents int
	// Calibration is the most recent part of each entity's training part
	// whose predictions fit the recalibration of the outputs [0.25];
	// negative for none.
	Calibration float64
	// MaxSamples bounds the training samples [2000]: all positives (up to
	// half of it) and as many negatives drawn at random; the outputs are
	// corrected for the negatives left out.
	MaxSamples int
	// LSTM configures the network: the seed's architecture by default
	// (64 and 32 units, dropout 0.2, sigmoid output, MSE loss, i.e. the
	// Brier score, Adam), 10 epochs at a learning rate of 3e-3.
	LSTM LSTMOptions
}

func (o FailureModelOptions) withDefaults() FailureModelOptions {
	if o.Window <= 0 {
		o.Window = 30
	}
	if o.Horizon <= 0 {
		o.Horizon = 60
	}
	if !(o.HoldOut > 0 && o.HoldOut < 1) {
		o.HoldOut = 0.3
	}
	if o.MinIncidents <= 0 {
		o.MinIncidents = 5
	}
	if o.MaxSamples <= 0 {
		o.MaxSamples = 2000
	}
	switch {
	case o.Calibration == 0:
		o.Calibration = 0.25
	case o.Calibration < 0 || o.Calibration >= 1:
		o.Calibration = 0
	}
	if o.LSTM.Dropout == 0 {
		o.LSTM.Dropout = 0.2
	}
	if o.LSTM.Epochs <= 0 {
		o.LSTM.Epochs = 10
	}
	if o.LSTM.LearningRate <= 0 {
		o.LSTM.LearningRate = 3e-3
	}
	o.LSTM.Sigmoid = true
	return o
}

// HeldOutPrediction is the model's prediction for one held-out step, for
// comparing it with another model on the same steps.
type HeldOutPrediction struct {
	Entity, Step int
	P            float64
	Failed       bool // an incident starts within the horizon after Step
}

// FailureModel is the probability that an entity's incident starts within
// the horizon, given the last Window steps of its features: a sequence
// classifier (LSTM, the seed's architecture) trained on labelled windows of
// a fleet's histories. A sample ends at step t and is positive when an
// incident starts in (t, t+Horizon]; samples ending inside an incident are
// left out (the entity has failed already). Features are standardised with
// the training part's mean and standard deviation per feature, missing
// ones set to the mean.
//
// Negatives far outnumber positives, so training keeps every positive (at
// most MaxSamples/2 of them) and as many random negatives as fill
// MaxSamples; with q the share of negatives kept over the share of
// positives kept, the output p of the network trained on that mix is
// mapped back to the population by the prior correction
//
//	p' = q·p / (q·p + 1 − p)
//
// (the odds scale by q; Elkan, "The Foundations of Cost-Sensitive
// Learning", IJCAI 2001, theorem 2). With the MSE loss on a sigmoid the
// network minimises the Brier score of the training mix.
//
// A network that separates failures well is still overconfident where a
// precursor (a leak) lasts longer than the horizon, so the corrected
// output is recalibrated as σ(a·logit(p') + b), Platt scaling fitted on
// the predictions for the Calibration part of the training history, which
// the network does not train on (see fitPlatt).
//
// A FailureModel is not safe for concurrent use.
type FailureModel struct {
	// In, Window and Horizon describe the samples.
	In, Window, Horizon int
	// Incidents is the number of incidents in the training part.
	Incidents int
	// HeldOut holds the model's predictions on the held-out part (the
	// steps after each entity's split that a sample can end at, evenly
	// thinned to at most 2·MaxSamples), and
	// Brier and BaseRateBrier the Brier scores there of the model and of
	// the training part's rate of positives: the model is worth using
	// where it beats both that and the model it would replace on the
	// same steps.
	HeldOut              []HeldOutPrediction
	Brier, BaseRateBrier float64

	net         *LSTM
	mean, scale []float64
	keep        float64 // q: the share of negatives trained on over that of positives
	platt       [2]float64
	x, out      []float64
}

// TrainFailureModel trains a FailureModel on the histories of a fleet's
// entities, each with the same features. It returns ErrFewIncidents when
// the training part holds fewer than MinIncidents incidents or the
// held-out part none.
func TrainFailureModel(hist []FailureHistory, opts FailureModelOptions) (*FailureModel, error) {
	o := opts.withDefaults()
	if len(hist) == 0 {
		return nil, errors.New("cannot train a failure model without histories")
	}
	in := -1
	for e, h := range hist {
		for t, f := range h.Features {
			if in < 0 {
				in = len(f)
			}
			if len(f) != in || in == 0 {
				return nil, fmt.Errorf("cannot train a failure model: entity %d step %d has %d features, want %d", e, t, len(f), max(in, 1))
			}
		}
	}
	if in <= 0 {
		return nil, errors.New("cannot train a failure model on empty histories")
	}
	type sample struct{ entity, end int }
	var pos, neg, held, calib []sample
	trainIncidents, heldIncidents := 0, 0
	for e, h := range hist {
		n := len(h.Features)
		split := n - int(o.HoldOut*float64(n))
		calSplit := split - int(o.Calibration*float64(split))
		for _, inc := range h.Incidents {
			switch {
			case inc.Start >= split && inc.Start < n:
				heldIncidents++
			case inc.Start >= o.Window && inc.Start < split:
				trainIncidents++
			}
		}
		for t := o.Window - 1; t < n; t++ {
			if inIncident(h.Incidents, t) {
				continue
			}
			s := sample{e, t}
			switch {
			case t >= split:
				held = append(held, s)
			case t+o.Horizon >= split:
				// Its label depends on the held-out part.
			case t >= calSplit:
				calib = append(calib, s)
			case t+o.Horizon >= calSplit:
				// Its label depends on the calibration part.
			case failsWithin(h.Incidents, t, o.Horizon):
				pos = append(pos, s)
			default:
				neg = append(neg, s)
			}
		}
	}
	if trainIncidents < o.MinIncidents || heldIncidents == 0 || len(pos) == 0 {
		return nil, fmt.Errorf("%w: %d incidents in the training part (need %d), %d held out", ErrFewIncidents, trainIncidents, o.MinIncidents, heldIncidents)
	}

	m := &FailureModel{In: in, Window: o.Window, Horizon: o.Horizon, Incidents: trainIncidents,
		mean: make([]float64, in), scale: make([]float64, in), x: make([]float64, o.Window*in)}
	m.standardise(hist, func(e, t int) bool { return t < len(hist[e].Features)-int(o.HoldOut*float64(len(hist[e].Features))) })

	rng := rand.New(rand.NewPCG(o.LSTM.Seed, 0xfa11))
	base := float64(len(pos)) / (float64(len(pos)) + float64(len(neg)))
	rng.Shuffle(len(pos), func(i, j int) { pos[i], pos[j] = pos[j], pos[i] })
	nPos := min(len(pos), o.MaxSamples/2)
	rng.Shuffle(len(neg), func(i, j int) { neg[i], neg[j] = neg[j], neg[i] })
	nNeg := min(len(neg), o.MaxSamples-nPos)
	m.keep = 1
	if len(neg) > 0 {
		m.keep = (float64(nNeg) / float64(len(neg))) / (float64(nPos) / float64(len(pos)))
	}
	pos = pos[:nPos]
	xs := make([][]float64, 0, len(pos)+nNeg)
	ys := make([][]float64, 0, len(pos)+nNeg)
	one, zero := []float64{1}, []float64{0}
	for _, s := range pos {
		xs, ys = append(xs, m.sample(nil, hist[s.entity].Features, s.end)), append(ys, one)
	}
	for _, s := range neg[:nNeg] {
		xs, ys = append(xs, m.sample(nil, hist[s.entity].Features, s.end)), append(ys, zero)
	}
	m.net = NewLSTM(in, 1, o.LSTM)
	if _, err := m.net.Train(xs, o.Window, ys); err != nil {
		return nil, fmt.Errorf("cannot train the failure model: %w", err)
	}

	// Evaluation costs a forward pass per step: at most 2·MaxSamples
	// steps of each part, evenly spaced.
	thin := func(ss []sample) []sample {
		stride := (len(ss) + 2*o.MaxSamples - 1) / (2 * o.MaxSamples)
		if stride <= 1 {
			return ss
		}
		kept := ss[:0]
		for i := 0; i < len(ss); i += stride {
			kept = append(kept, ss[i])
		}
		return kept
	}
	m.platt = [2]float64{1, 0}
	if calib = thin(calib); len(calib) > 0 {
		ls := make([]float64, len(calib))
		ys := make([]bool, len(calib))
		for i, s := range calib {
			h := hist[s.entity]
			ls[i] = logit(m.predict(h.Features, s.end))
			ys[i] = failsWithin(h.Incidents, s.end, o.Horizon)
		}
		m.platt = fitPlatt(ls, ys)
	}
	for _, s := range thin(held) {
		h := hist[s.entity]
		y := failsWithin(h.Incidents, s.end, o.Horizon)
		p := m.predict(h.Features, s.end)
		m.HeldOut = append(m.HeldOut, HeldOutPrediction{Entity: s.entity, Step: s.end, P: p, Failed: y})
		yv := 0.0
		if y {
			yv = 1
		}
		m.Brier += (p - yv) * (p - yv)
		m.BaseRateBrier += (base - yv) * (base - yv)
	}
	if n := len(m.HeldOut); n > 0 {
		m.Brier /= float64(n)
		m.BaseRateBrier /= float64(n)
	}
	return m, nil
}

// Predict returns the probability that an incident starts within the
// horizon after the last of the steps (Window or more steps of In
// features; the last Window are used).
func (m *FailureModel) Predict(steps [][]float64) float64 {
	if len(steps) < m.Window {
		panic("model: FailureModel.Predict needs Window steps")
	}
	return m.predict(steps, len(steps)-1)
}

func (m *FailureModel) predict(steps [][]float64, end int) float64 {
	m.x = m.sample(m.x, steps, end)
	m.out = m.net.Predict(m.out, m.x)
	p := clamp01(m.out[0])
	p = m.keep * p / (m.keep*p + 1 - p)
	return sigm(m.platt[0]*logit(p) + m.platt[1])
}

// logit is ln(p/(1−p)), p clipped to [1e-7, 1−1e-7].
func logit(p float64) float64 {
	p = min(max(p, 1e-7), 1-1e-7)
	return math.Log(p / (1 - p))
}

// fitPlatt fits σ(a·l + b) to outcomes y by Newton's method on the log
// loss, with Platt's targets (N₊+1)/(N₊+2) and 1/(N₋+2) in place of 1
// and 0 so that a few outcomes cannot make it certain (Platt,
// "Probabilistic Outputs for Support Vector Machines", 1999). It returns
// (1, 0), the identity, when y holds a single class.
func fitPlatt(l []float64, y []bool) [2]float64 {
	np, nn := 0.0, 0.0
	for _, v := range y {
		if v {
			np++
		} else {
			nn++
		}
	}
	if np == 0 || nn == 0 {
		return [2]float64{1, 0}
	}
	hi, lo := (np+1)/(np+2), 1/(nn+2)
	a, b := 1.0, 0.0
	for range 50 {
		var ga, gb, haa, hab, hbb float64
		for i, x := range l {
			t := lo
			if y[i] {
				t = hi
			}
			p := sigm(a*x + b)
			d := p - t
			w := max(p*(1-p), 1e-12)
			ga += d * x
			gb += d
			haa += w * x * x
			hab += w * x
			hbb += w
		}
		haa += 1e-9
		hbb += 1e-9
		det := haa*hbb - hab*hab
		if !(det > 0) {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		a, b = a-da, b-db
		if math.Abs(da)+math.Abs(db) < 1e-9 {
			break
		}
	}
	if math.IsNaN(a) || math.IsNaN(b) {
		return [2]float64{1, 0}
	}
	return [2]float64{a, b}
}

// sample writes the standardised window of steps ending at end into dst.
func (m *FailureModel) sample(dst []float64, steps [][]float64, end int) []float64 {
	dst = resize(dst, m.Window*m.In)
	for s := range m.Window {
		for j, v := range steps[end-m.Window+1+s] {
			z := (v - m.mean[j]) / m.scale[j]
			if math.IsNaN(z) || math.IsInf(z, 0) {
				z = 0
			}
			dst[s*m.In+j] = z
		}
	}
	return dst
}

// standardise sets mean and scale from the steps that train selects.
func (m *FailureModel) standardise(hist []FailureHistory, train func(e, t int) bool) {
	n := make([]float64, m.In)
	sq := make([]float64, m.In)
	for e, h := range hist {
		for t, f := range h.Features {
			if !train(e, t) {
				continue
			}
			for j, v := range f {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					continue
				}
				n[j]++
				d := v - m.mean[j]
				m.mean[j] += d / n[j]
				sq[j] += d * (v - m.mean[j])
			}
		}
	}
	for j := range m.scale {
		m.scale[j] = 1
		if n[j] > 1 && sq[j] > 0 {
			m.scale[j] = math.Sqrt(sq[j] / (n[j] - 1))
		}
	}
}

func inIncident(incs []StepSpan, t int) bool {
	for _, s := range incs {
		if t >= s.Start && t < s.End {
			return true
		}
	}
	return false
}

// failsWithin reports whether an incident starts in (t, t+h].
func failsWithin(incs []StepSpan, t, h int) bool {
	for _, s := range incs {
		if s.Start > t && s.Start <= t+h {
			return true
		}
	}
	return false
}

// FailureModelState is what a trained FailureModel needs to predict, for
// persisting it: its network's weights, the standardisation and the output
// corrections. It encodes as JSON.
type FailureModelState struct {
	In, Window, Horizon, Incidents int
	Brier, BaseRateBrier           float64
	Hidden1, Hidden2               int
	Mean, Scale                    []float64
	Keep                           float64
	Platt                          [2]float64
	Params                         []float64
}

// State returns the model's state; the model and the state share nothing.
func (m *FailureModel) State() FailureModelState {
	o := m.net.opts
	return FailureModelState{
		In: m.In, Window: m.Window, Horizon: m.Horizon, Incidents: m.Incidents,
		Brier: m.Brier, BaseRateBrier: m.BaseRateBrier, Hidden1: o.Hidden1, Hidden2: o.Hidden2,
		Mean: slices.Clone(m.mean), Scale: slices.Clone(m.scale), Keep: m.keep, Platt: m.platt,
		Params: slices.Clone(m.net.params),
	}
}

// NewFailureModelFromState rebuilds a model from State's output, checking
// that its parts fit together.
func NewFailureModelFromState(s FailureModelState) (*FailureModel, error) {
	if s.In < 1 || s.Window < 1 || s.Hidden1 < 1 || s.Hidden2 < 1 || len(s.Mean) != s.In || len(s.Scale) != s.In {
		return nil, fmt.Errorf("cannot restore a failure model of %d features, window %d, %d×%d units from %d means and %d scales", s.In, s.Window, s.Hidden1, s.Hidden2, len(s.Mean), len(s.Scale))
	}
	net := NewLSTM(s.In, 1, LSTMOptions{Hidden1: s.Hidden1, Hidden2: s.Hidden2, Sigmoid: true})
	if len(s.Params) != len(net.params) {
		return nil, fmt.Errorf("cannot restore a failure model: %d weights, want %d", len(s.Params), len(net.params))
	}
	copy(net.params, s.Params)
	return &FailureModel{
		In: s.In, Window: s.Window, Horizon: s.Horizon, Incidents: s.Incidents, Brier: s.Brier, BaseRateBrier: s.BaseRateBrier,
		net: net, mean: slices.Clone(s.Mean), scale: slices.Clone(s.Scale), keep: s.Keep, platt: s.Platt,
		x: make([]float64, s.Window*s.In),
	}, nil
}
