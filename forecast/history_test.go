package forecast

import (
	"context"
	"math"
	"testing"
	"time"
)

// TestHistoryHasForecastsFromTheStart checks that past points carry the
// one-step forecasts the fitted model would have made (backfilled after the
// first fit), with lower <= forecast <= upper, so past ranges can be queried
// right after start: every point of the last half day (the first part of
// the history serves to fit the backfilling model).
func TestHistoryHasForecastsFromTheStart(t *testing.T) {
	anchor := demoAnchor
	e := newDemoEngine(t, "memory")
	e.Evaluate(context.Background())
	hist := e.History(func(l map[string]string) bool { return l["host"] == "web-1" }, anchor.Add(-12*time.Hour), anchor)
	if len(hist) != 1 {
		t.Fatalf("want one series, got %d", len(hist))
	}
	missing := 0
	for _, p := range hist[0].Points {
		if math.IsNaN(p.Forecast) {
			missing++
			continue
		}
		if !(p.Lower <= p.Forecast && p.Forecast <= p.Upper) {
			t.Fatalf("point %v: lower %v, forecast %v, upper %v", p.T, p.Lower, p.Forecast, p.Upper)
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d past points have no one-step forecast", missing, len(hist[0].Points))
	}
}
