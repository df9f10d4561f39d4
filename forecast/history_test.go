package forecast

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
)

// TestHistoryHasForecastsFromTheStart checks that past points carry the
// one-step forecasts the fitted model would have made (backfilled after the
// first fit), with lower <= forecast <= upper, so past ranges can be queried
// right after start: every point after the two seasonal periods Holt-Winters
// initialises on.
func TestHistoryHasForecastsFromTheStart(t *testing.T) {
	anchor := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: anchor, History: 3 * day, Clock: func() time.Time { return anchor }})
	e, err := New(Options{
		Signals: []Signal{{Name: "memory", SourceName: "demo", Source: demo, Query: "memory", Entity: "host", Limit: 100}},
		Step:    time.Minute, History: 3 * day, Horizon: time.Hour, Now: demo.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	e.Evaluate(context.Background())
	hist := e.History(func(l map[string]string) bool { return l["host"] == "web-1" }, anchor.Add(-day), anchor)
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
