package model

import (
	"fmt"
	"math"
	"slices"
)

const (
	msPerDay  = 24 * 60 * 60 * 1000
	msPerWeek = 7 * msPerDay

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
}

// Baseline is a robust seasonal baseline with a dynamic band: the "same
// period mean ± k·σ" of classic dynamic thresholds with the median for the
// mean and the scaled MAD for σ, so that incidents inside the training window
// neither move the centre nor widen the band. A Baseline is immutable and
// safe for concurrent use.
type Baseline struct {
	slotWidth int64
	cycle     int64 // a day or a week, in ms
	center    []float64
	scale     []float64
	k         float64
}

// FitBaseline fits a baseline to the points (ts[i], y[i]), ts in Unix
// milliseconds; slots are UTC times of day (and days of week). Non-finite
// values are skipped.
//
// Per slot, the centre is the median of the slot's points; At interpolates
// linearly between the centres of neighbouring slots' midpoints, which
// removes most of the step bias of hourly slots on a smooth daily shape. The
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

	// Bucket the finite points by slot (counting sort).
	start := make([]int, nSlots+1)
	var n int
	for i, v := range y {
		if finite(v) {
			start[b.slot(ts[i])+1]++
			n++
		}
	}
	if n < minSlotPoints {
		return nil, fmt.Errorf("cannot fit a baseline to %d points (need %d): %w", n, minSlotPoints, ErrTooShort)
	}
	for i := 1; i <= nSlots; i++ {
		start[i] += start[i-1]
	}
	vals := make([]float64, n)
	idx := make([]int, n) // index into ts/y of each bucketed value
	fill := slices.Clone(start[:nSlots])
	for i, v := range y {
		if finite(v) {
			s := b.slot(ts[i])
			vals[fill[s]], idx[fill[s]] = v, i
			fill[s]++
		}
	}

	scratch := make([]float64, 0, n)
	globalCenter := median(append(scratch[:0], vals...))
	for _, v := range vals {
		scratch = append(scratch, math.Abs(v-globalCenter))
	}
	globalSpread := absScale(scratch) // the fallback slots' scale about globalCenter
	b.center = make([]float64, nSlots)
	for s := range b.center {
		slot := vals[start[s]:start[s+1]]
		if len(slot) < minSlotPoints {
			b.center[s] = globalCenter
			continue
		}
		b.center[s] = median(append(scratch[:0], slot...))
	}

	// Residuals from the interpolated centre, in bucket order.
	res := vals // vals is no longer needed
	for j, i := range idx {
		c, _ := b.interpolate(ts[i], b.center, nil)
		res[j] = math.Abs(y[i] - c)
	}
	globalScale := absScale(append(scratch[:0], res...))
	floor := math.Max(0.01*globalScale, 1e-9*math.Max(1, math.Abs(globalCenter)))
	b.scale = make([]float64, nSlots)
	for s := range b.scale {
		slot := res[start[s]:start[s+1]]
		sc := globalSpread
		if len(slot) >= minSlotPoints {
			sc = absScale(append(scratch[:0], slot...))
		}
		b.scale[s] = math.Max(sc, floor)
	}

	z := scratch[:0]
	for j, i := range idx {
		_, sc := b.interpolate(ts[i], b.center, b.scale)
		z = append(z, res[j]/sc)
	}
	q1, q3 := quantile(z, 0.25), quantile(z, 0.75)
	fence := q3 + fenceIQR*(q3-q1)
	normal := z[:0]
	for _, v := range z {
		if v <= fence {
			normal = append(normal, v)
		}
	}
	b.k = math.Max(quantile(normal, 1-opts.Outside), 1)
	return b, nil
}

// slot returns the index of t's slot in the cycle.
func (b *Baseline) slot(t int64) int {
	return int(b.phase(t) / b.slotWidth)
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

// interpolate returns the linear interpolation at t of the per-slot values
// c (and s, when non-nil) placed at the slots' midpoints, wrapping around the
// cycle.
func (b *Baseline) interpolate(t int64, c, s []float64) (float64, float64) {
	x := float64(b.phase(t))/float64(b.slotWidth) - 0.5
	f := math.Floor(x)
	w := x - f
	i0 := int(f)
	if i0 < 0 {
		i0 += len(c)
	}
	i1 := i0 + 1
	if i1 == len(c) {
		i1 = 0
	}
	cv := (1-w)*c[i0] + w*c[i1]
	if s == nil {
		return cv, 0
	}
	return cv, (1-w)*s[i0] + w*s[i1]
}

// At returns the robust centre and scale of the baseline at time t (Unix ms).
func (b *Baseline) At(t int64) (center, scale float64) {
	return b.interpolate(t, b.center, b.scale)
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
	if len(v) == 0 {
		return math.NaN()
	}
	h := p * float64(len(v)-1)
	i := int(h)
	lo := nthElement(v, i)
	if i+1 >= len(v) || h == float64(i) {
		return lo
	}
	// nthElement leaves v[i+1:] >= v[i]: its minimum is order statistic i+1.
	return lo + (h-float64(i))*(slices.Min(v[i+1:])-lo)
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
