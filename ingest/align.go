package ingest

import (
	"cmp"
	"math"
	"slices"

	"github.com/prometheus/prometheus/model/value"
)

// MaxAlignPoints bounds the grid Align builds; a longer grid is cut at its
// end. Sources split longer ranges before they get here.
const MaxAlignPoints = 1 << 24

// Align is the data hygiene every source applies: it places in onto the grid
// start, start+step, ... ≤ end (Unix ms) and appends the grid to dst.
//
//   - NaN and ±Inf samples are dropped, as if never scraped.
//   - Out-of-order samples are sorted (in is reordered in place, stably);
//     of samples with equal timestamps the last one wins.
//   - Grid point t takes the latest sample in (t-step, t].
//   - A run of at most maxGap missing grid points between two present ones
//     is filled by linear interpolation; longer runs, leading and trailing
//     gaps stay NaN: values are never invented beyond that.
//   - A Prometheus staleness marker (the series went away) makes its grid
//     point missing and is never interpolated across.
//
// Align does not allocate beyond growing dst.
func Align(dst []Sample, in []Sample, start, end int64, step int64, maxGap int) []Sample {
	if step <= 0 || end < start {
		return dst
	}
	// The true difference of two int64 with end ≥ start always fits a uint64.
	n := (uint64(end)-uint64(start))/uint64(step) + 1
	if n > MaxAlignPoints {
		n = MaxAlignPoints
	}
	if !slices.IsSortedFunc(in, cmpSampleTime) {
		slices.SortStableFunc(in, cmpSampleTime)
	}
	base := len(dst)
	dst = slices.Grow(dst, int(n))
	lastPresent := -1   // grid index of the latest present point
	staleInGap := false // a staleness marker since lastPresent
	p := 0
	for k := 0; k < int(n); k++ {
		t := start + int64(k)*step
		valid, stale := -1, -1 // indexes into in of the latest sample of each kind
		for ; p < len(in) && in[p].T <= t; p++ {
			// t - in[p].T ≥ 0 fits a uint64 even when it overflows int64.
			if uint64(t)-uint64(in[p].T) >= uint64(step) {
				continue
			}
			switch v := in[p].V; {
			case value.IsStaleNaN(v):
				stale = p
			case math.IsNaN(v) || math.IsInf(v, 0):
			default:
				valid = p
			}
		}
		if valid < 0 || stale > valid {
			dst = append(dst, Sample{T: t, V: math.NaN()})
			staleInGap = staleInGap || stale >= 0
			continue
		}
		dst = append(dst, Sample{T: t, V: in[valid].V})
		if gap := k - lastPresent - 1; lastPresent >= 0 && gap > 0 && gap <= maxGap && !staleInGap {
			interpolate(dst[base+lastPresent : base+k+1])
		}
		lastPresent, staleInGap = k, false
	}
	return dst
}

// interpolate fills s[1:len(s)-1] on the line through the first and last
// points: v_i = v_0 + (v_n - v_0)·i/n.
func interpolate(s []Sample) {
	last := len(s) - 1
	v0, vn := s[0].V, s[last].V
	for i := 1; i < last; i++ {
		s[i].V = v0 + (vn-v0)*float64(i)/float64(last)
	}
}

func cmpSampleTime(a, b Sample) int { return cmp.Compare(a.T, b.T) }

// CounterResets returns how many times the finite values of s decrease, which
// is what a counter does when its process restarts. Missing points are
// skipped.
func CounterResets(s []Sample) int {
	resets := 0
	prev := math.NaN()
	for _, x := range s {
		if math.IsNaN(x.V) || math.IsInf(x.V, 0) {
			continue
		}
		if x.V < prev {
			resets++
		}
		prev = x.V
	}
	return resets
}

// LooksLikeCounter reports whether s looks like a counter a user forgot to
// rate(): at least 10 finite values, none negative, non-decreasing except for
// rare resets (at most one per 100 points, and fewer than half the
// increases), and rising on at least a quarter of the steps, which tells it
// from a constant or a slowly stepped gauge.
func LooksLikeCounter(s []Sample) bool {
	const minPoints = 10
	n, increases, resets := 0, 0, 0
	prev := math.NaN()
	for _, x := range s {
		if math.IsNaN(x.V) || math.IsInf(x.V, 0) {
			continue
		}
		if x.V < 0 {
			return false
		}
		switch {
		case x.V > prev:
			increases++
		case x.V < prev:
			resets++
		}
		prev = x.V
		n++
	}
	if n < minPoints {
		return false
	}
	steps := n - 1
	return resets <= 1+steps/100 && 2*resets < increases && 4*increases >= steps
}

// floorDiv is ⌊a/b⌋ for b > 0, also for negative a (Go's / truncates).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// ceilDiv is ⌈a/b⌉ for b > 0.
func ceilDiv(a, b int64) int64 { return -floorDiv(-a, b) }
