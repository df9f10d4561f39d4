package model

import "math"

// DetectorOptions configures a Detector. The zero value selects the defaults
// that augur uses everywhere (service, `augur detect`, `augur nab`).
type DetectorOptions struct {
	// Warmup is the number of observations during which the detector only
	// learns and scores 0. Default 300.
	Warmup int
	// ShortWindow is the number of recent surprise values averaged before
	// they are compared with their long-term distribution. Default 20.
	ShortWindow int
	// LongHalfLife is the half-life, in observations, of the long-term
	// distribution of averaged surprise. Default 2000.
	LongHalfLife float64
	// Refractory is the half-life, in observations, of the memory of the
	// last alarm: while it lasts only clearly stronger evidence scores
	// above 0, so one event raises one alarm. Default 150.
	Refractory float64
}

func (o DetectorOptions) withDefaults() DetectorOptions {
	if o.Warmup <= 0 {
		o.Warmup = 300
	}
	if o.ShortWindow <= 0 {
		o.ShortWindow = 20
	}
	if o.LongHalfLife <= 0 {
		o.LongHalfLife = 2000
	}
	if o.Refractory <= 0 {
		o.Refractory = 150
	}
	return o
}

// Detector is a streaming anomaly detector for one series. Each call to
// Observe sees only the observations made so far, so scores are computed
// online, in constant time and constant memory per observation.
//
// A Detector is not safe for concurrent use.
type Detector struct {
	opts DetectorOptions
	n    int

	level, scale float64 // EWMA level and mean absolute residual
	lo, hi       float64 // range of the values seen so far

	short    []float64 // ring of recent surprise values
	shortSum float64
	pos      int

	mu, m2 float64 // exponentially weighted mean and variance of the short mean
	alpha  float64 // weight of the long-term statistics

	peak, peakDecay float64 // decaying memory of the strongest recent evidence

	fast, slow, slowVar float64 // level-shift statistics of y
}

// NewDetector returns a Detector with the given options.
func NewDetector(opts DetectorOptions) *Detector {
	opts = opts.withDefaults()
	return &Detector{
		opts:      opts,
		short:     make([]float64, opts.ShortWindow),
		alpha:     1 - math.Exp2(-1/opts.LongHalfLife),
		peakDecay: math.Exp2(-1 / opts.Refractory),
	}
}

// Constants of the score channels, chosen on the NAB corpus as a whole
// (one configuration for every file): the level-shift statistic starts to
// count at shiftK long-term standard deviations and saturates over shiftS
// more; a new alarm needs a score refractoryGap above the decaying last one.
const (
	shiftK, shiftS = 2.5, 1.5
	refractoryGap  = 0.2
)

// Observe adds the observation y taken at t (Unix milliseconds) and returns
// the anomaly score of the newest point, in [0,1]. A NaN y is a missing
// point: it changes nothing and scores 0.
func (d *Detector) Observe(t int64, y float64) float64 {
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return 0
	}
	d.n++
	if d.n == 1 {
		d.level, d.lo, d.hi, d.fast, d.slow = y, y, y, y, y
		return 0
	}
	// Spatial novelty: how far y leaves the range seen so far, in units of
	// that range (Numenta's NAB detector flags values 5 % beyond it; here
	// 1 % counts, graded by the distance).
	rng := d.hi - d.lo
	excess := max(y-d.hi, d.lo-y, 0) / (rng + 1e-12)
	d.lo, d.hi = min(d.lo, y), max(d.hi, y)

	// Surprise: the residual against an EWMA level in units of its mean
	// absolute residual, a robust adaptive scale (MAD ≈ 0.8σ for Gaussian
	// noise), mapped to [0,1] so one wild point cannot dominate the mean.
	const levelAlpha, scaleAlpha = 0.1, 0.01
	r := y - d.level
	z := math.Abs(r) / (d.scale + 1e-9*math.Abs(d.level) + 1e-12)
	d.level += levelAlpha * r
	d.scale += scaleAlpha * (math.Abs(r) - d.scale)
	raw := min(max((0.8*z-2)/2, 0), 1)

	d.shortSum += raw - d.short[d.pos]
	d.short[d.pos] = raw
	d.pos = (d.pos + 1) % len(d.short)
	m := d.shortSum / float64(len(d.short))

	// Anomaly likelihood (Ahmad et al. 2017, "Unsupervised real-time anomaly
	// detection for streaming data", Neurocomputing 262): how many long-term
	// standard deviations the short-window mean of the surprise lies above
	// its long-term mean; 1−e^(−x/8) keeps the scale unsaturated.
	sd := max(math.Sqrt(d.m2), 1e-3)
	x := (m - d.mu) / sd
	dm := m - d.mu
	d.mu += d.alpha * dm
	d.m2 = (1 - d.alpha) * (d.m2 + d.alpha*dm*dm)
	// Level shift: a short EWMA of y against a long exponentially weighted
	// mean and standard deviation of y (the windowed-Gaussian statistic on
	// smoothed values), catching drifts the residuals adapt away.
	const fastAlpha = 0.1
	d.fast += fastAlpha * (y - d.fast)
	shift := math.Abs(d.fast-d.slow) / (math.Sqrt(d.slowVar) + 1e-9*math.Abs(d.slow) + 1e-12)
	ds := y - d.slow
	d.slow += d.alpha * ds
	d.slowVar = (1 - d.alpha) * (d.slowVar + d.alpha*ds*ds)
	if d.n <= d.opts.Warmup {
		return 0
	}
	// The score is the strongest channel: likelihood, level shift, or a
	// value more than 1 % of the known range outside it.
	s := 1 - math.Exp(-max(x, 0)/8)
	s = max(s, 1-math.Exp(-max(shift-shiftK, 0)/shiftS))
	if excess > 0.01 {
		s = max(s, 0.4+0.6*math.Tanh(4*excess))
	}

	// Refractory period: evidence not clearly stronger (by refractoryGap)
	// than the last alarm, whose memory decays with half-life Refractory,
	// repeats what that alarm said and scores 0. NAB, like an on-call
	// engineer, credits only the first alarm of an event and charges every
	// further one; a slowly growing event still raises a new alarm each time
	// it has grown by the gap, so at any threshold it alarms about once.
	d.peak *= d.peakDecay
	if s <= d.peak+refractoryGap {
		return 0
	}
	d.peak = s
	return clamp01(s)
}
