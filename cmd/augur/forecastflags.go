package main

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	promodel "github.com/prometheus/common/model"
)

// Largest --horizon in steps: forecast writes every step, backtest scores
// every held-out point at every lead up to it.
const (
	maxForecastSteps = 1_000_000
	maxBacktestSteps = 100_000
)

// horizon is a --horizon value: a number of steps, or a duration that
// steps converts with a file's step.
type horizon struct {
	n   int
	dur time.Duration
	max int
}

// horizonFlag adds --horizon to a command. A plain number is steps, as
// before durations were accepted; a duration takes Prometheus' units (1h,
// 90m, 1d, 1w, 1h30m) or Go's (1.5h).
func horizonFlag(c *kingpin.CmdClause, maxSteps int) *horizon {
	h := &horizon{max: maxSteps}
	c.Flag("horizon", "Lead time: a number of steps (288) or a duration (3h, 1d, 1w: Prometheus' units), converted per file with its median step.").Required().SetValue(h)
	return h
}

func (h *horizon) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > h.max {
			return fmt.Errorf("--horizon must be between 1 and %d steps, got %d", h.max, n)
		}
		h.n, h.dur = n, 0
		return nil
	}
	d, err := promodel.ParseDuration(s)
	if err != nil {
		gd, gerr := time.ParseDuration(s)
		if gerr != nil {
			return fmt.Errorf("--horizon must be a number of steps or a duration like 3h or 1d, got %q", s)
		}
		d = promodel.Duration(gd)
	}
	if d <= 0 {
		return fmt.Errorf("--horizon must be a positive duration, got %q", s)
	}
	h.n, h.dur = 0, time.Duration(d)
	return nil
}

func (h *horizon) String() string {
	if h.dur > 0 {
		return promodel.Duration(h.dur).String()
	}
	return strconv.Itoa(h.n)
}

// steps is the horizon in steps of stepMs milliseconds (at least one).
func (h *horizon) steps(stepMs int64) (int, error) {
	if h.dur == 0 {
		return h.n, nil
	}
	n := max(1, math.Round(float64(h.dur.Milliseconds())/float64(stepMs)))
	if n > float64(h.max) {
		return 0, fmt.Errorf("--horizon=%s is %.0f steps of %s, at most %d", h, n, time.Duration(stepMs)*time.Millisecond, h.max)
	}
	return int(n), nil
}

// modelNames are the candidates of model.Select, in its words
// (TestModelNames checks that Select knows each).
var modelNames = []string{"naive", "snaive", "holt_damped", "holtwinters", "holtwinters_damped", "mstl", "ari", "lstm"}

// modelsFlag adds --model to a command; the value is nil (every candidate)
// when the flag is not given.
func modelsFlag(c *kingpin.CmdClause) func() []string {
	models := c.Flag("model", "Restrict the selection to this model (repeatable): naive (the last value), snaive (the value a season ago), holt_damped (damped trend), holtwinters and holtwinters_damped (trend and additive season of a day or a week), mstl (two seasons), ari (ridge AR on the changes), lstm (a small LSTM network, tried only when named). Default: every one that fits the series but lstm, chosen by backtest.").Enums(modelNames...)
	return func() []string {
		if len(*models) == 0 {
			return nil
		}
		return *models
	}
}
