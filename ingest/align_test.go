package ingest

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/prometheus/prometheus/model/value"
)

var (
	nan   = math.NaN()
	stale = math.Float64frombits(value.StaleNaN)
)

// pts builds samples from alternating timestamps and values.
func pts(tv ...float64) []Sample {
	s := make([]Sample, 0, len(tv)/2)
	for i := 0; i+1 < len(tv); i += 2 {
		s = append(s, Sample{T: int64(tv[i]), V: tv[i+1]})
	}
	return s
}

// sameSamples compares with NaN equal to NaN.
func sameSamples(a, b []Sample) bool {
	return slices.EqualFunc(a, b, func(x, y Sample) bool {
		return x.T == y.T && (x.V == y.V || math.IsNaN(x.V) && math.IsNaN(y.V))
	})
}

func TestAlign(t *testing.T) {
	extremes := []Sample{{math.MinInt64, 1}, {math.MaxInt64, 2}}
	tests := []struct {
		name             string
		in               []Sample
		start, end, step int64
		maxGap           int
		want             []Sample
	}{
		{"on the grid", pts(0, 1, 10, 2, 20, 3), 0, 20, 10, 0, pts(0, 1, 10, 2, 20, 3)},
		{"no samples", nil, 0, 20, 10, 5, pts(0, nan, 10, nan, 20, nan)},
		{"end off the grid", pts(0, 1, 10, 2, 20, 3), 0, 25, 10, 0, pts(0, 1, 10, 2, 20, 3)},
		{"window is (t-step, t]", pts(0, 1, 1, 2, 10, 3, 11, 4, 19, 5), 0, 20, 10, 0, pts(0, 1, 10, 3, 20, 5)},
		{"out of order", pts(20, 3, 0, 1, 10, 2), 0, 20, 10, 0, pts(0, 1, 10, 2, 20, 3)},
		{"duplicates: last wins", pts(0, 1, 10, 2, 10, 7, 20, 3), 0, 20, 10, 0, pts(0, 1, 10, 7, 20, 3)},
		{"duplicates out of order: last wins", pts(10, 2, 0, 1, 10, 7), 0, 10, 10, 0, pts(0, 1, 10, 7)},
		{"NaN and Inf dropped", pts(0, 1, 5, 9, 10, nan, 20, math.Inf(1), 30, 4), 0, 30, 10, 0, pts(0, 1, 10, 9, 20, nan, 30, 4)},
		{"short gap interpolated", pts(0, 0, 40, 8), 0, 40, 10, 3, pts(0, 0, 10, 2, 20, 4, 30, 6, 40, 8)},
		{"gap of exactly maxGap", pts(0, 0, 30, 3), 0, 30, 10, 2, pts(0, 0, 10, 1, 20, 2, 30, 3)},
		{"long gap left missing", pts(0, 0, 40, 8), 0, 40, 10, 2, pts(0, 0, 10, nan, 20, nan, 30, nan, 40, 8)},
		{"maxGap zero never fills", pts(0, 0, 20, 2), 0, 20, 10, 0, pts(0, 0, 10, nan, 20, 2)},
		{"negative maxGap never fills", pts(0, 0, 20, 2), 0, 20, 10, -1, pts(0, 0, 10, nan, 20, 2)},
		{"leading and trailing gaps stay", pts(20, 5), 0, 40, 10, 5, pts(0, nan, 10, nan, 20, 5, 30, nan, 40, nan)},
		{"samples outside the range ignored", pts(-50, 9, -10, 9, 0, 1, 30, 9), 0, 20, 10, 5, pts(0, 1, 10, nan, 20, nan)},
		{"stale marker makes the point missing", pts(0, 1, 10, stale, 20, 3), 0, 20, 10, 5, pts(0, 1, 10, nan, 20, 3)},
		{"no interpolation across a stale marker", pts(0, 1, 5, stale, 30, 4), 0, 30, 10, 5, pts(0, 1, 10, nan, 20, nan, 30, 4)},
		{"a sample after the marker wins", pts(0, 1, 5, stale, 8, 2), 0, 10, 10, 5, pts(0, 1, 10, 2)},
		{"a marker after the sample wins", pts(0, 1, 8, 2, 9, stale), 0, 10, 10, 5, pts(0, 1, 10, nan)},
		{"plain NaN does not block interpolation", pts(0, 0, 10, nan, 20, 2), 0, 20, 10, 5, pts(0, 0, 10, 1, 20, 2)},
		{"negative times", pts(-20, 1, -10, 2, 0, 3), -20, 0, 10, 0, pts(-20, 1, -10, 2, 0, 3)},
		{"zero step", pts(0, 1), 0, 10, 0, 0, nil},
		{"end before start", pts(0, 1), 10, 0, 5, 0, nil},
		{"extreme times", extremes, math.MaxInt64 - 10, math.MaxInt64, 10, 0,
			[]Sample{{math.MaxInt64 - 10, nan}, {math.MaxInt64, 2}}},
		{"extreme start", extremes, math.MinInt64, math.MinInt64 + 10, 10, 0,
			[]Sample{{math.MinInt64, 1}, {math.MinInt64 + 10, nan}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got := Align(nil, in, tc.start, tc.end, tc.step, tc.maxGap)
			if !sameSamples(got, tc.want) {
				t.Errorf("Align = %v\nwant %v", got, tc.want)
			}
			// dst is appended to and its prefix left alone.
			prefix := pts(-1, 42, -1, nan)
			got = Align(slices.Clone(prefix), slices.Clone(tc.in), tc.start, tc.end, tc.step, tc.maxGap)
			if !sameSamples(got[:2], prefix) || !sameSamples(got[2:], tc.want) {
				t.Errorf("Align with dst = %v, want %v then %v", got, prefix, tc.want)
			}
		})
	}
}

func TestAlignDoesNotAllocateIntoDst(t *testing.T) {
	in := pts(0, 1, 10, 2, 40, 5)
	dst := make([]Sample, 0, 16)
	allocs := testing.AllocsPerRun(100, func() {
		dst = Align(dst[:0], in, 0, 40, 10, 5)
	})
	if allocs != 0 {
		t.Errorf("Align allocates %.0f times with a large enough dst", allocs)
	}
}

func TestCounters(t *testing.T) {
	ramp := func(n int, f func(i int) float64) []Sample {
		s := make([]Sample, n)
		for i := range s {
			s[i] = Sample{T: int64(i) * 60000, V: f(i)}
		}
		return s
	}
	tests := []struct {
		name    string
		in      []Sample
		resets  int
		counter bool
	}{
		{"counter", ramp(100, func(i int) float64 { return float64(3 * i) }), 0, true},
		{"counter with a reset", ramp(200, func(i int) float64 { return float64(i % 150) }), 1, true},
		{"counter with gaps", ramp(100, func(i int) float64 {
			if i%7 == 0 {
				return nan
			}
			return float64(i)
		}), 0, true},
		{"slow counter", ramp(100, func(i int) float64 { return float64(i / 3) }), 0, true},
		{"gauge", ramp(100, func(i int) float64 { return 50 + 10*math.Sin(float64(i)) }), 50, false},
		{"constant", ramp(100, func(int) float64 { return 200 }), 0, false},
		{"too few points", ramp(5, func(i int) float64 { return float64(i) }), 0, false},
		{"negative", ramp(100, func(i int) float64 { return float64(i - 50) }), 0, false},
		{"many resets", ramp(100, func(i int) float64 { return float64(i % 10) }), 9, false},
		{"rarely stepped gauge", ramp(100, func(i int) float64 { return float64(i / 10) }), 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CounterResets(tc.in); got != tc.resets {
				t.Errorf("CounterResets = %d, want %d", got, tc.resets)
			}
			if got := LooksLikeCounter(tc.in); got != tc.counter {
				t.Errorf("LooksLikeCounter = %v, want %v", got, tc.counter)
			}
		})
	}
}

// FuzzAlign compares Align with a brute-force reading of its contract on a
// small grid.
func FuzzAlign(f *testing.F) {
	f.Add([]byte{}, int64(0), uint8(10), uint16(7), uint8(2))
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, 5), value.StaleNaN), int64(-3), uint8(4), uint16(3), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, start int64, n uint8, step uint16, maxGap uint8) {
		if step == 0 {
			step = 1
		}
		// Samples: 16 bytes each, a time near the grid and a value's bits.
		var in []Sample
		for ; len(data) >= 16; data = data[16:] {
			off := int64(binary.LittleEndian.Uint64(data)) % ((int64(n) + 2) * int64(step))
			in = append(in, Sample{T: start + off - int64(step), V: math.Float64frombits(binary.LittleEndian.Uint64(data[8:]))})
		}
		if start > math.MaxInt64-int64(n)*int64(step) || start < math.MinInt64+2*int64(step) {
			return
		}
		orig := slices.Clone(in)
		end := start + int64(n)*int64(step)
		got := Align(nil, in, start, end, int64(step), int(maxGap))
		if len(got) != int(n)+1 {
			t.Fatalf("%d points, want %d", len(got), n+1)
		}
		// Brute force: each grid point takes the last sample (by time, then
		// input order) of its window unless that is a staleness marker; then
		// runs of at most maxGap missing points between present ones, with no
		// marker in them, are filled on a straight line.
		want := make([]Sample, len(got))
		staleAt := make([]bool, len(got))
		for k := range want {
			tk := start + int64(k)*int64(step)
			want[k] = Sample{T: tk, V: math.NaN()}
			best := -1
			for i, s := range orig {
				usable := value.IsStaleNaN(s.V) || !math.IsNaN(s.V) && !math.IsInf(s.V, 0)
				if usable && s.T > tk-int64(step) && s.T <= tk && (best < 0 || s.T >= orig[best].T) {
					best = i
				}
			}
			if best >= 0 {
				if value.IsStaleNaN(orig[best].V) {
					staleAt[k] = true
				} else {
					want[k].V = orig[best].V
				}
			}
		}
		last := -1
		for k := range want {
			if math.IsNaN(want[k].V) {
				continue
			}
			if gap := k - last - 1; last >= 0 && gap > 0 && gap <= int(maxGap) && !slices.Contains(staleAt[last:k], true) {
				for j := last + 1; j < k; j++ {
					want[j].V = want[last].V + (want[k].V-want[last].V)*float64(j-last)/float64(k-last)
				}
			}
			last = k
		}
		for k := range got {
			g, w := got[k], want[k]
			if g.T != w.T || math.IsNaN(g.V) != math.IsNaN(w.V) || !math.IsNaN(w.V) && math.Abs(g.V-w.V) > 1e-9*math.Max(1, math.Abs(w.V)) {
				t.Fatalf("point %d = %v, want %v\nin %v", k, g, w, orig)
			}
		}
	})
}

// BenchmarkAlign aligns a day of 1m samples with jitter and gaps.
func BenchmarkAlign(b *testing.B) {
	const n = 1440
	in := make([]Sample, 0, n)
	for i := range n {
		if i%97 < 3 {
			continue // a gap
		}
		in = append(in, Sample{T: int64(i)*60000 + int64(i%7)*100, V: float64(i)})
	}
	dst := make([]Sample, 0, n+1)
	b.ReportAllocs()
	for b.Loop() {
		dst = Align(dst[:0], in, 0, n*60000, 60000, 5)
	}
}
