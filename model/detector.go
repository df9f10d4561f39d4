package model

import (
	"math"
	"unsafe"
)

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
	// last alarm (see Alarm): while it lasts only clearly stronger evidence
	// raises a new alarm, so one event raises one alarm. Default 150.
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

// Constants of the score channels, chosen on the NAB corpus as a whole (one
// configuration for every file, see nab/), never per file.
const (
	// The level-shift statistic starts to count at shiftK long-term
	// standard deviations and saturates over shiftS more.
	shiftK, shiftS = 2.5, 1.5
	// A new alarm needs an onset score refractoryGap above the decaying
	// last one.
	refractoryGap = 0.2
	// A value more than excessMin of the known range outside it scores at
	// least excessBase.
	excessMin, excessBase = 0.005, 0.4
	// The anomaly likelihood x (in long-term standard deviations) scores
	// 1−e^(−x/likScale).
	likScale = 8
	// Seasonal predictor: a daily profile around a level that remembers
	// about a day, used for the surprise once its mean absolute error is
	// below seasonRatio times that of the EWMA level. seasonGamma is the
	// profile's smoothing weight per day. The level must be slow: a level
	// that follows the series within minutes (Holt-Winters with α = 0.1)
	// absorbs the daily shape, leaves the profile only the transitions,
	// and cannot see a day whose peak never comes.
	seasonRatio, seasonGamma = 0.8, 0.3
	// Weekly predictor: a weekly profile around a level that remembers
	// about a week, used for the surprise once its mean absolute error is
	// below weekRatio times that of both the EWMA level and the daily
	// predictor; weekGamma is the profile's smoothing weight per week.
	// Kept only while the week fits in maxPeriod points.
	weekRatio, weekGamma = 0.7, 0.2
	// maxPeriod bounds the seasonal profile (one day at 21 s steps).
	maxPeriod = 4096
	// Context novelty: values are quantised into ctxBins bins of the known
	// range; a context is the last ctxLen bins. A never-seen context scores
	// noveltyWeight·e^(−noveltyK·rate), rate being the exponentially
	// weighted rate of novel contexts (weight noveltyAlpha per point).
	ctxBins, ctxLen                       = 5, 2
	noveltyWeight, noveltyK, noveltyAlpha = 0.9, 300, 0.0005
	ctxStates                             = ctxBins * ctxBins // ctxBins^ctxLen
	// Sustained deviation (continuous score only, not tuned on NAB): the
	// slow level's EWMA weight, the weight of its mean absolute error, the
	// smoothing weight of the standardised residual, and the smoothed
	// residual beyond which the error scale is frozen.
	sustainAlpha, sustainScaleAlpha, sustain, sustainHold = 0.005, 0.002, 0.3, 3
)

const dayMillis = 86400000

// Detector is a streaming anomaly detector for one series. Each call to
// Observe sees only the observations made so far, so scores are computed
// online, in constant time and bounded memory per series (a daily and a
// weekly profile of at most maxPeriod values each, 16 KiB; a daily one of
// 1,440 values, 2.8 KiB, at one-minute steps, where the week does not fit).
// The profiles keep 16 bits a phase (profile16): each phase is an
// exponential average of a few days' deviations from the level, and their
// rounding (3e-5 of the largest deviation) is far below the noise they
// average.
//
// The detector combines several channels, each mapped to [0,1]:
//
//   - likelihood: the surprise |y − prediction| against an EWMA level or,
//     where a daily cycle explains the series better, a daily profile
//     around a day-long level (or, where a weekly one explains it better
//     still, a weekly profile: a holiday is a departure from the week's
//     shape, not the day's), in units of its mean absolute error, averaged
//     over ShortWindow points and compared with its own long-term
//     distribution (the anomaly likelihood of Ahmad et al. 2017,
//     "Unsupervised real-time anomaly detection for streaming data",
//     Neurocomputing 262);
//   - level shift: a fast EWMA of y against a slow exponentially weighted
//     mean and standard deviation of y;
//   - range: a value outside the range seen so far, graded by how far;
//   - context novelty: a never-seen sequence of quantised values while
//     novel sequences have become rare (after the CAD OSE detector, Smirnov
//     2016, NAB's contextOSE);
//   - sustained deviation (continuous score only): the smoothed residual
//     against slowly adapting predictors, which stays high while a shift,
//     ramp or other departure lasts.
//
// Observe returns the continuous score: the strongest channel. Alarm
// returns the NAB-style alarm derived from the first four (the onset
// score): non-zero only where the onset score clearly exceeds the decaying
// memory of the last alarm.
//
// A Detector is not safe for concurrent use.
type Detector struct {
	opts DetectorOptions
	n    int

	level, scale float64 // EWMA level and mean absolute residual
	lo, hi       float64 // range of the values seen so far

	lastT, step int64     // last timestamp, smallest positive spacing seen
	period      int       // points per day, 0 without a seasonal predictor
	prof        profile16 // daily profile of the seasonal predictor
	wprof       profile16 // weekly profile, empty unless 7·period ≤ maxPeriod
	wLevel      float64   // the weekly predictor's deseasonalised level
	errW        float64   // mean absolute error of the weekly predictor
	errL, errS  float64   // mean absolute errors of level and seasonal predictors

	short    []float64 // ring of recent surprise values
	shortSum float64
	pos      int

	mu, m2 float64 // exponentially weighted mean and variance of the short mean
	alpha  float64 // weight of the long-term statistics

	peak, peakDecay float64 // decaying memory of the last alarm
	alarm           float64

	fast, slow, slowVar float64 // level-shift statistics of y

	ctx      int                           // last ctxLen bins, base ctxBins
	seen     [(ctxStates + 63) / 64]uint64 // contexts seen so far
	novelAvg float64

	// sustained deviation: slow level, the seasonal predictor's
	// deseasonalised level, their mean absolute errors (clipped) and the
	// smoothed standardised residual.
	sLevel, sSeason, sErrL, sErrS, sz float64
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

// Alarm returns the alarm score of the latest observation, in [0,1]: the
// onset score where it exceeds the memory of the last alarm (decaying with
// half-life Refractory) by refractoryGap, else 0. So at any threshold an
// event raises about one alarm, and a slowly growing event a new one each
// time it has grown by the gap. This is NAB's alarm policy (NAB credits
// the first detection in a window and charges every detection outside
// one); `augur nab` and `augur detect`'s NAB-format output use it. The
// service uses the continuous score that Observe returns instead.
func (d *Detector) Alarm() float64 { return d.alarm }

// Observe adds the observation y taken at t (Unix milliseconds) and returns
// the continuous anomaly score of the newest point, in [0,1]: near 0 for
// points the models explain, near 1 for points they do not, and it stays
// high while a departure (level shift, ramp, out-of-range values) lasts,
// until the slow models have adapted to it. A NaN or infinite y is a
// missing point: it changes nothing and scores 0, as does every point of
// the first Warmup.
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
		d.level, d.lo, d.hi, d.fast, d.slow = y, y, y, y, y
		d.sLevel, d.sSeason = y, y
		return 0
	}
	// The daily cycle, when the spacing divides a day, decided once.
	if d.n == 50 && d.step > 0 && dayMillis%d.step == 0 {
		if p := int(dayMillis / d.step); p >= 12 && p <= maxPeriod {
			d.period = p
			d.prof = makeProfile16(p)
			if 7*p <= maxPeriod {
				d.wprof = makeProfile16(7 * p)
				d.wLevel = y
			}
		}
	}

	// Range novelty: how far y leaves the range seen so far, in units of
	// that range (Numenta's NAB detector flags values 5 % beyond it).
	rng := d.hi - d.lo
	excess := max(y-d.hi, d.lo-y, 0) / (rng + 1e-12)

	// Context novelty on the range known before y.
	b := 0
	if rng > 0 {
		b = min(max(int(ctxBins*(y-d.lo)/rng), 0), ctxBins-1)
	}
	d.ctx = (d.ctx*ctxBins + b) % ctxStates
	novel := 0.0
	if d.n > ctxLen {
		if w, m := d.ctx/64, uint64(1)<<(d.ctx%64); d.seen[w]&m == 0 {
			d.seen[w] |= m
			novel = 1
		}
	}
	d.lo, d.hi = min(d.lo, y), max(d.hi, y)

	// Surprise: the residual against the better predictor in units of its
	// mean absolute error (≈ 0.8σ for Gaussian noise), mapped to [0,1] so
	// one wild point cannot dominate the mean.
	const levelAlpha, scaleAlpha, errAlpha = 0.1, 0.01, 0.005
	r := y - d.level
	zscale := d.scale
	susPred, susErr := d.sLevel, d.sErrL
	if d.period > 0 {
		ph := int((t % dayMillis) / d.step % int64(d.period))
		if ph < 0 {
			ph += d.period
		}
		p := d.sSeason + d.prof.at(ph)
		rs := y - p
		d.errL += errAlpha * (math.Abs(r) - d.errL)
		d.errS += errAlpha * (math.Abs(rs) - d.errS)
		ready := d.n > 2*d.period+50
		if ready && d.errS < seasonRatio*d.errL {
			r, zscale = rs, d.errS
		}
		d.sErrS = d.clippedErr(d.sErrS, rs)
		if ready && d.sErrS < d.sErrL {
			susPred, susErr = p, d.sErrS
		}
		if pw := d.wprof.len(); pw > 0 {
			phw := int((t % (7 * dayMillis)) / d.step % int64(pw))
			if phw < 0 {
				phw += pw
			}
			wp := d.wprof.at(phw)
			rw := y - d.wLevel - wp
			d.errW += errAlpha * (math.Abs(rw) - d.errW)
			if d.n > 2*pw+50 && d.errW < weekRatio*min(d.errL, d.errS) {
				r, zscale = rw, d.errW
			}
			d.wLevel += (y - wp - d.wLevel) / float64(pw)
			d.wprof.set(phw, wp+weekGamma*(y-d.wLevel-wp))
			if d.n%pw == 0 {
				d.wprof.tighten()
			}
		}
		dp := d.prof.at(ph)
		d.sSeason += (y - dp - d.sSeason) / float64(d.period)
		d.prof.set(ph, dp+seasonGamma*(y-d.sSeason-dp))
		if d.n%d.period == 0 {
			d.prof.tighten()
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

	// Anomaly likelihood: how many long-term standard deviations the
	// short-window mean of the surprise lies above its long-term mean.
	sd := max(math.Sqrt(d.m2), 1e-3)
	x := (m - d.mu) / sd
	dm := m - d.mu
	d.mu += d.alpha * dm
	d.m2 = (1 - d.alpha) * (d.m2 + d.alpha*dm*dm)

	// Level shift: a short EWMA of y against a long exponentially weighted
	// mean and standard deviation of y, catching drifts the residuals adapt
	// away.
	const fastAlpha = 0.1
	d.fast += fastAlpha * (y - d.fast)
	shift := math.Abs(d.fast-d.slow) / (math.Sqrt(d.slowVar) + 1e-9*math.Abs(d.slow) + 1e-12)
	ds := y - d.slow
	d.slow += d.alpha * ds
	d.slowVar = (1 - d.alpha) * (d.slowVar + d.alpha*ds*ds)

	// Sustained deviation: the residual against the slow predictor in
	// units of its (clipped, so an anomaly does not inflate it) mean
	// absolute error, smoothed over a few points.
	sz := math.Abs(y-susPred) / (1.25*susErr + 1e-9*math.Abs(susPred) + 1e-12)
	d.sErrL = d.clippedErr(d.sErrL, y-d.sLevel)
	d.sLevel += sustainAlpha * (y - d.sLevel)
	d.sz += sustain * (min(sz, 50) - d.sz)

	rate := d.novelAvg
	d.novelAvg += noveltyAlpha * (novel - d.novelAvg)
	if d.n <= d.opts.Warmup {
		return 0
	}

	// The onset score is the strongest channel.
	s := 1 - math.Exp(-max(x, 0)/likScale)
	s = max(s, 1-math.Exp(-max(shift-shiftK, 0)/shiftS))
	if excess > excessMin {
		s = max(s, excessBase+(1-excessBase)*math.Tanh(4*excess))
	}
	if novel > 0 {
		s = max(s, noveltyWeight*math.Exp(-noveltyK*rate))
	}
	s = clamp01(s)

	d.peak *= d.peakDecay
	if s > d.peak+refractoryGap {
		d.peak = s
		d.alarm = s
	}
	// The sustained channel starts to count beyond 1.5 mean errors of the
	// smoothed residual and is ≈ 0.95 at 4.5.
	return clamp01(max(s, 1-math.Exp(-max(d.sz-1.5, 0))))
}

// Bytes returns the memory the detector holds: its profiles, the ring of
// recent surprise values and its header.
func (d *Detector) Bytes() int {
	return int(unsafe.Sizeof(*d)) + 8*cap(d.short) + d.prof.bytes() + d.wprof.bytes()
}

// clippedErr updates the mean absolute error e with residual r. After the
// warm-up a residual counts at most 4e, and none while the smoothed
// residual is beyond sustainHold, so that an anomaly does not widen the
// scale it is measured in.
func (d *Detector) clippedErr(e, r float64) float64 {
	r = math.Abs(r)
	if d.n > d.opts.Warmup {
		if d.sz > sustainHold {
			return e
		}
		r = min(r, 4*e)
	}
	return e + sustainScaleAlpha*(r-e)
}
