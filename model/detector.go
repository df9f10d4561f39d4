package model

import "math"

// kn holds tunables during development.
var kn = [32]float64{
	0:  2.5,  // shiftK
	1:  1.5,  // shiftS
	2:  0.2,  // refractoryGap
	3:  0.01, // excess min
	4:  0,    // use season (0/1)
	5:  0.8,  // season must beat level by this ratio
	6:  0.1,  // season level alpha
	7:  0.2,  // season gamma
	8:  0,    // youth: range excess needs n > kn8 * ... (0 = off)
	9:  8,    // likelihood scale
	10: 0,    // context novelty weight (0 = off)
	11: 8,    // context bins
	12: 3,    // context length
	13: 0.4,  // excess base
	14: 0,
	15: 0.002,
	16: 300,
	17: 0,
	18: 150,
	19: 0,
}

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
		o.Warmup = int(kn[16])
	}
	if o.ShortWindow <= 0 {
		o.ShortWindow = 20
	}
	if o.LongHalfLife <= 0 {
		o.LongHalfLife = 2000
	}
	if o.Refractory <= 0 {
		o.Refractory = kn[18]
	}
	return o
}

const day = 86400000 // ms

// Detector is a streaming anomaly detector for one series.
type Detector struct {
	opts DetectorOptions
	n    int

	level, scale float64 // EWMA level and mean absolute residual
	lo, hi       float64 // range of the values seen so far

	// seasonal predictor
	lastT        int64
	step         int64
	period       int
	seas         []float64
	slevel       float64
	errL, errS   float64
	seasonActive bool

	short    []float64 // ring of recent surprise values
	shortSum float64
	pos      int

	mu, m2 float64
	alpha  float64

	peak, peakDecay float64
	alarm           float64

	fast, slow, slowVar float64

	// context novelty
	ctx      uint32
	seen     []uint64
	novelAvg float64
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

// Alarm returns the NAB-style suppressed score of the latest point.
func (d *Detector) Alarm() float64 { return d.alarm }

// Observe adds y at t and returns the continuous score.
func (d *Detector) Observe(t int64, y float64) float64 {
	d.alarm = 0
	if math.IsNaN(y) || math.IsInf(y, 0) {
		return 0
	}
	d.n++
	if d.n > 1 {
		if dt := t - d.lastT; dt > 0 && (d.step == 0 || dt < d.step) {
			d.step = dt
		}
	}
	d.lastT = t
	if d.n == 1 {
		d.level, d.lo, d.hi, d.fast, d.slow, d.slevel = y, y, y, y, y, y
		return 0
	}
	if d.n == 50 && kn[4] > 0 && d.step > 0 && day%d.step == 0 {
		if p := int(day / d.step); p >= 12 && p <= 4096 {
			d.period = p
			d.seas = make([]float64, p)
		}
	}
	rng := d.hi - d.lo
	excess := max(y-d.hi, d.lo-y, 0) / (rng + 1e-12)

	// context novelty on the range known before y
	novel := 0.0
	if kn[10] > 0 {
		bins := int(kn[11])
		b := 0
		if rng > 0 {
			b = min(max(int(float64(bins)*(y-d.lo)/rng), 0), bins-1)
		}
		k := int(kn[12])
		size := 1
		for range k {
			size *= bins
		}
		if d.seen == nil {
			d.seen = make([]uint64, (size+63)/64)
		}
		d.ctx = (d.ctx*uint32(bins) + uint32(b)) % uint32(size)
		if d.n > k {
			w, m := d.ctx/64, uint64(1)<<(d.ctx%64)
			if d.seen[w]&m == 0 {
				d.seen[w] |= m
				novel = 1
			}
		}
	}
	d.lo, d.hi = min(d.lo, y), max(d.hi, y)

	const levelAlpha, scaleAlpha = 0.1, 0.01
	r := y - d.level
	zscale := d.scale
	if d.period > 0 {
		ph := int((t % day) / d.step % int64(d.period))
		if ph < 0 {
			ph += d.period
		}
		rs := y - d.slevel - d.seas[ph]
		d.errL += 0.005 * (math.Abs(r) - d.errL)
		d.errS += 0.005 * (math.Abs(rs) - d.errS)
		d.seasonActive = d.n > 2*d.period+50 && d.errS < kn[5]*d.errL
		sa, sg := kn[6], kn[7]
		d.slevel += sa * (y - d.seas[ph] - d.slevel)
		d.seas[ph] += sg * (y - d.slevel - d.seas[ph])
		if d.seasonActive {
			r = rs
			zscale = d.errS * 1.0
		}
	}
	z := math.Abs(r) / (zscale + 1e-9*math.Abs(d.level) + 1e-12)
	d.level += levelAlpha * (y - d.level)
	d.scale += scaleAlpha * (math.Abs(y-d.level) - d.scale)
	raw := min(max((0.8*z-2)/2, 0), 1)

	d.shortSum += raw - d.short[d.pos]
	d.short[d.pos] = raw
	d.pos = (d.pos + 1) % len(d.short)
	m := d.shortSum / float64(len(d.short))

	sd := max(math.Sqrt(d.m2), 1e-3)
	x := (m - d.mu) / sd
	dm := m - d.mu
	d.mu += d.alpha * dm
	d.m2 = (1 - d.alpha) * (d.m2 + d.alpha*dm*dm)
	const fastAlpha = 0.1
	d.fast += fastAlpha * (y - d.fast)
	shift := math.Abs(d.fast-d.slow) / (math.Sqrt(d.slowVar) + 1e-9*math.Abs(d.slow) + 1e-12)
	ds := y - d.slow
	d.slow += d.alpha * ds
	d.slowVar = (1 - d.alpha) * (d.slowVar + d.alpha*ds*ds)
	nv := d.novelAvg
	d.novelAvg += kn[15] * (novel - d.novelAvg)
	if d.n <= d.opts.Warmup {
		return 0
	}
	c1 := 1 - math.Exp(-max(x, 0)/kn[9])
	c2 := 1 - math.Exp(-max(shift-kn[0], 0)/kn[1])
	c3 := 0.0
	if excess > kn[3] {
		c3 = kn[13] + (1-kn[13])*math.Tanh(4*excess)
		if kn[8] > 0 {
			c3 *= min(1, float64(d.n)/kn[8])
		}
	}
	c4 := 0.0
	if novel > 0 && kn[10] > 0 {
		c4 = kn[10] * math.Exp(-nv*kn[14])
	}
	s := max(c1, c2, c3, c4)
	if kn[17] > 0 {
		// noisy-or blend
		or := 1 - (1-c1)*(1-c2)*(1-c3)*(1-c4)
		s = (1-kn[17])*s + kn[17]*or
	}
	s = clamp01(s)

	d.peak *= d.peakDecay
	if s > d.peak+kn[2] {
		d.peak = s
		d.alarm = s
	} else if kn[19] > 0 {
		d.peak = max(d.peak, s-kn[19])
	}
	return s
}
