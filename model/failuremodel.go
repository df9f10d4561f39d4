package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// FailureHistory is one entity's history for training a FailureModel:
// Features[t] holds the In features of step t (NaN where missing), Base[t]
// the probability the model corrects at step t (NaN where unknown: no
// sample ends there) and Incidents its incidents in steps, Start
// inclusive, End exclusive.
type FailureHistory struct {
	Features  [][]float64
	Base      []float64
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
	// of the networks' training, where the correction's weight α is
	// fitted and the model evaluated [0.3].
	HoldOut float64
	// MinIncidents is the number of incidents that must give positive
	// samples in the training part for the model to be trained at all
	// [5]; at least one must give one in the held-out part to evaluate it.
	MinIncidents int
	// Validation is the most recent part of each entity's training part
	// whose samples decide when training stops and which epoch's weights
	// are kept [0.25]; the network does not train on it.
	Validation float64
	// MaxSamples bounds the training samples [1000]: every positive (up
	// to half of it) and negatives drawn by importance (see
	// drawNegatives), weighted back to the population. The validation
	// samples are bounded by half of it.
	MaxSamples int
	// Patience is the number of epochs without a better validation loss
	// after which training stops [2].
	Patience int
	// Members is the number of networks trained, each from its own seed
	// (LSTM.Seed, LSTM.Seed+1, …) on its own draw of the samples, whose
	// corrections are averaged [3].
	Members int
	// LSTM configures the network: the seed's architecture by default
	// (64 and 32 units, dropout 0.2, Adam), at most 10 epochs at a
	// learning rate of 3e-3. Its Sigmoid is ignored: the output is a
	// correction of the base's logit.
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
		o.MaxSamples = 1000
	}
	if !(o.Validation > 0 && o.Validation < 1) {
		o.Validation = 0.25
	}
	if o.Patience <= 0 {
		o.Patience = 2
	}
	if o.Members <= 0 {
		o.Members = 3
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
	o.LSTM.Sigmoid = false
	return o
}

// HeldOutPrediction is the model's prediction for one held-out step and
// the base probability it corrected there.
type HeldOutPrediction struct {
	Entity, Step int
	P, Base      float64
	Failed       bool // an incident starts within the horizon after Step
}

// FailureModel is the probability that an entity's incident starts within
// the horizon, given a base probability (the calibrated path's) and the
// last Window steps of its features: the base corrected by sequence
// models (LSTMs, the seed's architecture) on the logit scale,
//
//	p = σ(logit(base) + α·f(window)),  f = (1/K)·Σₖ fₖ(window),
//
// the mean correction of K networks trained on labelled windows of a
// fleet's histories by minimising the log loss, weighted by α ∈ [0, 1]. A
// sample ends at step t and is positive when an incident starts in
// (t, t+Horizon]; samples ending inside an incident are left out (the
// entity has failed already), and so are those whose horizon reaches
// past the history's end (their label is not known yet). Features are
// standardised with the training part's mean and standard deviation per
// feature, missing ones set to the mean.
//
// A fleet knows a dozen incidents, too few for a network to learn the
// failure probability from scratch (the base rate alone is 0.5 %), but
// enough to learn where the base is wrong: residual learning, or stacking
// (Wolpert, "Stacked Generalization", 1992). Each network's dense layer
// starts at zero, so an untrained network is the base; its training stops
// when the loss on the validation part stops falling, and keeps the best
// epoch's weights — epoch 0, f = 0, when no epoch beats the base there by
// more than a standard error (see fit). On so few incidents one
// network's correction depends much on its seed; the mean of K (bagging,
// Breiman, "Bagging Predictors", 1996) has less variance. The weight α is
// the stacking's level-1 fit, on the held-out part, which no network
// trained or stopped on (see chooseAlpha): 0, the base, unless the
// correction beats it there by more than a standard error. The model
// thus moves away from the base only as far as the incidents show a
// pattern that holds on data it did not train on.
//
// Negatives far outnumber positives and most are trivial (the base says
// 0.001 and nothing happens); training keeps every positive and draws
// negatives with probability proportional to their base probability
// (their log loss's gradient), each weighted by the inverse of its
// probability of being drawn, so the weighted loss is the population's.
//
// A FailureModel is not safe for concurrent use.
type FailureModel struct {
	// In, Window and Horizon describe the samples.
	In, Window, Horizon int
	// Incidents is the number of incidents in the training part.
	Incidents int
	// Epochs holds the epoch whose weights each network kept (0: none,
	// the network's correction is 0).
	Epochs []int
	// Alpha is the correction's weight; BaseLoss, Loss and FullLoss the
	// mean log loss on the held-out sample it was chosen on (see
	// chooseAlpha) of the base, of the model and of the model at α = 1.
	Alpha                    float64
	BaseLoss, Loss, FullLoss float64
	// HeldOut holds the model's predictions on the held-out part (the
	// steps after each entity's split that a sample can end at, evenly
	// thinned to at most 2·MaxSamples), and Brier, BaseBrier and
	// BaseRateBrier the Brier scores there of the model, of the base and
	// of the training part's rate of positives.
	HeldOut                         []HeldOutPrediction
	Brier, BaseBrier, BaseRateBrier float64

	nets        []*LSTM
	mean, scale []float64
	x           []float64
}

// failureSample is one training or evaluation window: it ends at step end
// of entity's history; base is the base's logit there, w its weight.
type failureSample struct {
	entity, end int
	y           bool
	base, w     float64
}

// failureSamples are a history's samples by part: training, validation
// and held-out, each positives and negatives.
type failureSamples struct {
	pos, neg, valPos, valNeg, heldPos, heldNeg []failureSample
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
		if len(h.Base) != len(h.Features) {
			return nil, fmt.Errorf("cannot train a failure model: entity %d has %d steps of features and %d base probabilities", e, len(h.Features), len(h.Base))
		}
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
	var ss failureSamples
	type incident struct{ entity, index int }
	trainInc, heldInc := map[incident]bool{}, map[incident]bool{}
	splits := make([]int, len(hist))
	for e, h := range hist {
		n := len(h.Features)
		split := n - int(o.HoldOut*float64(n))
		valSplit := split - int(o.Validation*float64(split))
		splits[e] = split
		for t := o.Window - 1; t+o.Horizon < n; t++ {
			b := h.Base[t]
			if !(b >= 0 && b <= 1) || inIncident(h.Incidents, t) {
				continue
			}
			next := nextIncident(h.Incidents, t, o.Horizon)
			s := failureSample{entity: e, end: t, y: next >= 0, base: logit(b), w: 1}
			switch {
			case t >= split && s.y:
				ss.heldPos = append(ss.heldPos, s)
				heldInc[incident{e, next}] = true
			case t >= split:
				ss.heldNeg = append(ss.heldNeg, s)
			case t+o.Horizon >= split:
				// Its label depends on the held-out part.
			case t >= valSplit && s.y:
				ss.valPos = append(ss.valPos, s)
			case t >= valSplit:
				ss.valNeg = append(ss.valNeg, s)
			case t+o.Horizon >= valSplit:
				// Its label depends on the validation part.
			case s.y:
				ss.pos = append(ss.pos, s)
				trainInc[incident{e, next}] = true
			default:
				ss.neg = append(ss.neg, s)
			}
		}
	}
	if len(trainInc) < o.MinIncidents || len(heldInc) == 0 {
		return nil, fmt.Errorf("%w: %d incidents in the training part (need %d), %d held out", ErrFewIncidents, len(trainInc), o.MinIncidents, len(heldInc))
	}

	m := &FailureModel{In: in, Window: o.Window, Horizon: o.Horizon, Incidents: len(trainInc),
		mean: make([]float64, in), scale: make([]float64, in), x: make([]float64, o.Window*in),
		nets: make([]*LSTM, o.Members), Epochs: make([]int, o.Members)}
	m.standardise(hist, func(e, t int) bool { return t < splits[e] })
	rate := float64(len(ss.pos)) / float64(len(ss.pos)+len(ss.neg))

	// The networks train independently, each on its own goroutine.
	var wg sync.WaitGroup
	for k := range m.nets {
		wg.Go(func() { m.nets[k], m.Epochs[k] = m.trainMember(hist, ss, o, o.LSTM.Seed+uint64(k)) })
	}
	wg.Wait()

	rng := rand.New(rand.NewPCG(o.LSTM.Seed, 0xa1fa))
	sel := slices.Concat(drawPositives(ss.heldPos, o.MaxSamples/2, rng), drawNegatives(ss.heldNeg, o.MaxSamples/2, rng))
	f := make([]float64, len(sel))
	if slices.Max(m.Epochs) > 0 {
		for i, s := range sel {
			f[i] = m.ensemble(hist[s.entity].Features, s.end)
		}
	}
	m.Alpha, m.BaseLoss, m.Loss, m.FullLoss = chooseAlpha(sel, f)

	// Evaluation costs K forward passes per step: at most 2·MaxSamples
	// steps, evenly spaced.
	held := slices.Concat(ss.heldPos, ss.heldNeg)
	slices.SortFunc(held, func(a, b failureSample) int {
		if a.entity != b.entity {
			return a.entity - b.entity
		}
		return a.end - b.end
	})
	if stride := (len(held) + 2*o.MaxSamples - 1) / (2 * o.MaxSamples); stride > 1 {
		kept := held[:0]
		for i := 0; i < len(held); i += stride {
			kept = append(kept, held[i])
		}
		held = kept
	}
	for _, s := range held {
		h := hist[s.entity]
		p := sigm(s.base + m.correction(h.Features, s.end))
		m.HeldOut = append(m.HeldOut, HeldOutPrediction{Entity: s.entity, Step: s.end, P: p, Base: h.Base[s.end], Failed: s.y})
		yv := 0.0
		if s.y {
			yv = 1
		}
		m.Brier += (p - yv) * (p - yv)
		m.BaseBrier += (h.Base[s.end] - yv) * (h.Base[s.end] - yv)
		m.BaseRateBrier += (rate - yv) * (rate - yv)
	}
	if n := float64(len(m.HeldOut)); n > 0 {
		m.Brier /= n
		m.BaseBrier /= n
		m.BaseRateBrier /= n
	}
	return m, nil
}

// trainMember trains one network from seed on its own draw of the
// training and validation samples and returns it and the epoch it kept.
func (m *FailureModel) trainMember(hist []FailureHistory, ss failureSamples, o FailureModelOptions, seed uint64) (*LSTM, int) {
	rng := rand.New(rand.NewPCG(seed, 0xfa11))
	train := slices.Concat(drawPositives(ss.pos, o.MaxSamples/2, rng), drawNegatives(ss.neg, o.MaxSamples/2, rng))
	val := slices.Concat(drawPositives(ss.valPos, o.MaxSamples/4, rng), drawNegatives(ss.valNeg, o.MaxSamples/4, rng))
	// A mean weight of 1 keeps Adam's steps at the scale of one sample's.
	var sum float64
	for _, s := range train {
		sum += s.w
	}
	for i := range train {
		train[i].w *= float64(len(train)) / sum
	}
	windows := func(ss []failureSample) [][]float64 {
		xs := make([][]float64, len(ss))
		for i, s := range ss {
			xs[i] = m.sample(nil, hist[s.entity].Features, s.end)
		}
		return xs
	}
	lo := o.LSTM
	lo.Seed = seed
	net := NewLSTM(m.In, 1, lo)
	clear(net.v.Data)
	clear(net.d)
	return net, fit(net, m.Window, train, windows(train), val, windows(val), o.Patience, rng)
}

// fit trains net on the weighted log loss of the training samples
// (windows xs of T steps) for at most Epochs epochs, stopping after
// patience epochs without a lower loss on the validation samples (windows
// vxs), and keeps the weights of the epoch with the lowest, provided it
// beats the initial weights (whose correction is zero: the base) by more
// than one standard error of the paired per-sample difference. A dozen
// incidents make the validation loss noisy, and an epoch that beats the
// base by chance there moves the probabilities where nothing supports
// it; the one-standard-error rule (Breiman et al., "Classification and
// Regression Trees", 1984, §3.4.3) keeps the simpler model unless the
// data tell them apart. It returns the epoch kept, 0 for the base, also
// when there are no validation samples.
func fit(net *LSTM, T int, train []failureSample, xs [][]float64, val []failureSample, vxs [][]float64, patience int, rng *rand.Rand) int {
	if len(val) == 0 {
		return 0
	}
	base := make([]float64, len(val))
	for i, s := range val {
		base[i] = logLoss(s.base, s.y)
	}
	loss := make([]float64, len(val))
	gain := func() (mean, se float64) {
		for i, s := range val {
			loss[i] = logLoss(s.base+net.forward(vxs[i], T, nil)[0], s.y)
		}
		return pairedGain(val, base, loss)
	}
	bestGain, bestSE, bestEpoch := 0.0, 0.0, 0
	initial, best := slices.Clone(net.params), make([]float64, len(net.params))
	net.startTraining()
	order := make([]int, len(train))
	for i := range order {
		order[i] = i
	}
	bs := net.opts.BatchSize
	dy := make([]float64, 1)
	for epoch, bad := 1, 0; epoch <= net.opts.Epochs && bad < patience; epoch++ {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for start := 0; start < len(order); start += bs {
			batch := order[start:min(start+bs, len(order))]
			for _, i := range batch {
				s := train[i]
				p := sigm(s.base + net.forward(xs[i], T, rng)[0])
				y := 0.0
				if s.y {
					y = 1
				}
				dy[0] = s.w * (p - y) / float64(len(batch))
				net.backward(dy, T)
			}
			net.adamStep()
		}
		if g, se := gain(); g > bestGain {
			bestGain, bestSE, bestEpoch, bad = g, se, epoch, 0
			copy(best, net.params)
		} else {
			bad++
		}
	}
	if bestEpoch == 0 || bestGain <= bestSE {
		copy(net.params, initial)
		return 0
	}
	copy(net.params, best)
	return bestEpoch
}

// pairedGain returns the weighted mean of a − b over the samples (their
// weights w) and its standard error, over the per-sample differences
// u_i = w_i·(a_i − b_i)·n/Σw, whose plain mean is the weighted mean.
func pairedGain(ss []failureSample, a, b []float64) (mean, se float64) {
	var wsum float64
	for _, s := range ss {
		wsum += s.w
	}
	n := float64(len(ss))
	if n == 0 || wsum <= 0 {
		return 0, 0
	}
	var sum, sq float64
	for i, s := range ss {
		u := s.w * (a[i] - b[i]) * n / wsum
		sum += u
		sq += u * u
	}
	mean = sum / n
	return mean, math.Sqrt(max(sq/n-mean*mean, 0) / n)
}

// alphaSteps is the resolution of the grid chooseAlpha searches α on.
const alphaSteps = 20

// chooseAlpha returns the weight α ∈ {0, 1/alphaSteps, …, 1} of the
// correction f[i] at the samples ss, and the weighted mean log loss there
// of the base (α = 0), at α and at α = 1: the smallest α whose loss is
// within one standard error (of its paired difference) of the lowest's,
// the one-standard-error rule (see fit) with α as the complexity, so 0
// unless the correction beats the base by more than its noise. The
// samples are the held-out part's, no network's training or early
// stopping having seen them: α is fitted as a stacking's level-1 weight
// is, on data the level-0 models did not fit (Wolpert 1992; Breiman,
// "Stacked Regressions", 1996, who also constrains the weights to be
// non-negative).
func chooseAlpha(ss []failureSample, f []float64) (alpha, baseLoss, loss, fullLoss float64) {
	if len(ss) == 0 {
		return 0, 0, 0, 0
	}
	losses := make([][]float64, alphaSteps+1)
	means := make([]float64, alphaSteps+1)
	zero := make([]float64, len(ss))
	best := 0
	for k := range losses {
		a := float64(k) / alphaSteps
		l := make([]float64, len(ss))
		for i, s := range ss {
			l[i] = logLoss(s.base+a*f[i], s.y)
		}
		losses[k] = l
		means[k], _ = pairedGain(ss, l, zero)
		if means[k] < means[best] {
			best = k
		}
	}
	for k := range losses {
		if d, se := pairedGain(ss, losses[k], losses[best]); d <= se {
			return float64(k) / alphaSteps, means[0], means[k], means[alphaSteps]
		}
	}
	return float64(best) / alphaSteps, means[0], means[best], means[alphaSteps]
}

// logLoss is the log loss of the probability σ(z) for outcome y, computed
// without overflow as softplus(z) − y·z.
func logLoss(z float64, y bool) float64 {
	l := max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
	if y {
		l -= z
	}
	return l
}

// drawPositives returns at most want of the samples, drawn at random and
// weighted by the inverse of the share drawn.
func drawPositives(ss []failureSample, want int, rng *rand.Rand) []failureSample {
	if len(ss) <= want {
		return slices.Clone(ss)
	}
	out := make([]failureSample, 0, want)
	for _, i := range rng.Perm(len(ss))[:want] {
		s := ss[i]
		s.w = float64(len(ss)) / float64(want)
		out = append(out, s)
	}
	return out
}

// drawNegatives draws about want of the negative samples, each with
// probability π = min(1, k·max(p, p̄)), p its base probability, p̄ their
// mean and k set by bisection so that the π sum to want, and weights each
// drawn one by 1/π: an unbiased estimate of the negatives' loss, its
// variance low where a negative's gradient (p) is large, the hard
// negatives where the base raises a false alarm; the floor p̄ keeps the
// ordinary minutes in view.
func drawNegatives(ss []failureSample, want int, rng *rand.Rand) []failureSample {
	if len(ss) <= want {
		return slices.Clone(ss)
	}
	q := make([]float64, len(ss))
	var mean float64
	for i, s := range ss {
		q[i] = sigm(s.base)
		mean += q[i] / float64(len(ss))
	}
	lo, hi := 0.0, 1/max(mean, 1e-12)
	for i := range q {
		q[i] = max(q[i], mean, 1e-12)
	}
	kept := func(k float64) float64 {
		var n float64
		for _, v := range q {
			n += min(1, k*v)
		}
		return n
	}
	for kept(hi) < float64(want) {
		hi *= 2
	}
	for range 60 {
		if mid := (lo + hi) / 2; kept(mid) < float64(want) {
			lo = mid
		} else {
			hi = mid
		}
	}
	var out []failureSample
	for i, s := range ss {
		if pi := min(1, hi*q[i]); rng.Float64() < pi {
			s.w = 1 / pi
			out = append(out, s)
		}
	}
	return out
}

// Correction returns the model's correction of the base's logit after the
// last of the steps (Window or more steps of In features; the last Window
// are used): the failure probability is Correct(base, Correction(steps)).
func (m *FailureModel) Correction(steps [][]float64) float64 {
	if len(steps) < m.Window {
		panic("model: FailureModel.Correction needs Window steps")
	}
	return m.correction(steps, len(steps)-1)
}

// Correct returns σ(logit(base) + correction), base clipped to
// [1e-7, 1−1e-7]; base itself where the correction is 0, so that a model
// whose weight α is 0 serves the base exactly.
func Correct(base, correction float64) float64 {
	if correction == 0 {
		return base
	}
	return sigm(logit(base) + correction)
}

func (m *FailureModel) correction(steps [][]float64, end int) float64 {
	if m.Alpha == 0 {
		return 0
	}
	return m.Alpha * m.ensemble(steps, end)
}

// ensemble returns the networks' mean correction f after the step end.
func (m *FailureModel) ensemble(steps [][]float64, end int) float64 {
	m.x = m.sample(m.x, steps, end)
	var f float64
	for k, net := range m.nets {
		if m.Epochs[k] > 0 { // else its dense layer is zero
			f += net.forward(m.x, m.Window, nil)[0]
		}
	}
	return f / float64(len(m.nets))
}

// logit is ln(p/(1−p)), p clipped to [1e-7, 1−1e-7].
func logit(p float64) float64 {
	p = min(max(p, 1e-7), 1-1e-7)
	return math.Log(p / (1 - p))
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

// nextIncident returns the index of the first incident that starts in
// (t, t+h], −1 for none.
func nextIncident(incs []StepSpan, t, h int) int {
	for i, s := range incs {
		if s.Start > t && s.Start <= t+h {
			return i
		}
	}
	return -1
}

// failureModelKind names what a FailureModelState's networks output, and
// failureModelVersion the layout of the state, so that the state of a
// model that output something else, or of an older layout (version 1,
// before Version was recorded: one network and no weight α), is refused.
const (
	failureModelKind    = "logit-correction"
	failureModelVersion = 2
)

// FailureModelState is what a trained FailureModel needs to predict, for
// persisting it: its networks' weights, the correction's weight and the
// standardisation. It encodes as JSON.
type FailureModelState struct {
	Kind                            string
	Version                         int
	In, Window, Horizon, Incidents  int
	Epochs                          []int
	Alpha                           float64
	BaseLoss, Loss, FullLoss        float64
	Brier, BaseBrier, BaseRateBrier float64
	Hidden1, Hidden2                int
	Mean, Scale                     []float64
	// Networks holds each network's weights.
	Networks [][]float64
}

// State returns the model's state; the model and the state share nothing.
func (m *FailureModel) State() FailureModelState {
	o := m.nets[0].opts
	s := FailureModelState{
		Kind: failureModelKind, Version: failureModelVersion, In: m.In, Window: m.Window, Horizon: m.Horizon, Incidents: m.Incidents,
		Epochs: slices.Clone(m.Epochs), Alpha: m.Alpha, BaseLoss: m.BaseLoss, Loss: m.Loss, FullLoss: m.FullLoss,
		Brier: m.Brier, BaseBrier: m.BaseBrier, BaseRateBrier: m.BaseRateBrier, Hidden1: o.Hidden1, Hidden2: o.Hidden2,
		Mean: slices.Clone(m.mean), Scale: slices.Clone(m.scale),
	}
	for _, net := range m.nets {
		s.Networks = append(s.Networks, slices.Clone(net.params))
	}
	return s
}

// NewFailureModelFromState rebuilds a model from State's output, checking
// that its parts fit together.
func NewFailureModelFromState(s FailureModelState) (*FailureModel, error) {
	if s.Kind != failureModelKind {
		return nil, fmt.Errorf("cannot restore a failure model of kind %q, want %q", s.Kind, failureModelKind)
	}
	if s.Version != failureModelVersion {
		return nil, fmt.Errorf("cannot restore a failure model of version %d, want %d", max(s.Version, 1), failureModelVersion)
	}
	if s.In < 1 || s.Window < 1 || s.Hidden1 < 1 || s.Hidden2 < 1 || len(s.Mean) != s.In || len(s.Scale) != s.In {
		return nil, fmt.Errorf("cannot restore a failure model of %d features, window %d, %d×%d units from %d means and %d scales", s.In, s.Window, s.Hidden1, s.Hidden2, len(s.Mean), len(s.Scale))
	}
	if len(s.Networks) == 0 || len(s.Epochs) != len(s.Networks) || !(s.Alpha >= 0 && s.Alpha <= 1) {
		return nil, fmt.Errorf("cannot restore a failure model of %d networks, %d epochs and weight %v", len(s.Networks), len(s.Epochs), s.Alpha)
	}
	m := &FailureModel{
		In: s.In, Window: s.Window, Horizon: s.Horizon, Incidents: s.Incidents, Epochs: slices.Clone(s.Epochs),
		Alpha: s.Alpha, BaseLoss: s.BaseLoss, Loss: s.Loss, FullLoss: s.FullLoss,
		Brier: s.Brier, BaseBrier: s.BaseBrier, BaseRateBrier: s.BaseRateBrier,
		mean: slices.Clone(s.Mean), scale: slices.Clone(s.Scale), x: make([]float64, s.Window*s.In),
	}
	for k, p := range s.Networks {
		net := NewLSTM(s.In, 1, LSTMOptions{Hidden1: s.Hidden1, Hidden2: s.Hidden2})
		if len(p) != len(net.params) {
			return nil, fmt.Errorf("cannot restore a failure model: network %d has %d weights, want %d", k, len(p), len(net.params))
		}
		copy(net.params, p)
		m.nets = append(m.nets, net)
	}
	return m, nil
}
