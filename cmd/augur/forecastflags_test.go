package main

import (
	"math"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/model"
)

func TestHorizonFlag(t *testing.T) {
	const fiveMinutes = int64(5 * time.Minute / time.Millisecond)
	tests := []struct {
		in     string
		stepMs int64
		want   int
		err    string // of Set, or of steps
	}{
		{"12", fiveMinutes, 12, ""},
		{"3h", fiveMinutes, 36, ""},
		{"1d", fiveMinutes, 288, ""},
		{"1w", int64(time.Hour / time.Millisecond), 168, ""},
		{"1h30m", fiveMinutes, 18, ""},
		{"1.5h", fiveMinutes, 18, ""}, // Go's form, accepted by backtest before
		{"1m", fiveMinutes, 1, ""},    // under a step: one step
		{"0", fiveMinutes, 0, "--horizon must be between 1 and 1000 steps, got 0"},
		{"1001", fiveMinutes, 0, "--horizon must be between 1 and 1000 steps, got 1001"},
		{"-1h", fiveMinutes, 0, `--horizon must be a positive duration, got "-1h"`},
		{"0s", fiveMinutes, 0, `--horizon must be a positive duration, got "0s"`},
		{"soon", fiveMinutes, 0, `--horizon must be a number of steps or a duration like 3h or 1d, got "soon"`},
		{"1y", fiveMinutes, 0, "--horizon=1y is 105120 steps of 5m0s, at most 1000"},
	}
	for _, tc := range tests {
		h := &horizon{max: 1000}
		err := h.Set(tc.in)
		var n int
		if err == nil {
			n, err = h.steps(tc.stepMs)
		}
		if got := errString(err); got != tc.err || n != tc.want {
			t.Errorf("--horizon=%s at %d ms: %d steps, error %q; want %d, %q", tc.in, tc.stepMs, n, got, tc.want, tc.err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestForecastHorizonDuration: --horizon=3h on a 5-minute file is 36 steps.
func TestForecastHorizonDuration(t *testing.T) {
	byDuration, err := runAugur(t, "forecast", "--input="+nabFile, "--horizon=3h")
	if err != nil {
		t.Fatalf("--horizon=3h: %v\n%s", err, byDuration)
	}
	bySteps, err := runAugur(t, "forecast", "--input="+nabFile, "--horizon=36")
	if err != nil {
		t.Fatal(err)
	}
	if rows := readRows(t, byDuration); len(rows) != 1+36 {
		t.Errorf("--horizon=3h wrote %d rows, want a header and 36", len(rows))
	}
	if byDuration != bySteps {
		t.Error("--horizon=3h and --horizon=36 differ on a 5-minute file")
	}
}

// TestModelNames: every name --model offers is one of model.Select's
// candidates, on a series with a daily and a weekly season where each can fit.
func TestModelNames(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	y := make([]float64, 24*7*8)
	for i := range y {
		y[i] = 50 + 10*math.Sin(2*math.Pi*float64(i)/24) + 5*math.Sin(2*math.Pi*float64(i)/168) + rng.NormFloat64()
	}
	for _, name := range modelNames {
		_, sel, err := model.Select(y, model.SelectOptions{Periods: seasonalCandidates(int64(time.Hour / time.Millisecond)), Candidates: []string{name}})
		if err != nil || sel.Model != name {
			t.Errorf("--model=%s: Select chose %q, %v", name, sel.Model, err)
		}
	}
}

// TestModelFlagHelp: the --model help names the choices, not the source.
func TestModelFlagHelp(t *testing.T) {
	for _, cmd := range []string{"backtest", "forecast"} {
		b, err := exec.Command(augurBinary, "help", cmd).CombinedOutput()
		if err != nil {
			t.Fatal(err)
		}
		out := strings.Join(strings.Fields(string(b)), " ") // kingpin wraps the help
		if strings.Contains(out, "model.Select") {
			t.Errorf("augur help %s points at the source code:\n%s", cmd, out)
		}
		for _, name := range modelNames {
			if !strings.Contains(out, name+" (") && !strings.Contains(out, name+" and ") {
				t.Errorf("augur help %s does not explain --model=%s:\n%s", cmd, name, out)
			}
		}
	}
	if _, err := execAugur(t, "forecast", "--input="+nabFile, "--horizon=1", "--model=arima"); err == nil {
		t.Error("--model=arima: no error")
	}
}
