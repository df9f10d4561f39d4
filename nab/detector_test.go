package nab

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/augur-sre/augur/model"
)

// TestDetectorScore pins augur's own detector on the NAB corpus (one
// configuration, online, scored on model.Detector.Alarm) so that a change
// to model/detector.go that loses NAB points fails here. Measured at the
// time of writing: standard 72.23, reward_low_FP_rate 66.28,
// reward_low_FN_rate 76.32.
func TestDetectorScore(t *testing.T) {
	root := nabRoot(t)
	c, err := LoadCorpus(root)
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := LoadProfiles(filepath.Join(root, "config", "profiles.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(c)
	if err != nil {
		t.Fatal(err)
	}
	scores, err := Run(context.Background(), c, model.DetectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"standard": 72.23, "reward_low_FP_rate": 66.28, "reward_low_FN_rate": 76.32}
	for _, p := range profiles {
		r, err := s.Optimize(scores, p)
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[p.Name]; ok && r.Score < w-0.01 {
			t.Errorf("%s: score %.2f, want ≥ %.2f", p.Name, r.Score, w)
		}
	}
}
