package nab

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// nabRoot is the NAB dataset every developer and CI run has at ../shared
// (see ../shared/README.md); AUGUR_NAB_DATA overrides it.
func nabRoot(t testing.TB) string {
	if p := os.Getenv("AUGUR_NAB_DATA"); p != "" {
		return p
	}
	return filepath.Join("..", "..", "shared", "datasets", "nab")
}

// TestPublishedResults pins the scorer to NAB's final_results.json: scored
// at the thresholds of config/thresholds.json the published per-row scores
// of numenta, contextOSE and null give the published table, and the
// exhaustive sweep finds the same scores except where it finds a better
// threshold than NAB's 2016 hill-climb (numenta, reward_low_FP_rate: 63.209
// at 0.5431, see the dataset README).
func TestPublishedResults(t *testing.T) {
	root := nabRoot(t)
	c, err := LoadCorpus(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Rows(); got != 365558 {
		t.Fatalf("corpus has %d rows, want 365558", got)
	}
	profiles, err := LoadProfiles(filepath.Join(root, "config", "profiles.json"))
	if err != nil {
		t.Fatal(err)
	}
	thresholds, err := LoadThresholds(filepath.Join(root, "config", "thresholds.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		detector string
		// published, then swept, in profile order standard, low FP, low FN.
		published, swept [3]float64
	}{
		{"numenta", [3]float64{70.10105611943965, 63.11684160219828, 74.3202443095115}, [3]float64{70.101, 63.209, 74.320}},
		{"contextOSE", [3]float64{69.89956896844828, 66.97713919047413, 73.18167250416667}, [3]float64{69.900, 66.977, 73.182}},
		{"null", [3]float64{0, 0, 0}, [3]float64{0, 0, 0}},
	} {
		scores, err := ReadResults(filepath.Join(root, "results"), tc.detector, c)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range profiles {
			r, err := s.Score(scores, p, thresholds[tc.detector][p.Name])
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.Score-tc.published[i]) > 1e-9 {
				t.Errorf("%s %s at published threshold: %.10f, want %.10f", tc.detector, p.Name, r.Score, tc.published[i])
			}
			o, err := s.Optimize(scores, p)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(o.Score-tc.swept[i]) > 0.001 {
				t.Errorf("%s %s swept: %.4f at %.6f, want %.3f", tc.detector, p.Name, o.Score, o.Threshold, tc.swept[i])
			}
		}
	}
}
