package model

import (
	"math"
	"slices"
)

// profile16 is a profile of values kept in 16 bits each: value i is
// offset + v[i]·unit. The seasonal profiles a series keeps (a baseline's
// slots, a detector's or Holt-Winters' phases) cost 2 bytes a phase instead
// of float32's 4, 1,440 phases of a one-minute day 2.8 KiB. The unit is
// shared: a value is rounded to within unit/2, and set keeps the largest
// |v| between 2^14 and 2^15 (see set and tighten), so the rounding is at
// most 3e-5 of the profile's largest deviation from its offset, far below
// the sampling error of a slot's median or of an exponential average of a
// few days' noisy deviations.
type profile16 struct {
	v            []int16
	offset, unit float64
}

// q16Max is the largest |v| a profile16 stores; set widens the unit
// rather than saturating.
const q16Max = math.MaxInt16

// newProfile16 returns the profile of x, its offset the middle of x's range
// and its unit the finest that holds the range. Non-finite values are
// stored as the offset.
func newProfile16(x []float64) profile16 {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range x {
		if finite(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	p := profile16{v: make([]int16, len(x))}
	if lo > hi {
		return p
	}
	p.offset = lo + (hi-lo)/2
	p.unit = (hi - lo) / 2 / q16Max
	for i, v := range x {
		if finite(v) && p.unit > 0 {
			p.v[i] = int16(math.Round((v - p.offset) / p.unit))
		}
	}
	return p
}

// makeProfile16 returns a profile of n zeros.
func makeProfile16(n int) profile16 { return profile16{v: make([]int16, n)} }

// len returns the number of values.
func (p *profile16) len() int { return len(p.v) }

// at returns value i.
func (p *profile16) at(i int) float64 { return p.offset + float64(p.v[i])*p.unit }

// max returns the largest value, NaN for an empty profile.
func (p *profile16) max() float64 {
	if len(p.v) == 0 {
		return math.NaN()
	}
	return p.offset + float64(slices.Max(p.v))*p.unit
}

// set stores x as value i. An x beyond the unit's range doubles the unit,
// halving (rounded) every value, until it fits; a non-finite x is ignored,
// as a model's state stays finite on finite input.
func (p *profile16) set(i int, x float64) {
	d := x - p.offset
	if !finite(d) {
		return
	}
	if p.unit == 0 {
		if d == 0 {
			p.v[i] = 0
			return
		}
		p.unit = math.Abs(d) / q16Max
	}
	for math.Abs(d/p.unit) > q16Max+0.5 {
		p.unit *= 2
		for j, v := range p.v {
			p.v[j] = int16(math.Round(float64(v) / 2))
		}
	}
	p.v[i] = int16(max(min(math.Round(d/p.unit), q16Max), -q16Max))
}

// tighten halves the unit, doubling every value exactly, while the largest
// |v| is below 2^14: a profile whose deviations shrank after a large early
// one (a detector's first days) regains its resolution. It reads every
// value, so an online model calls it once a cycle.
func (p *profile16) tighten() {
	m := 0
	for _, v := range p.v {
		m = max(m, int(v), -int(v))
	}
	if m == 0 {
		p.unit = 0 // every value is the offset: the next set picks the unit
		return
	}
	for m < 1<<14 {
		m *= 2
		p.unit /= 2
		for j := range p.v {
			p.v[j] *= 2
		}
	}
}

// bytes returns the memory the values hold.
func (p *profile16) bytes() int { return 2 * cap(p.v) }
