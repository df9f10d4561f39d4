package engine

import (
	"context"
	"maps"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
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
	hist := e.history(func(l map[string]string) bool { return l["host"] == "web-1" }, anchor.Add(-12*time.Hour), anchor)
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

// HistoryPoint is one step of a series as the engine saw it: the input, the
// one-step-ahead forecast made before it with its 95 % interval, the
// dynamic band of its baseline slot and the anomaly score after it. Fields
// are NaN where no model existed yet.
type HistoryPoint struct {
	T                    int64 // Unix ms
	Value                float64
	Forecast, Lower      float64
	Upper                float64
	BandLower, BandUpper float64
	Score                float64
}

// SeriesHistory is the retained history of one series.
type SeriesHistory struct {
	Labels map[string]string
	// Entity is the value of the signal's entity label; EntityLabel its name.
	Entity, EntityLabel string
	Limit               float64
	Points              []HistoryPoint
}

// history returns the points in [start, end] of every series match
// selects, read back from the TSDB.
func (e *Engine) history(match Matcher, start, end time.Time) []SeriesHistory {
	type sel struct {
		h    SeriesHistory
		refs *seriesRefs
	}
	var sels []sel
	e.mu.RLock()
	for _, s := range e.selectSeries(match) {
		sels = append(sels, sel{SeriesHistory{Labels: s.labels, Entity: s.entity, EntityLabel: s.signal.Entity, Limit: s.limit}, s.refs})
	}
	e.mu.RUnlock()
	from, to := start.UnixMilli(), end.UnixMilli()
	q, err := e.store.Querier(from, to)
	if err != nil {
		e.logger.Warn("cannot read history", "err", err)
		return nil
	}
	defer q.Close()
	out := make([]SeriesHistory, 0, len(sels))
	var it chunkenc.Iterator
	for _, sl := range sels {
		byT := map[int64]*HistoryPoint{}
		for k := range pointMetrics {
			l := sl.refs.labels[k]
			ms := make([]*labels.Matcher, 0, l.Len())
			l.Range(func(l labels.Label) { ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, l.Name, l.Value)) })
			ss := q.Select(context.Background(), false, nil, ms...)
			for ss.Next() {
				if labels.Compare(ss.At().Labels(), l) != 0 {
					continue
				}
				it = ss.At().Iterator(it)
				for it.Next() == chunkenc.ValFloat {
					t, v := it.At()
					p := byT[t]
					if p == nil {
						nan := math.NaN()
						p = &HistoryPoint{T: t, Value: nan, Forecast: nan, Lower: nan, Upper: nan, BandLower: nan, BandUpper: nan, Score: nan}
						byT[t] = p
					}
					*[...]*float64{&p.Value, &p.Forecast, &p.Lower, &p.Upper, &p.BandLower, &p.BandUpper, &p.Score}[k] = v
				}
			}
		}
		for _, t := range slices.Sorted(maps.Keys(byT)) {
			if p := byT[t]; !math.IsNaN(p.Value) {
				sl.h.Points = append(sl.h.Points, *p)
			}
		}
		out = append(out, sl.h)
	}
	return out
}
