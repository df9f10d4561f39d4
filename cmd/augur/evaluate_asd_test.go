package main

import (
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestBestF1AndHitRate(t *testing.T) {
	// Two servers; a segment at rows 1-3 of the first, row 2 of the second.
	servers := []asdServer{
		{labels: []bool{false, true, true, true, false}, failure: []float64{0.1, 0.9, 0.2, 0.3, 0.4},
			segments: []asdSegment{{1, 3, []int{0, 2}}},
			ranks:    [][]int{nil, {0, 1, 2}, {2, 0, 1}, {1, 2, 0}, nil}},
		{labels: []bool{false, false, true}, failure: []float64{0.5, 0.1, 0.6},
			segments: []asdSegment{{2, 2, []int{1}}},
			ranks:    [][]int{nil, nil, {0, 1, 2}}},
	}
	score := func(s *asdServer) []float64 { return s.failure }
	f := func(adjust bool, wantF1, wantTh float64) {
		t.Helper()
		if f1, th := bestF1(servers, score, adjust); math.Abs(f1-wantF1) > 1e-12 || th != wantTh {
			t.Errorf("adjust %v: F1 %v at %v, want %v at %v", adjust, f1, th, wantF1, wantTh)
		}
	}
	// Raw: at 0.6, 2 TP, 0 FP, 2 FN: F1 = 4/6. At 0.3: 3 TP, 2 FP (0.5,
	// 0.4), 1 FN: 6/9, no better; at 0.2: 4 TP, 2 FP: 8/10.
	f(false, 0.8, 0.2)
	// Point-adjusted: at 0.6 both segments are found, 4 TP, 0 FP.
	f(true, 1, 0.6)
	// A threshold per server: 0.2 on the first (3 TP, 1 FP), 0.6 on the
	// second (1 TP): 8/9; point-adjusted, both segments at 0 FP: 1.
	for _, c := range []struct {
		adjust bool
		want   float64
	}{{false, 8.0 / 9}, {true, 1}} {
		if got := bestF1PerServer(servers, score, c.adjust); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("adjust %v: F1 with a threshold per server %v, want %v", c.adjust, got, c.want)
		}
	}

	// Top ⌈1·2⌉ of server 1's rows hold 1, 2 and 1 of {0, 2}; ⌈1·1⌉ of
	// server 2's row holds 0 of {1}: (0.5+1+0.5+0)/4.
	if got := hitRate(servers, 1); math.Abs(got-0.5) > 1e-12 {
		t.Errorf("HitRate@100%% = %v, want 0.5", got)
	}
	// ⌈1.5·2⌉ = 3 signals hold both; ⌈1.5⌉ = 2 hold signal 1: 1.
	if got := hitRate(servers, 1.5); math.Abs(got-1) > 1e-12 {
		t.Errorf("HitRate@150%% = %v, want 1", got)
	}
}

func TestReadInterpretationErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ text, want string }{
		{"1-3:1,2\n5-4:1\n", ":2: range"},
		{"1-3:1,20\n", ":1: metric"},
		{"1-3\n", ":1: no colon"},
		{"0-10:1\n", "not within the 10 test rows"},
	} {
		p := filepath.Join(dir, "omi.txt")
		if err := os.WriteFile(p, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := readInterpretation(p, 10, 19); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want one mentioning %q", c.text, err, c.want)
		}
	}
}

// TestEvaluateASD runs `augur evaluate --asd` on the real dataset: every
// printed rate is in [0,1] and the entity score ranks the labelled points
// well above the per-signal scores (0.11 raw F1 when this was written).
func TestEvaluateASD(t *testing.T) {
	const root = "../../../shared/datasets/asd"
	if _, err := os.Stat(root); err != nil {
		t.Skipf("ASD dataset not present: %v", err)
	}
	out, err := execAugur(t, "evaluate", "--asd="+root)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := regexp.MustCompile(`anomaly_evidence \(entity score\)\s+best F1 raw ([0-9.]+).*point-adjusted ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no entity score line in\n%s", out)
	}
	raw, _ := strconv.ParseFloat(m[1], 64)
	pa, _ := strconv.ParseFloat(m[2], 64)
	if raw < 0.35 || pa < 0.75 || pa > 1 {
		t.Errorf("entity score best F1 raw %v, point-adjusted %v; measured 0.425 and 0.847 when written\n%s", raw, pa, out)
	}
	if !strings.Contains(out, "HitRate@150%") || !strings.Contains(out, "anticipated by") {
		t.Errorf("output lacks the HitRate or the incidents line:\n%s", out)
	}
}
