package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeSeries writes a timestamp,value CSV of a 5-minute daily sine.
func writeSeries(t *testing.T, path string, n int, noise func(i int) float64) {
	t.Helper()
	var b strings.Builder
	b.WriteString("timestamp,value\n")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		v := 50 + 10*math.Sin(2*math.Pi*float64(i)/288) + noise(i)
		fmt.Fprintf(&b, "%s,%g\n", start.Add(time.Duration(i)*5*time.Minute).Format(csvTimeLayout), v)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestBacktestCommand(t *testing.T) {
	dir := t.TempDir()
	// A deterministic pseudo-noise: errors are small but not zero.
	writeSeries(t, filepath.Join(dir, "a.csv"), 288*8, func(i int) float64 { return math.Sin(float64(i) * 1.7) })
	writeSeries(t, filepath.Join(dir, "b.csv"), 288*8, func(i int) float64 { return 0.5 * math.Cos(float64(i)*2.3) })
	out, err := runAugur(t, "backtest", "--input="+dir, "--horizon=1h", "--format=csv")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "series,model,h,") || !strings.HasPrefix(lines[3], "overall,") {
		t.Fatalf("output:\n%s", out)
	}
	for _, l := range lines[1:3] {
		f := strings.Split(l, ",")
		h, _ := strconv.Atoi(f[2])
		mase1, _ := strconv.ParseFloat(f[4], 64)
		cover, _ := strconv.ParseFloat(f[8], 64)
		// 1h at 5 minutes is 12 steps; a clean sine is forecast far better
		// than the naive forecast, and intervals cover most points.
		if h != 12 || !(mase1 > 0 && mase1 < 0.8) || cover < 80 {
			t.Errorf("row %q: h %d, MASE@1 %g, coverage %g", l, h, mase1, cover)
		}
	}
	if _, err := runAugur(t, "backtest", "--input="+dir, "--horizon=soon"); err == nil {
		t.Error("--horizon=soon: no error")
	}
	if _, err := runAugur(t, "backtest", "--input="+filepath.Join(dir, "none"), "--horizon=3"); err == nil {
		t.Error("missing input: no error")
	}
	// The table format names every file and the overall row.
	out, err = runAugur(t, "backtest", "--input="+filepath.Join(dir, "a.csv"), "--horizon=3")
	if err != nil || !strings.Contains(out, "a.csv") || !strings.Contains(out, "overall") {
		t.Errorf("table: %v\n%s", err, out)
	}
}

func runAugur(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var buf bytes.Buffer
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code := realMain(args, f)
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := buf.ReadFrom(f); err != nil {
		t.Fatal(err)
	}
	if code != 0 {
		return buf.String(), fmt.Errorf("exit code %d", code)
	}
	return buf.String(), nil
}

func TestSMAPEAndScale(t *testing.T) {
	if smape(0, 0) != 0 || smape(1, 3) != 100 {
		t.Errorf("smape(0,0)=%g smape(1,3)=%g", smape(0, 0), smape(1, 3))
	}
	if s := naiveScale([]float64{1, 3, math.NaN(), 2, 6}); s != 3 {
		t.Errorf("naiveScale = %g, want 3", s)
	}
	if s := naiveScale([]float64{5, 5, 5}); s != 1 {
		t.Errorf("constant naiveScale = %g, want 1", s)
	}
}
