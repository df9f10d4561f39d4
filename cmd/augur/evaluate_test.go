package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEvaluateSpanLongerThanHistory runs `augur evaluate` on the demo with a
// three-day history and a five-day span: the engine then knows only the
// last three days' incidents, and the evaluation must still score the
// span's first two days against theirs, or the alarms before them would
// count as false and the incidents would go missing from recall.
func TestEvaluateSpanLongerThanHistory(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "augur.yml")
	def, err := execAugur(t, "serve", "--config.print")
	if err != nil {
		t.Fatalf("%v: %s", err, def)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(def, "history: 2w", "history: 3d", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := execAugur(t, "evaluate", "--config.file="+cfg, "--replay.span=5d", "--replay.burn-in=1d")
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	m := regexp.MustCompile(`scored (\S+) \.\. (\S+) `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no scored span in\n%s", out)
	}
	start, err1 := time.Parse(time.RFC3339, m[1])
	end, err2 := time.Parse(time.RFC3339, m[2])
	if err1 != nil || err2 != nil {
		t.Fatalf("span %q .. %q", m[1], m[2])
	}
	known := end.Add(-3 * 24 * time.Hour)
	rows := regexp.MustCompile(`(?m)^(\S+)\s+(\S+)\s+(\d{4}-\S+Z)\s+(true|false)\s+(\S+)$`).FindAllStringSubmatch(out, -1)
	early, predicted := 0, 0
	for _, r := range rows {
		at, err := time.Parse(time.RFC3339, r[3])
		if err != nil || at.Before(start) || at.After(end) {
			t.Errorf("incident %v outside the span %v .. %v", r[1:], start, end)
		}
		if at.Before(known) {
			early++
		}
		if r[4] == "true" {
			predicted++
		}
	}
	if early == 0 {
		t.Errorf("no incident from the span's first two days (before %v) among %d in\n%s", known, len(rows), out)
	}
	if predicted < len(rows)-1 {
		t.Errorf("%d of %d incidents predicted in\n%s", predicted, len(rows), out)
	}
	if fa := regexp.MustCompile(`false alarms by entity:(.*)`).FindStringSubmatch(out); fa == nil || strings.Contains(fa[1], "batch-1") {
		t.Errorf("false alarms line %q", fa)
	}
	if p := regexp.MustCompile(`precision\s+([0-9.]+)`).FindStringSubmatch(out); p == nil {
		t.Errorf("no precision in\n%s", out)
	} else if v, _ := strconv.ParseFloat(p[1], 64); v < 0.5 {
		t.Errorf("precision %v", v)
	}
}
