package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/stat/distuv"
)

// LSTMOptions configures an LSTM network and its training. Zero fields take
// the defaults in brackets.
type LSTMOptions struct {
	// Hidden1 and Hidden2 are the units of the two LSTM layers [64, 32].
	Hidden1, Hidden2 int
	// Dropout is the probability of zeroing each output of both LSTM
	// layers during training (inverted dropout) [0.1]; negative means none.
	Dropout float64
	// Epochs [20], BatchSize [32] and LearningRate (Adam's step) [1e-3].
	Epochs, BatchSize int
	LearningRate      float64
	// Sigmoid squashes the outputs into (0, 1): with 0/1 targets the MSE
	// loss is then the Brier score, and outputs are probabilities.
	Sigmoid bool
	// Seed makes initialisation, shuffling and dropout reproducible.
	Seed uint64
}

func (o LSTMOptions) withDefaults() LSTMOptions {
	if o.Hidden1 <= 0 {
		o.Hidden1 = 64
	}
	if o.Hidden2 <= 0 {
		o.Hidden2 = 32
	}
	switch {
	case o.Dropout == 0:
		o.Dropout = 0.1
	case o.Dropout < 0:
		o.Dropout = 0
	}
	if o.Epochs <= 0 {
		o.Epochs = 20
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	if o.LearningRate <= 0 {
		o.LearningRate = 1e-3
	}
	return o
}

// LSTM is a two-layer LSTM network with a dense output layer, trained by
// minimising the mean squared error with Adam. Each layer is
//
//	z_t = W·[x_t; h_{t-1}] + b,  (i, f, g, o) = (σ, σ, tanh, σ)(z_t)
//	c_t = f⊙c_{t-1} + i⊙g,       h_t = o⊙tanh(c_t)
//
// (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000,
// its bias initialised to 1); the first layer's sequence of h feeds the
// second, whose last h feeds the dense layer ŷ = V·h + d (through σ with
// Sigmoid). Training backpropagates through time, clips the gradient to a
// global norm of 5 and applies Adam (Kingma & Ba, "Adam: A Method for
// Stochastic Optimization", ICLR 2015) with β = (0.9, 0.999); weights start
// Glorot-uniform. Everything random comes from Seed, and the computation is
// sequential, so training is deterministic. Matrix-vector products use
// gonum's BLAS. An LSTM is not safe for concurrent use.
type LSTM struct {
	// In and Out are the input features per step and the outputs.
	In, Out int
	opts    LSTMOptions

	params []float64 // all weights, in the blocks below
	offs   [6]int    // offsets of w1, b1, w2, b2, v, d in params
	w1, w2 blas64.General
	b1, b2 []float64
	v      blas64.General
	d      []float64

	ws lstmWork
}

// lstmWork is forward and backward scratch, grown as needed.
type lstmWork struct {
	l1, l2 layerCache
	mask1  []float64 // dropout masks: T×H1 and H2
	mask2  []float64
	h2     []float64 // last h of layer 2 after dropout
	y      []float64
	grad   []float64
	m, v   []float64 // Adam moments
	step   int
	dup    []float64 // layer-2 gradient w.r.t. its inputs, T×H1
	// output and hidden-state gradients of one sample: Out, T×H1, T×H2
	dy, dh1, dh2 []float64
}

// layerCache keeps what backpropagation needs of one layer over T steps.
type layerCache struct {
	xh   []float64 // T × (in+H): the concatenated inputs
	gate []float64 // T × 4H: i, f, g, o after their nonlinearities
	c    []float64 // (T+1) × H: cell states, c[0] = 0
	tc   []float64 // T × H: tanh(c_t)
	h    []float64 // T × H
	dz   []float64 // 4H
	dxh  []float64 // in+H
}

// NewLSTM returns an untrained network for inputs of in features per step
// and out outputs.
func NewLSTM(in, out int, opts LSTMOptions) *LSTM {
	if in < 1 || out < 1 {
		panic("model: NewLSTM needs at least one input and one output")
	}
	o := opts.withDefaults()
	n := &LSTM{In: in, Out: out, opts: o}
	h1, h2 := o.Hidden1, o.Hidden2
	sizes := []int{4 * h1 * (in + h1), 4 * h1, 4 * h2 * (h1 + h2), 4 * h2, out * h2, out}
	total := 0
	for i, s := range sizes {
		n.offs[i] = total
		total += s
	}
	n.params = make([]float64, total)
	p := n.params
	take := func(k int) []float64 { s := p[:k:k]; p = p[k:]; return s }
	n.w1 = blas64.General{Rows: 4 * h1, Cols: in + h1, Stride: in + h1, Data: take(sizes[0])}
	n.b1 = take(sizes[1])
	n.w2 = blas64.General{Rows: 4 * h2, Cols: h1 + h2, Stride: h1 + h2, Data: take(sizes[2])}
	n.b2 = take(sizes[3])
	n.v = blas64.General{Rows: out, Cols: h2, Stride: h2, Data: take(sizes[4])}
	n.d = take(sizes[5])
	rng := rand.New(rand.NewPCG(o.Seed, 0x15f3))
	glorot := func(w blas64.General, fanIn, fanOut int) {
		lim := math.Sqrt(6 / float64(fanIn+fanOut))
		for i := range w.Data {
			w.Data[i] = lim * (2*rng.Float64() - 1)
		}
	}
	glorot(n.w1, in+h1, 4*h1)
	glorot(n.w2, h1+h2, 4*h2)
	glorot(n.v, h2, out)
	for j := h1; j < 2*h1; j++ {
		n.b1[j] = 1 // forget gates
	}
	for j := h2; j < 2*h2; j++ {
		n.b2[j] = 1
	}
	return n
}

func sigm(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// forwardLayer runs one LSTM layer over T steps of x (T × in) and caches.
func forwardLayer(w blas64.General, b []float64, x []float64, in, T int, lc *layerCache) {
	H := len(b) / 4
	lc.xh = resize(lc.xh, T*(in+H))
	lc.gate = resize(lc.gate, T*4*H)
	lc.c = resize(lc.c, (T+1)*H)
	lc.tc = resize(lc.tc, T*H)
	lc.h = resize(lc.h, T*H)
	clear(lc.c[:H])
	for t := range T {
		xh := lc.xh[t*(in+H) : (t+1)*(in+H)]
		copy(xh[:in], x[t*in:(t+1)*in])
		if t == 0 {
			clear(xh[in:])
		} else {
			copy(xh[in:], lc.h[(t-1)*H:t*H])
		}
		z := lc.gate[t*4*H : (t+1)*4*H]
		copy(z, b)
		blas64.Gemv(blas.NoTrans, 1, w, blas64.Vector{N: in + H, Inc: 1, Data: xh}, 1, blas64.Vector{N: 4 * H, Inc: 1, Data: z})
		cp, c := lc.c[t*H:(t+1)*H], lc.c[(t+1)*H:(t+2)*H]
		tc, h := lc.tc[t*H:(t+1)*H], lc.h[t*H:(t+1)*H]
		for j := range H {
			ig, fg := sigm(z[j]), sigm(z[H+j])
			g, og := math.Tanh(z[2*H+j]), sigm(z[3*H+j])
			z[j], z[H+j], z[2*H+j], z[3*H+j] = ig, fg, g, og
			c[j] = fg*cp[j] + ig*g
			tc[j] = math.Tanh(c[j])
			h[j] = og * tc[j]
		}
	}
}

// backwardLayer backpropagates dh (T × H, the loss gradient w.r.t. each h_t
// from above) through the layer, accumulating into gw and gb, and writes the
// gradient w.r.t. the inputs x into dx (T × in) when dx is not nil.
func backwardLayer(w blas64.General, gw blas64.General, gb []float64, dh []float64, in, T int, lc *layerCache, dx []float64) {
	H := len(gb) / 4
	lc.dz = resize(lc.dz, 4*H)
	lc.dxh = resize(lc.dxh, in+H)
	dhNext := make([]float64, H)
	dcNext := make([]float64, H)
	for t := T - 1; t >= 0; t-- {
		gate := lc.gate[t*4*H : (t+1)*4*H]
		cp := lc.c[t*H : (t+1)*H]
		tc := lc.tc[t*H : (t+1)*H]
		for j := range H {
			ig, fg, g, og := gate[j], gate[H+j], gate[2*H+j], gate[3*H+j]
			d := dh[t*H+j] + dhNext[j]
			dc := dcNext[j] + d*og*(1-tc[j]*tc[j])
			lc.dz[j] = dc * g * ig * (1 - ig)
			lc.dz[H+j] = dc * cp[j] * fg * (1 - fg)
			lc.dz[2*H+j] = dc * ig * (1 - g*g)
			lc.dz[3*H+j] = d * tc[j] * og * (1 - og)
			dcNext[j] = dc * fg
		}
		xh := lc.xh[t*(in+H) : (t+1)*(in+H)]
		dzv := blas64.Vector{N: 4 * H, Inc: 1, Data: lc.dz}
		blas64.Ger(1, dzv, blas64.Vector{N: in + H, Inc: 1, Data: xh}, gw)
		for j, v := range lc.dz {
			gb[j] += v
		}
		blas64.Gemv(blas.Trans, 1, w, dzv, 0, blas64.Vector{N: in + H, Inc: 1, Data: lc.dxh})
		copy(dhNext, lc.dxh[in:])
		if dx != nil {
			copy(dx[t*in:(t+1)*in], lc.dxh[:in])
		}
	}
}

// forward computes the outputs for one sample x (T × In); with train, it
// draws dropout masks from rng.
func (n *LSTM) forward(x []float64, T int, rng *rand.Rand) []float64 {
	ws := &n.ws
	h2 := n.hidden(x, T, rng)
	ws.y = resize(ws.y, n.Out)
	copy(ws.y, n.d)
	blas64.Gemv(blas.NoTrans, 1, n.v, blas64.Vector{N: len(h2), Inc: 1, Data: h2}, 1, blas64.Vector{N: n.Out, Inc: 1, Data: ws.y})
	if n.opts.Sigmoid {
		for i, v := range ws.y {
			ws.y[i] = sigm(v)
		}
	}
	return ws.y
}

// hidden runs both LSTM layers over one sample x (T × In) and returns the
// second layer's last h after dropout, the dense layer's input; with rng,
// it draws dropout masks from it.
func (n *LSTM) hidden(x []float64, T int, rng *rand.Rand) []float64 {
	o := n.opts
	ws := &n.ws
	h1, h2 := o.Hidden1, o.Hidden2
	forwardLayer(n.w1, n.b1, x, n.In, T, &ws.l1)
	in2 := ws.l1.h
	ws.mask1 = resize(ws.mask1, T*h1)
	ws.mask2 = resize(ws.mask2, h2)
	dropout := func(mask []float64) {
		keep := 1 - o.Dropout
		for i := range mask {
			mask[i] = 1
			if rng != nil && o.Dropout > 0 {
				mask[i] = 0
				if rng.Float64() < keep {
					mask[i] = 1 / keep
				}
			}
		}
	}
	dropout(ws.mask1)
	dropout(ws.mask2)
	if rng != nil && o.Dropout > 0 {
		ws.dup = resize(ws.dup, T*h1)
		for i, v := range in2 {
			ws.dup[i] = v * ws.mask1[i]
		}
		in2 = ws.dup
	}
	forwardLayer(n.w2, n.b2, in2, h1, T, &ws.l2)
	ws.h2 = resize(ws.h2, h2)
	last := ws.l2.h[(T-1)*h2:]
	for j := range h2 {
		ws.h2[j] = last[j] * ws.mask2[j]
	}
	return ws.h2
}

// gradViews returns the gradient buffer's blocks, laid out as params.
func (n *LSTM) gradViews() (gw1 blas64.General, gb1 []float64, gw2 blas64.General, gb2 []float64, gv blas64.General, gd []float64) {
	g := n.ws.grad
	at := func(k int, s []float64) []float64 { o := n.offs[k]; return g[o : o+len(s) : o+len(s)] }
	gw1, gw2, gv = n.w1, n.w2, n.v
	gw1.Data, gw2.Data, gv.Data = at(0, n.w1.Data), at(2, n.w2.Data), at(4, n.v.Data)
	return gw1, at(1, n.b1), gw2, at(3, n.b2), gv, at(5, n.d)
}

// accumulate adds the gradient of the sample's squared error sum, scaled by
// scale, to ws.grad, after a forward pass with the same masks, and returns
// the squared error.
func (n *LSTM) accumulate(target []float64, T int, scale float64) float64 {
	ws := &n.ws
	ws.dy = resize(ws.dy, n.Out)
	var se float64
	for i, y := range ws.y {
		e := y - target[i]
		se += e * e
		ws.dy[i] = 2 * e * scale
		if n.opts.Sigmoid {
			ws.dy[i] *= y * (1 - y)
		}
	}
	n.backward(ws.dy, T)
	return se
}

// backward adds to ws.grad the gradient of a loss whose derivative with
// respect to the dense layer's outputs (before the sigmoid) is dy, after a
// forward pass over T steps with the same masks.
func (n *LSTM) backward(dy []float64, T int) {
	o := n.opts
	ws := &n.ws
	h1, h2 := o.Hidden1, o.Hidden2
	gw1, gb1, gw2, gb2, gv, gd := n.gradViews()
	for i, v := range dy {
		gd[i] += v
	}
	blas64.Ger(1, blas64.Vector{N: n.Out, Inc: 1, Data: dy}, blas64.Vector{N: h2, Inc: 1, Data: ws.h2}, gv)
	ws.dh2 = resize(ws.dh2, T*h2)
	dh2 := ws.dh2
	clear(dh2)
	last := dh2[(T-1)*h2:]
	blas64.Gemv(blas.Trans, 1, n.v, blas64.Vector{N: n.Out, Inc: 1, Data: dy}, 0, blas64.Vector{N: h2, Inc: 1, Data: last})
	for j := range last {
		last[j] *= ws.mask2[j]
	}
	ws.dh1 = resize(ws.dh1, T*h1)
	dh1 := ws.dh1
	clear(dh1)
	backwardLayer(n.w2, gw2, gb2, dh2, h1, T, &ws.l2, dh1)
	for i := range dh1 {
		dh1[i] *= ws.mask1[i]
	}
	backwardLayer(n.w1, gw1, gb1, dh1, n.In, T, &ws.l1, nil)
}

// startTraining sizes the gradient and Adam's moments.
func (n *LSTM) startTraining() {
	ws := &n.ws
	ws.grad = resize(ws.grad, len(n.params))
	clear(ws.grad)
	if len(ws.m) != len(n.params) {
		ws.m = make([]float64, len(n.params))
		ws.v = make([]float64, len(n.params))
	}
}

// adamStep applies ws.grad, clipped to a global norm of 5, by one step of
// Adam with β = (0.9, 0.999), and clears it.
func (n *LSTM) adamStep() {
	const b1, b2, eps, maxNorm = 0.9, 0.999, 1e-8, 5.0
	ws := &n.ws
	var norm float64
	for _, g := range ws.grad {
		norm += g * g
	}
	clip := 1.0
	if norm = math.Sqrt(norm); norm > maxNorm {
		clip = maxNorm / norm
	}
	ws.step++
	c1 := 1 - math.Pow(b1, float64(ws.step))
	c2 := 1 - math.Pow(b2, float64(ws.step))
	lr := n.opts.LearningRate
	for k, g := range ws.grad {
		g *= clip
		ws.m[k] = b1*ws.m[k] + (1-b1)*g
		ws.v[k] = b2*ws.v[k] + (1-b2)*g*g
		n.params[k] -= lr * (ws.m[k] / c1) / (math.Sqrt(ws.v[k]/c2) + eps)
	}
	clear(ws.grad)
}

// Train fits the network to samples x[i] (steps × In values, step-major)
// with targets y[i] (Out values), for Epochs passes in shuffled mini-batches,
// and returns the mean squared error of each epoch (with dropout on).
func (n *LSTM) Train(x [][]float64, steps int, y [][]float64) ([]float64, error) {
	if len(x) == 0 || len(x) != len(y) {
		return nil, fmt.Errorf("cannot train on %d samples with %d targets", len(x), len(y))
	}
	if steps < 1 {
		return nil, errors.New("cannot train on windows of no steps")
	}
	for i := range x {
		if len(x[i]) != steps*n.In || len(y[i]) != n.Out {
			return nil, fmt.Errorf("sample %d has %d inputs and %d targets, want %d and %d", i, len(x[i]), len(y[i]), steps*n.In, n.Out)
		}
	}
	o := n.opts
	n.startTraining()
	rng := rand.New(rand.NewPCG(o.Seed, 0xd20))
	order := make([]int, len(x))
	for i := range order {
		order[i] = i
	}
	losses := make([]float64, 0, o.Epochs)
	for range o.Epochs {
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var sse float64
		for start := 0; start < len(order); start += o.BatchSize {
			batch := order[start:min(start+o.BatchSize, len(order))]
			scale := 1 / float64(len(batch)*n.Out)
			for _, i := range batch {
				n.forward(x[i], steps, rng)
				sse += n.accumulate(y[i], steps, scale)
			}
			n.adamStep()
		}
		losses = append(losses, sse/float64(len(x)*n.Out))
	}
	return losses, nil
}

// Predict writes the network's outputs for one sample (steps × In values)
// into dst, without dropout, and returns it.
func (n *LSTM) Predict(dst, x []float64) []float64 {
	if len(x) == 0 || len(x)%n.In != 0 {
		panic("model: LSTM.Predict input is not a whole number of steps")
	}
	y := n.forward(x, len(x)/n.In, nil)
	return append(dst[:0], y...)
}

// LSTMForecastOptions configures FitLSTMForecaster.
type LSTMForecastOptions struct {
	// Window is the number of past values the network sees [48].
	Window int
	// MaxSamples bounds the training windows, the most recent kept [2000].
	MaxSamples int
	LSTMOptions
}

// LSTMForecaster forecasts a series one step at a time with an LSTM on its
// last Window values, standardised by the training mean and standard
// deviation; multi-step forecasts feed forecasts back. Its h-step interval
// is z·σ·sqrt(h), σ the in-sample one-step RMSE: a random-walk growth, not a
// property of the network, so use it through Select-style conformal
// calibration (Calibrated) where coverage matters. Update costs one forward
// pass (O(Window·(H1² + H2²))), far from the O(1) of the exponential
// smoothers, which is why Select does not try it by default.
type LSTMForecaster struct {
	Net *LSTM
	// Window, the standardisation and the in-sample RMSE σ.
	Window     int
	Mean, Std  float64
	Sigma      float64
	N          int
	hist       []float64 // standardised, ring of Window values
	pos        int
	in, out, y []float64
}

// FitLSTMForecaster trains an LSTMForecaster on y (missing values are
// interpolated).
func FitLSTMForecaster(y []float64, opts LSTMForecastOptions) (*LSTMForecaster, error) {
	if opts.Window <= 0 {
		opts.Window = 48
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = 2000
	}
	x := fillGaps(y)
	if len(x) < opts.Window+8 {
		return nil, fmt.Errorf("cannot train an LSTM with window %d on %d points: %w", opts.Window, len(x), ErrTooShort)
	}
	var mean, ss float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	std := math.Sqrt(ss / float64(len(x)))
	if std == 0 {
		std = 1
	}
	z := make([]float64, len(x))
	for i, v := range x {
		z[i] = (v - mean) / std
	}
	W := opts.Window
	first := max(W, len(z)-opts.MaxSamples)
	var xs, ys [][]float64
	for t := first; t < len(z); t++ {
		xs = append(xs, z[t-W:t])
		ys = append(ys, z[t:t+1])
	}
	net := NewLSTM(1, 1, opts.LSTMOptions)
	if _, err := net.Train(xs, W, ys); err != nil {
		return nil, err
	}
	f := &LSTMForecaster{Net: net, Window: W, Mean: mean, Std: std, hist: make([]float64, W)}
	var se float64
	var out []float64
	for i := range xs {
		out = net.Predict(out, xs[i])
		e := (out[0] - ys[i][0]) * std
		se += e * e
	}
	f.Sigma = math.Sqrt(se / float64(len(xs)))
	copy(f.hist, z[len(z)-W:])
	f.N = len(y)
	return f, nil
}

// window returns the standardised history, oldest first, in f.in.
func (f *LSTMForecaster) window() []float64 {
	f.in = resize(f.in, f.Window)
	n := copy(f.in, f.hist[f.pos:])
	copy(f.in[n:], f.hist[:f.pos])
	return f.in
}

// OneStep returns the network's forecast of the next value.
func (f *LSTMForecaster) OneStep() float64 {
	f.out = f.Net.Predict(f.out, f.window())
	return f.Mean + f.Std*f.out[0]
}

// Update appends y (a missing y is replaced by the forecast).
func (f *LSTMForecaster) Update(y float64) {
	z := (y - f.Mean) / f.Std
	if !finite(y) {
		f.out = f.Net.Predict(f.out, f.window())
		z = f.out[0]
	}
	f.hist[f.pos] = z
	f.pos = (f.pos + 1) % f.Window
	f.N++
}

// PredictInto iterates the one-step forecast h times.
func (f *LSTMForecaster) PredictInto(dst *Forecast, h int, level float64) error {
	if err := checkPredict(dst, h, level); err != nil {
		return err
	}
	dst.Resize(h)
	dst.Level = level
	zq := distuv.UnitNormal.Quantile((1 + level) / 2)
	f.y = append(f.y[:0], f.window()...)
	for j := range h {
		f.out = f.Net.Predict(f.out, f.y[len(f.y)-f.Window:])
		f.y = append(f.y, f.out[0])
		p := f.Mean + f.Std*f.out[0]
		w := zq * f.Sigma * math.Sqrt(float64(j+1))
		dst.Point[j], dst.Lower[j], dst.Upper[j] = p, p-w, p+w
	}
	return nil
}

// Name is "lstm".
func (f *LSTMForecaster) Name() string { return "lstm" }

// Params returns the architecture and σ.
func (f *LSTMForecaster) Params() map[string]float64 {
	o := f.Net.opts
	return map[string]float64{
		"window": float64(f.Window), "hidden1": float64(o.Hidden1), "hidden2": float64(o.Hidden2),
		"dropout": o.Dropout, "epochs": float64(o.Epochs), "sigma": f.Sigma,
	}
}
