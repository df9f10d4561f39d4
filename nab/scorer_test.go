package nab

import (
	"math"
	"path/filepath"
	"testing"
)

func TestScaledSigmoid(t *testing.T) {
	// Reference values from the docstring of NAB's scaledSigmoid
	// (nab/sweeper.py).
	for _, tc := range []struct{ x, want, tol float64 }{
		{-1, 0.98661, 1e-5},
		{-0.5, 0.84828, 1e-5},
		{0, 0, 1e-12},
		{1, -0.98661, 1e-5},
		{3, -1, 0},
		{7, -1, 0},
	} {
		if got := ScaledSigmoid(tc.x); math.Abs(got-tc.want) > tc.tol {
			t.Errorf("ScaledSigmoid(%g) = %g, want %g", tc.x, got, tc.want)
		}
	}
}

func TestProbationLength(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{20, 3}, {1057, 158}, {4032, 604}, {5000, 750}, {22695, 750}} {
		if got := ProbationLength(tc.n); got != tc.want {
			t.Errorf("ProbationLength(%d) = %d, want %d", tc.n, got, tc.want)
		}
	}
}

// TestScoreTiny scores hand-made detections on testdata/tiny: 20 rows, the
// first 3 on probation, one window over rows 10-13. Expected values were
// computed by hand from NAB's formulas with Python's math module.
func TestScoreTiny(t *testing.T) {
	c, err := LoadCorpus(filepath.Join("testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(c)
	if err != nil {
		t.Fatal(err)
	}
	standard := Profile{Name: "standard", TP: 1, FN: 1, FP: 0.11}
	lowFN := Profile{Name: "reward_low_FN_rate", TP: 1, FN: 2, FP: 0.11}
	f := func(p Profile, detections []int, wantRaw float64, tp, fn, fp int) {
		t.Helper()
		scores := make([]float64, 20)
		for _, i := range detections {
			scores[i] = 1
		}
		r, err := s.Score([][]float64{scores}, p, 0.5)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.Raw-wantRaw) > 1e-12 || r.TP != tp || r.FN != fn || r.FP != fp {
			t.Errorf("%s %v: raw %.15g TP %d FN %d FP %d, want %.15g %d %d %d", p.Name, detections, r.Raw, r.TP, r.FN, r.FP, wantRaw, tp, fn, fp)
		}
		want := 100 * (wantRaw + p.FN) / (p.TP + p.FN)
		if math.Abs(r.Score-want) > 1e-9 {
			t.Errorf("%s %v: score %g, want %g", p.Name, detections, r.Score, want)
		}
	}
	f(standard, nil, -1, 0, 1, 0)
	f(lowFN, nil, -2, 0, 1, 0)
	f(standard, []int{1}, -1, 0, 1, 0)                   // probation is not scored
	f(standard, []int{10}, 1, 1, 0, 0)                   // left edge earns tpWeight
	f(standard, []int{12}, 0.8597925669097837, 1, 0, 0)  // pos −(13−12+1)/4 = −0.5
	f(standard, []int{12, 10, 11}, 1, 1, 0, 0)           // only the earliest counts
	f(standard, []int{5}, -1.11, 0, 1, 1)                // before any window: −fpWeight
	f(standard, []int{15}, -1.1024220569534335, 0, 1, 1) // |13−15|/(4−1) past the window
	f(standard, []int{19}, -1.1099900124688855, 0, 1, 1) // 6/3 past the window
	f(standard, []int{10, 19}, 1-0.1099900124688855, 1, 0, 1)
}

func TestOptimizeTiny(t *testing.T) {
	c, err := LoadCorpus(filepath.Join("testdata", "tiny"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(c)
	if err != nil {
		t.Fatal(err)
	}
	standard := Profile{Name: "standard", TP: 1, FN: 1, FP: 0.11}
	f := func(scores []float64, wantThr, wantRaw float64) {
		t.Helper()
		r, err := s.Optimize([][]float64{scores}, standard)
		if err != nil {
			t.Fatal(err)
		}
		if r.Threshold != wantThr || math.Abs(r.Raw-wantRaw) > 1e-12 {
			t.Errorf("Optimize(%v) = threshold %g raw %g, want %g %g", scores, r.Threshold, r.Raw, wantThr, wantRaw)
		}
	}
	// A high false positive before the window and a lower hit on its left
	// edge: firing on both (−0.11 + 1) beats never firing (−1).
	f([]float64{0, 0, 0, 0, 0, 0.9, 0, 0, 0, 0, 0.6, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0.6, 0.89)
	// High scores on probation rows neither cost nor earn anything.
	f([]float64{0.9, 0.9, 0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0.5, 1)
	// Ties between thresholds go to the highest one.
	f([]float64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.7, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0.7, 1)
}

func TestNewScorerRejectsUnknownEdge(t *testing.T) {
	c := &Corpus{Files: []File{{
		Name:       "cat/a.csv",
		Timestamps: []int64{0, 60000, 120000},
		Values:     []float64{1, 2, 3},
		Windows:    []Window{{Start: 30000, End: 120000}},
	}}}
	if _, err := NewScorer(c); err == nil {
		t.Fatal("NewScorer accepted a window edge that is no row timestamp")
	}
}
