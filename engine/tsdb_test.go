package engine

import (
	"context"
	"math"
	"testing"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/augur-sre/augur/history"
)

// countSamples returns the number of samples per metric name the TSDB holds.
func countSamples(t *testing.T, db *history.DB) map[string]int {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	out := map[string]int{}
	ss := q.Select(context.Background(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, "augur_.+"))
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for it.Next() != 0 {
			out[ss.At().Labels().Get(labels.MetricName)]++
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAppendsToTSDB checks that an evaluation writes the history and every
// derived series, and that a second engine on the same TSDB (a restart)
// appends only what is new.
func TestAppendsToTSDB(t *testing.T) {
	db, err := history.Open(t.TempDir(), history.Options{OutOfOrderWindow: 2 * day})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e := newDemoEngine(t, "memory connections", Options{Store: db})
	e.Evaluate(context.Background())
	got := countSamples(t, db)
	// Three days at one minute of input for the 16 series, and the last
	// day of every output (backfillSpan; the backfilled one-step forecasts
	// start after two and a half daily periods).
	points, day := 3*24*60, 24*60
	if got[MetricInput] < 16*points-16 {
		t.Errorf("%s: %d samples, want about %d", MetricInput, got[MetricInput], 16*points)
	}
	for _, name := range []string{MetricBandLower, MetricBandUpper, MetricScore} {
		if got[name] < 16*day-16 {
			t.Errorf("%s: %d samples, want about %d", name, got[name], 16*day)
		}
	}
	for _, name := range []string{MetricForecast, MetricForecastLower, MetricForecastUpper} {
		if want := 16 * (points - 5*day/2); got[name] < want {
			t.Errorf("%s: %d samples, want at least %d (the history after the backfill's start)", name, got[name], want)
		}
	}
	if got[MetricFailure] != 8 {
		t.Errorf("%s: %d samples, want one per host (8)", MetricFailure, got[MetricFailure])
	}
	if got[MetricTimeToLimit] == 0 {
		t.Errorf("%s: no samples", MetricTimeToLimit)
	}

	// A restart on the same TSDB: nothing is written twice.
	r := newDemoEngine(t, "memory connections", Options{Store: db, AppendedUntil: db.MaxTime()})
	r.Evaluate(context.Background())
	again := countSamples(t, db)
	if again[MetricInput] != got[MetricInput] {
		t.Errorf("after a restart at the same time: %d input samples, want %d", again[MetricInput], got[MetricInput])
	}
}
