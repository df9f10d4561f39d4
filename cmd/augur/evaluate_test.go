package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/augur-sre/augur/engine"
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

// TestPrintReportNoIncidents: with no incident in the span the report says
// there was nothing to predict instead of a precision and recall of 0.
func TestPrintReportNoIncidents(t *testing.T) {
	t0 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	rep := engine.Report{Horizon: time.Hour, Threshold: 0.5, Examples: 100,
		Alarms: []engine.Alarm{{Entity: "db-1", Start: t0, End: t0.Add(time.Minute)}}}
	var b strings.Builder
	printReport(&b, rep, engine.Calibration{Prior: true}, t0, t0.Add(24*time.Hour), time.Second)
	out := b.String()
	if !strings.Contains(out, "no incidents in the scored span: nothing to predict") || !strings.Contains(out, "1 alarms, all false") {
		t.Errorf("report without incidents does not say so:\n%s", out)
	}
	if regexp.MustCompile(`(precision|recall)\s+[0-9]`).MatchString(out) {
		t.Errorf("report without incidents prints a precision or recall:\n%s", out)
	}
}

// TestFlagNames: a flag of two or more words is dotted, as Prometheus'
// are (web.listen-address); an old name may stay as a hidden alias.
func TestFlagNames(t *testing.T) {
	app := kingpin.New("augur", "")
	for _, add := range []func(*kingpin.Application){
		func(a *kingpin.Application) { serveCommand(a) }, func(a *kingpin.Application) { detectCommand(a, io.Discard) },
		func(a *kingpin.Application) { forecastCommand(a, io.Discard) }, func(a *kingpin.Application) { backtestCommand(a, io.Discard) },
		func(a *kingpin.Application) { nabCommand(a) }, func(a *kingpin.Application) { evaluateCommand(a, io.Discard) },
	} {
		add(app)
	}
	for _, cmd := range app.Model().Commands {
		for _, f := range cmd.Flags {
			if !f.Hidden && strings.Contains(f.Name, "-") && !strings.Contains(f.Name, ".") {
				t.Errorf("augur %s --%s: not dotted", cmd.Name, f.Name)
			}
		}
	}
	for _, arg := range []string{"--replay.refit-interval=6h", "--refit-interval=6h"} {
		if _, err := app.Parse([]string{"evaluate", arg}); err != nil {
			t.Errorf("augur evaluate %s: %v", arg, err)
		}
	}
}
