package model

import "math"

// Constants of the seasonal residual predictor (see SeasonalResiduals).
const (
	// maxProfileBins bounds each signal's daily profile: 288 bins are five
	// minutes each, so a 15 s series costs what a 5-minute one does.
	maxProfileBins = 288
	// profileGamma is the weight of a new day in a profile bin.
	profileGamma = 0.1
	// flatLevelAlpha is the EWMA weight of the level of a signal without a
	// daily profile.
	flatLevelAlpha = 0.1
	// residHalfLife is the half-life, in steps, of each signal's residual
	// variance; residClip caps a residual's contribution to it at
	// residClip² variances once warmed up, so one spike does not widen it.
	residHalfLife, residClip = 2000, 4
	// rangeFloor: residuals are measured in at least rangeFloor of the
	// range of the values seen so far, so a signal that was constant until
	// now scores a bounded (≤ 1/rangeFloor) standardised residual, and the
	// unit of the signal cancels.
	rangeFloor = 0.01
	// residWarmup is the number of steps during which residual variances
	// learn from unclipped residuals.
	residWarmup = 500
)

// SeasonalResiduals turns each step of an entity's signals into the vector
// of their standardised one-step residuals, the input of an EntityDetector.
// Each signal j is predicted by a daily profile around a level that
// remembers about a day,
//
//	ŷ_j(t) = ℓ_j + s_j[bin(t)],   e_j = y_j − ŷ_j,   z_j = e_j / (σ_j + rangeFloor·(max_j − min_j)),
//
// where bin(t) is the time of day in at most 288 bins, ℓ_j moves by 1/P of
// the deseasonalised residual per step (P steps a day), the bin by
// profileGamma per day, and σ_j² is an exponentially weighted mean of e_j²
// (half-life 2000 steps, clipped at 4σ after the warm-up). Without a daily
// cycle at the step (a step that does not divide a day into 12 or more),
// ŷ_j is an EWMA level; so it is until the step is known (see
// NewSeasonalResiduals). This is the per-series Detector's seasonal
// predictor (slow level, profile updated per day) reduced to what an entity
// model needs; z is invariant to each signal's unit and offset.
//
// State: 9 + 4·signals float64 and signals·bins for the profiles: 43 KiB
// for 19 signals at 5-minute steps (StateBytes). Not safe for concurrent use.
type SeasonalResiduals struct {
	bins, perDay int     // profile bins and steps per day, 0 without a profile
	start        int     // observations before the profile started
	binMillis    int64   // width of a bin
	levelW, binW float64 // per-step weights of the level and of a bin
	n            int

	probe       bool  // the step is still being measured
	lastT, step int64 // last timestamp and smallest spacing while probing

	level, vr, lo, hi []float64
	prof              []float64 // signals × bins
	seen              []bool    // a signal has had a value
}

// NewSeasonalResiduals returns the residual predictor of an entity with the
// given number of signals observed every stepMillis milliseconds, or, with
// stepMillis 0, at the smallest spacing of the first stepProbe
// observations' timestamps (so a score depends only on the rows before it).
func NewSeasonalResiduals(signals int, stepMillis int64) *SeasonalResiduals {
	if signals < 1 {
		panic("model: NewSeasonalResiduals needs at least one signal")
	}
	r := &SeasonalResiduals{
		level: make([]float64, signals),
		vr:    make([]float64, signals),
		lo:    make([]float64, signals),
		hi:    make([]float64, signals),
		seen:  make([]bool, signals),
		probe: stepMillis <= 0,
	}
	r.setStep(stepMillis)
	return r
}

// stepProbe is the number of observations whose spacing decides the step
// when the constructor was not given one.
const stepProbe = 50

// setStep sets up the daily profiles when the step divides a day into 12
// or more.
func (r *SeasonalResiduals) setStep(stepMillis int64) {
	if stepMillis > 0 && dayMillis%stepMillis == 0 && dayMillis/stepMillis >= 12 {
		perDay := dayMillis / stepMillis
		r.bins = int(min(perDay, maxProfileBins))
		r.binMillis = dayMillis / int64(r.bins)
		r.perDay = int(perDay)
		r.levelW = 1 / float64(perDay)
		// A bin is visited perDay/bins times a day; together they move it
		// by profileGamma.
		r.binW = 1 - math.Pow(1-profileGamma, float64(r.bins)/float64(perDay))
		r.prof = make([]float64, len(r.level)*r.bins)
		r.start = r.n
	}
}

// Observe takes the signals' values y at t (Unix milliseconds; NaN or ±Inf
// for a missing value) and writes their standardised residuals into z
// (len(y) == len(z) == signals): 0 for a missing value or a signal's first.
func (r *SeasonalResiduals) Observe(t int64, y, z []float64) {
	if len(y) != len(r.level) || len(z) != len(r.level) {
		panic("model: SeasonalResiduals.Observe: wrong number of signals")
	}
	r.n++
	if r.probe {
		if dt := t - r.lastT; r.n > 1 && dt > 0 && (r.step == 0 || dt < r.step) {
			r.step = dt
		}
		r.lastT = t
		if r.n == stepProbe {
			r.probe = false
			r.setStep(r.step)
		}
	}
	bin := 0
	if r.bins > 0 {
		bin = int((t%dayMillis + dayMillis) % dayMillis / r.binMillis)
	}
	// Until profileGamma is smaller, a bin is the mean of its days so
	// far, so it does not remember that it started at 0.
	aS := 1 - math.Exp2(-1.0/residHalfLife)
	binW := r.binW
	if r.bins > 0 {
		binW = max(binW, 1/float64(1+(r.n-r.start)/r.perDay))
	}
	for j, v := range y {
		z[j] = 0
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		if !r.seen[j] {
			r.seen[j] = true
			r.level[j], r.lo[j], r.hi[j] = v, v, v
			continue
		}
		r.lo[j], r.hi[j] = min(r.lo[j], v), max(r.hi[j], v)
		var s *float64
		pred := r.level[j]
		if r.bins > 0 {
			s = &r.prof[j*r.bins+bin]
			pred += *s
		}
		e := v - pred
		floor := rangeFloor*(r.hi[j]-r.lo[j]) + 1e-12*math.Abs(v) + 1e-300
		z[j] = max(min(e/(math.Sqrt(r.vr[j])+floor), 1/rangeFloor), -1/rangeFloor)
		if math.IsNaN(z[j]) { // values near ±MaxFloat64 overflow the range
			z[j] = 0
		}

		e2 := e * e
		if r.n > residWarmup {
			e2 = min(e2, residClip*residClip*r.vr[j])
		}
		r.vr[j] += aS * (e2 - r.vr[j])
		if s == nil {
			r.level[j] += flatLevelAlpha * e
			continue
		}
		r.level[j] += r.levelW * (v - *s - r.level[j])
		*s += binW * (v - r.level[j] - *s)
	}
}

// StateBytes is the memory the predictor's state holds, in bytes.
func (r *SeasonalResiduals) StateBytes() int {
	return 8*(4*len(r.level)+len(r.prof)+9) + len(r.seen) + 1
}
