package model_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/model"
	"github.com/augur-sre/augur/nab"
)

// TestZZNAB is a scratch harness (deleted before hand-off).
func TestZZNAB(t *testing.T) {
	if os.Getenv("ZZNAB") == "" {
		t.Skip()
	}
	for _, kv := range strings.Split(os.Getenv("KN"), ",") {
		if kv == "" {
			continue
		}
		p := strings.SplitN(kv, "=", 2)
		i, _ := strconv.Atoi(p[0])
		v, _ := strconv.ParseFloat(p[1], 64)
		model.SetKnob(i, v)
	}
	root := "../../shared/datasets/nab"
	c, err := nab.LoadCorpus(root)
	if err != nil {
		t.Fatal(err)
	}
	profiles, _ := nab.LoadProfiles(filepath.Join(root, "config", "profiles.json"))
	sc, _ := nab.NewScorer(c)
	t0 := time.Now()
	scores, err := nab.Run(context.Background(), c, model.DetectorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	var std nab.Result
	line := ""
	for i, p := range profiles {
		r, _ := sc.Optimize(scores, p)
		if i == 0 {
			std = r
		}
		line += fmt.Sprintf(" %s=%.2f(thr %.3f TP%d FN%d FP%d)", p.Name, r.Score, r.Threshold, r.TP, r.FN, r.FP)
	}
	fmt.Printf("RESULT %s took %s\n", line, took)
	for _, cr := range std.Categories {
		fmt.Printf("  %-22s %6.2f TP%d FN%d FP%d\n", cr.Name, cr.Score, cr.TP, cr.FN, cr.FP)
	}
	if os.Getenv("ZZMISS") != "" {
		for i := range c.Files {
			f := &c.Files[i]
			d := model.NewDetector(model.DetectorOptions{})
			cont := make([]float64, len(f.Values))
			for j, y := range f.Values {
				cont[j] = d.Observe(f.Timestamps[j], y)
			}
			for _, w := range f.Windows {
				mc, ma, first := 0.0, 0.0, -1
				a, b := -1, -1
				for j, ts := range f.Timestamps {
					if ts >= w.Start && ts <= w.End {
						if a < 0 {
							a = j
						}
						b = j
						mc = max(mc, cont[j])
						ma = max(ma, scores[i][j])
						if first < 0 && scores[i][j] >= std.Threshold {
							first = j
						}
					}
				}
				pre := 0.0
				for j := max(a-300, 0); j < a; j++ {
					pre = max(pre, scores[i][j])
				}
				fmt.Printf("  W %-55s [%d,%d] first=%d maxCont=%.3f maxAlarm=%.3f preAlarm=%.3f\n", f.Name, a, b, first, mc, ma, pre)
			}
		}
	}
	if os.Getenv("ZZFILES") != "" {
		for i := range c.Files {
			sub := &nab.Corpus{Files: c.Files[i : i+1]}
			s2, _ := nab.NewScorer(sub)
			r, _ := s2.Score(scores[i:i+1], profiles[0], std.Threshold)
			fmt.Printf("  %-60s raw %6.2f TP%d FN%d FP%d n=%d\n", c.Files[i].Name, r.Raw, r.TP, r.FN, r.FP, len(c.Files[i].Values))
		}
	}
}
