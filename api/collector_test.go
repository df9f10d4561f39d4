package api

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestTopFactorCap checks that augur_failure_probability carries the top
// factor only while one series per entity and signal fits in the cap with
// the other score series, and that the cap counts what it drops.
func TestTopFactorCap(t *testing.T) {
	e, _, _ := newDemoEngine(t)
	// Every series the collector exports: a probability per host, an
	// anomaly score per series and its times to limit.
	st := e.State()
	all := len(st.Entities) + len(st.Series)
	for _, s := range st.Series {
		for _, q := range []*float64{s.ETASeconds.P10, s.ETASeconds.P50, s.ETASeconds.P90} {
			if q != nil {
				all++
			}
		}
	}
	for _, c := range []struct {
		max          int
		topFactor    bool
		dropsSomeone bool
	}{
		{max: 10000, topFactor: true},
		// 8 hosts × 3 signals: every series fits, but not one per entity
		// and signal.
		{max: all, topFactor: false},
		{max: 20, topFactor: false, dropsSomeone: true},
	} {
		reg := prometheus.NewRegistry()
		coll := newScoreCollector(e, c.max)
		reg.MustRegister(coll)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		labelled, probs, dropped := 0, 0, 0.0
		for _, mf := range mfs {
			switch mf.GetName() {
			case "augur_failure_probability":
				for _, m := range mf.GetMetric() {
					probs++
					for _, l := range m.GetLabel() {
						if l.GetName() == "top_factor" {
							labelled++
						}
					}
				}
			case "augur_exported_series_dropped":
				dropped = mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		if probs == 0 {
			t.Fatalf("max %d: no augur_failure_probability", c.max)
		}
		if got := labelled > 0; got != c.topFactor {
			t.Errorf("max %d: %d of %d probabilities with top_factor, want labels %v", c.max, labelled, probs, c.topFactor)
		}
		if got := dropped > 0; got != c.dropsSomeone {
			t.Errorf("max %d: %v series dropped", c.max, dropped)
		}
	}
}
