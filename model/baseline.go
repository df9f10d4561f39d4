package model

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"unsafe"
)

const (
	msPerDay  = 24 * 60 * 60 * 1000
	msPerWeek = 7 * msPerDay
	msPerDayF = float64(msPerDay)

	// madToSigma makes the median absolute deviation a consistent estimator
	// of a normal standard deviation (1/Φ⁻¹(3/4)), meanADToSigma the mean
	// absolute deviation (√(π/2)).
	madToSigma    = 1.482602218505602
	meanADToSigma = 1.2533141373155003

	// minSlotPoints is the fewest points a slot needs for its own median and
	// scale; below it the slot uses the global ones. Five points keep a
	// median robust to two outliers.
	minSlotPoints = 5

	// fenceIQR places the calibration's outlier fence at Q3 + fenceIQR·IQR of
	// the standardised residuals: about 5.3σ for normal noise and 6.9 scale
	// units for Laplace noise, so it drops incidents and spikes but almost no
	// normal points.
	fenceIQR = 5
)

// BaselineOptions configures FitBaseline.
type BaselineOptions struct {
	// SlotWidth is the width of a time-of-day slot in milliseconds; it must
	// divide a day. Default one hour.
	SlotWidth int64
	// Weekly keys slots by day of week as well (the caller sets it when the
	// history covers at least two weeks).
	Weekly bool
	// Outside is the target fraction of normal training points outside the
	// band, in (0, 0.5). Default 0.01.
	Outside float64
	// CenterOnly fits the centre profile alone: At's scale, Band and K are
	// then NaN. It halves the memory and the fit for a caller that only
	// deseasonalises by the centre (the engine's daily profile).
	CenterOnly bool
}

// Baseline is a robust seasonal baseline with a dynamic band: the "same
// period mean ± k·σ" of classic dynamic thresholds with the median for the
// mean and the scaled MAD for σ, so that incidents inside the training window
// neither move the centre nor widen the band. A Baseline is immutable and
// safe for concurrent use.
//
// The profile is fitted in float64 and kept in 16 bits a value (see
// profile16): a slot's median and MAD come from a few dozen noisy points,
// so their sampling error is orders of magnitude above the rounding (3e-5
// of the profile's range), and the profile then costs 4 bytes a slot
// (1.3 KiB for a week of 30-minute slots).
type Baseline struct {
	slotWidth int64
	cycle     int64 // a day or a week, in ms
	// node is where in a slot, in slot units from its start, the slot's
	// centre and scale sit for the interpolation (see FitBaseline).
	node   float64
	center profile16
	scale  profile16 // empty for a CenterOnly baseline
	k      float64
	// maxCenter is the largest of center, which MaxCenter serves to
	// every sorted capacity request.
	maxCenter float64
}

// FitBaseline fits a baseline to the points (ts[i], y[i]), ts in Unix
// milliseconds; slots are UTC times of day (and days of week). Non-finite
// values are skipped.
//
// Per slot, the centre is the median of the slot's points; At interpolates
// linearly between the centres of neighbouring slots, which removes most of
// the step bias of hourly slots on a smooth daily shape. A slot's centre
// sits where its points do on average, the mean of their offsets into
// their slots: the slot's midpoint for points spread evenly over it, but
// (W−Δ)/2 into a slot of width W for points on a grid of step Δ, the
// slot's start when W = Δ. Placed at the midpoint, the centres of a grid's
// slots lag the profile by Δ/2, which on a sharp daily ramp (a nightly job
// starting) reads as a rise of the series over its profile. The
// scale is 1.4826·median|r| of the residuals r = y - centre in the slot
// (1.2533·mean|r| when more than half of them are zero, as with integer
// counts), floored at 1% of the global residual scale. Slots with fewer than
// five points use the global median and the global scale about it. K is the (1-Outside) quantile of
// |r|/scale over the training points inside the outlier fence
// Q3 + 5·IQR of |r|/scale (Tukey's far-out fence, widened), floored at 1.
func FitBaseline(ts []int64, y []float64, opts BaselineOptions) (*Baseline, error) {
	if len(ts) != len(y) {
		return nil, fmt.Errorf("cannot fit a baseline to %d timestamps and %d values", len(ts), len(y))
	}
	if opts.SlotWidth == 0 {
		opts.SlotWidth = 60 * 60 * 1000
	}
	if opts.SlotWidth < 0 || msPerDay%opts.SlotWidth != 0 {
		return nil, fmt.Errorf("cannot use a slot width of %d ms: it must divide a day", opts.SlotWidth)
	}
	if opts.Outside == 0 {
		opts.Outside = 0.01
	}
	if !(opts.Outside > 0 && opts.Outside < 0.5) {
		return nil, fmt.Errorf("cannot use an outside fraction of %g: outside (0, 0.5)", opts.Outside)
	}
	b := &Baseline{slotWidth: opts.SlotWidth, cycle: msPerDay}
	if opts.Weekly {
		b.cycle = msPerWeek
	}
	nSlots := int(b.cycle / b.slotWidth)
	buf := baselineScratches.Get().(*baselineScratch)
	defer baselineScratches.Put(buf)

	// Bucket the finite points by slot (counting sort), keeping each one's
	// position in slot units for the interpolation (which a CenterOnly
	// baseline does not need).
	start := grow(&buf.start, nSlots+1)
	clear(start)
	slot := grow(&buf.slot, len(y))
	var u []float64
	if !opts.CenterOnly {
		u = grow(&buf.u, len(y))
	}
	var n int
	var offsets float64 // of the points into their slots, in ms
	for i, v := range y {
		if !finite(v) {
			continue
		}
		p := b.phase(ts[i])
		// The float quotient truncates to p / slotWidth exactly: the exact
		// one lies at least 1/slotWidth below the next integer, and the
		// rounding moves it by at most cycle/slotWidth·2^-53, as a cycle
		// is far below 2^53 ms; a float division costs a fraction of an
		// int64 one.
		x := float64(p) / float64(b.slotWidth)
		s := int64(x)
		slot[i] = int32(s)
		start[s+1]++
		offsets += float64(p - s*b.slotWidth)
		if u != nil {
			u[i] = x
		}
		n++
	}
	if n < minSlotPoints {
		return nil, fmt.Errorf("cannot fit a baseline to %d points (need %d): %w", n, minSlotPoints, ErrTooShort)
	}
	b.node = offsets / float64(n) / float64(b.slotWidth)
	for i := 1; i <= nSlots; i++ {
		start[i] += start[i-1]
	}
	vals := grow(&buf.vals, n)
	var xs []float64 // slot coordinate of each bucketed value (see slotX)
	if u != nil {
		xs = grow(&buf.xs, n)
	}
	fill := grow(&buf.fill, nSlots)
	copy(fill, start)
	for i, v := range y {
		if finite(v) {
			s := slot[i]
			vals[fill[s]] = v
			if xs != nil {
				xs[fill[s]] = u[i] - b.node
			}
			fill[s]++
		}
	}

	scratch := grow(&buf.work, n)[:0]
	// The global centre and scales are fallbacks (slots with too few
	// points) and a floor; a strided sample of the bucketed values,
	// spread over every slot, estimates them as well as all of them.
	stride := (n + maxGlobalSample - 1) / maxGlobalSample
	sample := func(v []float64) []float64 {
		scratch = scratch[:0]
		for j := 0; j < len(v); j += stride {
			scratch = append(scratch, v[j])
		}
		return scratch
	}
	globalCenter := median(sample(vals))
	var globalSpread float64 // the fallback slots' scale about globalCenter
	if !opts.CenterOnly {
		for j := range scratch {
			scratch[j] = math.Abs(scratch[j] - globalCenter)
		}
		globalSpread = absScale(scratch)
	}
	center := grow(&buf.center, nSlots)
	for s := range center {
		slot := vals[start[s]:start[s+1]]
		switch {
		case len(slot) < minSlotPoints:
			center[s] = globalCenter
		case opts.CenterOnly:
			center[s] = median(slot) // nothing reads vals after
		default:
			center[s] = median(append(scratch[:0], slot...))
		}
	}

	if opts.CenterOnly {
		b.center, b.k = newProfile16(center), math.NaN()
		b.maxCenter = b.center.max()
		return b, nil
	}

	// Residuals from the interpolated centre, in bucket order.
	res := vals // each value is read once, before its residual replaces it
	for j, x := range xs {
		i0, i1, w := slotNeighbours(x, nSlots)
		res[j] = math.Abs(vals[j] - ((1-w)*center[i0] + w*center[i1]))
	}
	globalScale := absScale(sample(res))
	floor := math.Max(0.01*globalScale, 1e-9*math.Max(1, math.Abs(globalCenter)))
	scale := grow(&buf.scale, nSlots)
	for s := range scale {
		slot := res[start[s]:start[s+1]]
		sc := globalSpread
		if len(slot) >= minSlotPoints {
			sc = absScale(append(scratch[:0], slot...))
		}
		scale[s] = math.Max(sc, floor)
	}
	// K is calibrated on the stored (16-bit) profile that At serves.
	b.center, b.scale = newProfile16(center), newProfile16(scale)
	b.maxCenter = b.center.max()

	z := scratch[:0]
	for j, x := range xs {
		_, sc := b.interpolate(x)
		z = append(z, res[j]/sc)
	}
	b.k = math.Max(bandK(z, 1-opts.Outside), 1)
	return b, nil
}

// baselineScratch holds FitBaseline's buffers, lent by baselineScratches
// from one fit to the next: about 36 bytes a point, 0.7 MB for a one-minute
// fortnight, which allocated and cleared at each of a refit's two
// baselines were a sixth of their cost (BenchmarkFitBaseline).
type baselineScratch struct {
	slot           []int32   // each point's slot
	u              []float64 // each point's phase in slot units
	vals, xs, work []float64 // in bucket order
	start, fill    []int     // of each slot's bucket
	center, scale  []float64 // of each slot, before profile16
}

var baselineScratches = sync.Pool{New: func() any { return new(baselineScratch) }}

// grow returns *buf resized to n, reallocating it (and keeping the new
// buffer in *buf) when it is too short; the contents are not cleared.
func grow[T any](buf *[]T, n int) []T {
	if cap(*buf) < n {
		*buf = make([]T, n)
	}
	*buf = (*buf)[:n]
	return *buf
}

// maxGlobalSample bounds the points FitBaseline's global fallbacks are
// estimated from.
const maxGlobalSample = 4096

// bandK returns the p-quantile (p ≥ 0.75) of the standardised residuals z
// that lie inside the fence Q3 + fenceIQR·IQR, reordering z: Q1 is
// selected, then Q3 among the values above it, and since every value up to
// Q3 is inside the fence, the p-quantile among the values above Q3 only.
// The result equals quantile of the values inside the fence.
func bandK(z []float64, p float64) float64 {
	q1, i1 := quantileFrom(z, 0, 0.25)
	q3, i3 := quantileFrom(z, i1, 0.75)
	if len(z) == 0 {
		return math.NaN()
	}
	fence := q3 + fenceIQR*(q3-q1)
	inside := i3 + 1
	for _, v := range z[i3+1:] {
		if v <= fence {
			z[inside] = v
			inside++
		}
	}
	q, _ := quantileFrom(z[:inside], i3+1, p)
	return q
}

// slotX returns the position of a phase in slot units, 0 where the first
// slot's centre sits.
func (b *Baseline) slotX(phase int64) float64 {
	return float64(phase)/float64(b.slotWidth) - b.node
}

// phase returns t's offset in the cycle; the cycle starts at the Unix epoch
// (a Thursday, 00:00 UTC).
func (b *Baseline) phase(t int64) int64 {
	p := t % b.cycle
	if p < 0 {
		p += b.cycle
	}
	return p
}

// slotNeighbours returns the slots i0 and i1 = i0+1 (wrapping around the
// cycle of n slots) whose centres, placed where they sit, bracket x (see
// slotX), and the weight w of i1 in the linear interpolation between them.
func slotNeighbours(x float64, n int) (i0, i1 int, w float64) {
	f := math.Floor(x)
	w = x - f
	i0 = int(f)
	if i0 < 0 {
		i0 += n
	}
	i1 = i0 + 1
	if i1 == n {
		i1 = 0
	}
	return i0, i1, w
}

// interpolate returns the linear interpolation at x (see slotX) of the
// slots' centres and scales, the scale NaN for a CenterOnly baseline.
func (b *Baseline) interpolate(x float64) (center, scale float64) {
	i0, i1, w := slotNeighbours(x, b.center.len())
	center = (1-w)*b.center.at(i0) + w*b.center.at(i1)
	if b.scale.len() == 0 {
		return center, math.NaN()
	}
	return center, (1-w)*b.scale.at(i0) + w*b.scale.at(i1)
}

// At returns the robust centre and scale of the baseline at time t (Unix
// ms); the scale is NaN for a CenterOnly baseline.
func (b *Baseline) At(t int64) (center, scale float64) {
	return b.interpolate(b.slotX(b.phase(t)))
}

// MaxCenter returns the highest centre At can return: the centres
// interpolate linearly between slots, so none exceeds the largest slot's.
func (b *Baseline) MaxCenter() float64 { return b.maxCenter }

// Bytes returns the memory the baseline holds: its profile and header.
func (b *Baseline) Bytes() int {
	return int(unsafe.Sizeof(*b)) + b.center.bytes() + b.scale.bytes()
}

// Band returns the dynamic threshold band at t: centre ± K·scale.
func (b *Baseline) Band(t int64) (lower, upper float64) {
	c, s := b.At(t)
	return c - b.k*s, c + b.k*s
}

// K returns the band's calibrated multiplier.
func (b *Baseline) K() float64 { return b.k }

// median returns the median of v, reordering v.
func median(v []float64) float64 {
	return quantile(v, 0.5)
}

// absScale returns the normal-consistent scale of absolute residuals a:
// 1.4826·median(a), or 1.2533·mean(a) when the median is zero. It reorders a.
func absScale(a []float64) float64 {
	if m := median(a); m > 0 {
		return madToSigma * m
	}
	var sum float64
	for _, v := range a {
		sum += v
	}
	return meanADToSigma * sum / float64(len(a))
}

// quantile returns the p-quantile of v, interpolating linearly between order
// statistics (R's type 7), in expected O(len(v)) time; it reorders v and
// returns NaN for an empty v. v must not hold NaN.
func quantile(v []float64, p float64) float64 {
	q, _ := quantileFrom(v, 0, p)
	return q
}

// quantileFrom is quantile for a v already partitioned at from (no element
// of v[:from] exceeds any of v[from:]), which then selects within v[from:]
// only when the quantile's order statistic lies there. It also returns the
// index i of the lower order statistic, which it leaves partitioned.
func quantileFrom(v []float64, from int, p float64) (float64, int) {
	if len(v) == 0 {
		return math.NaN(), 0
	}
	h := p * float64(len(v)-1)
	i := int(h)
	if i < from {
		from = 0
	}
	lo := nthElement(v[from:], i-from)
	if i+1 >= len(v) || h == float64(i) {
		return lo, i
	}
	// nthElement leaves v[i+1:] >= v[i]: its minimum is order statistic i+1.
	return lo + (h-float64(i))*(slices.Min(v[i+1:])-lo), i
}

// nthElement reorders v so that v[k] is the k-th smallest element, everything
// before it is no larger and everything after it no smaller, and returns
// v[k] (Hoare's quickselect with a median-of-three pivot).
func nthElement(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default: // j < k < i: v[k] equals the pivot
			return v[k]
		}
	}
	return v[k]
}
