package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// noisySine returns n points of a sine with the given period and amplitude
// plus seeded Gaussian noise of standard deviation sd.
func noisySine(n int, period, amp, sd float64, seed uint64) []float64 {
	r := rand.New(rand.NewPCG(seed, 1))
	y := make([]float64, n)
	for i := range y {
		y[i] = 10 + amp*math.Sin(2*math.Pi*float64(i)/period) + sd*r.NormFloat64()
	}
	return y
}

func scoreAll(y []float64) []float64 {
	d := NewDetector(DetectorOptions{})
	s := make([]float64, len(y))
	for i, v := range y {
		s[i] = d.Observe(int64(i)*60000, v)
	}
	return s
}

func TestDetectorScoresInRangeAndDeterministic(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	walk := make([]float64, 3000)
	for i := 1; i < len(walk); i++ {
		walk[i] = walk[i-1] + r.NormFloat64()
	}
	gaps := noisySine(2000, 288, 5, 1, 3)
	for i := 100; i < len(gaps); i += 37 {
		gaps[i] = math.NaN()
	}
	gaps[500] = math.Inf(1)
	huge := noisySine(2000, 50, 1e300, 1e299, 4)
	for _, tc := range []struct {
		name string
		y    []float64
	}{
		{"constant", make([]float64, 1000)},
		{"random walk", walk},
		{"gaps", gaps},
		{"huge", huge},
		{"noisy sine", noisySine(3000, 288, 5, 1, 5)},
	} {
		a, b := scoreAll(tc.y), scoreAll(tc.y)
		for i := range a {
			if !(a[i] >= 0 && a[i] <= 1) {
				t.Fatalf("%s: score %g at %d outside [0,1]", tc.name, a[i], i)
			}
			if a[i] != b[i] {
				t.Fatalf("%s: score at %d differs between runs: %g vs %g", tc.name, i, a[i], b[i])
			}
		}
	}
}

func TestDetectorFlagsAnomalies(t *testing.T) {
	const at = 2000
	spike := noisySine(3000, 288, 5, 1, 11)
	spike[at] += 15
	shift := noisySine(3000, 288, 5, 1, 12)
	for i := at; i < len(shift); i++ {
		shift[i] += 8
	}
	variance := noisySine(3000, 288, 5, 1, 13)
	r := rand.New(rand.NewPCG(14, 14))
	for i := at; i < len(variance); i++ {
		variance[i] += 6 * r.NormFloat64()
	}
	for _, tc := range []struct {
		name  string
		y     []float64
		delay int // points after the onset by which the score must be high
	}{
		{"spike", spike, 0},
		{"level shift", shift, 30},
		{"variance change", variance, 20},
	} {
		s := scoreAll(tc.y)
		before, after := 0.0, 0.0
		for i := 500; i < at; i++ {
			before = max(before, s[i])
		}
		for i := at; i <= at+tc.delay; i++ {
			after = max(after, s[i])
		}
		// 0.45 is about the threshold NAB's standard profile picks for
		// the detector's scores on the whole corpus.
		if after < 0.45 || after < before+0.15 {
			t.Errorf("%s: max score %.3f within %d points of the onset, %.3f before it", tc.name, after, tc.delay, before)
		}
	}
}

func TestDetectorQuietOnCleanSine(t *testing.T) {
	for _, period := range []float64{24, 288, 1440} {
		s := scoreAll(noisySine(5000, period, 5, 0, 0))
		worst := 0.0
		for _, v := range s[1000:] {
			worst = max(worst, v)
		}
		if worst > 0.3 {
			t.Errorf("period %g: max score %.3f on a clean sine after warm-up", period, worst)
		}
	}
}

func BenchmarkDetectorObserve(b *testing.B) {
	y := noisySine(10000, 288, 5, 1, 1)
	d := NewDetector(DetectorOptions{})
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d.Observe(int64(i)*60000, y[i%len(y)])
	}
}
