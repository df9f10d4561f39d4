package forecast

import (
	"context"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

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

// History returns the points in [start, end] of every series match
// selects, read back from the TSDB.
func (e *Engine) History(match Matcher, start, end time.Time) []SeriesHistory {
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

// ProbabilityPoint is an entity's failure probability at one evaluation.
type ProbabilityPoint struct {
	T int64 // Unix ms
	P float64
	// Cross and Anom are the evidence P was calibrated from.
	Cross, Anom float64
}

// EntityHistory is the failure probability of one entity over time.
type EntityHistory struct {
	Entity, EntityLabel string
	Points              []ProbabilityPoint
}

// FailureHistory returns the failure probabilities over the configured
// horizon computed at each evaluation in [start, end].
func (e *Engine) FailureHistory(start, end time.Time) []EntityHistory {
	e.mu.RLock()
	defer e.mu.RUnlock()
	from, to := start.UnixMilli(), end.UnixMilli()
	var out []EntityHistory
	for _, name := range sortedKeys(e.probHistory) {
		h := e.probHistory[name]
		eh := EntityHistory{Entity: name, EntityLabel: h.label}
		for _, p := range h.points {
			if p.T >= from && p.T <= to {
				eh.Points = append(eh.Points, p)
			}
		}
		out = append(out, eh)
	}
	return out
}

type probHistory struct {
	label  string
	points []ProbabilityPoint
}

// recordProbabilities appends the evaluation's failure probabilities to
// the entities' histories, keeping the retention window.
func (e *Engine) recordProbabilities(st *State) {
	risks := st.Entities
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.evalTime.UnixMilli()
	retain := e.opts.KeepProbabilities.Milliseconds()
	for _, r := range risks {
		h := e.probHistory[r.Entity]
		if h == nil {
			h = &probHistory{label: r.EntityLabel}
			e.probHistory[r.Entity] = h
		}
		if n := len(h.points); n > 0 && h.points[n-1].T == now {
			h.points[n-1] = ProbabilityPoint{T: now, P: r.FailureProbability, Cross: r.CrossingProbability, Anom: r.AnomalyEvidence}
			continue
		}
		h.points = append(h.points, ProbabilityPoint{T: now, P: r.FailureProbability, Cross: r.CrossingProbability, Anom: r.AnomalyEvidence})
		if h.points[0].T < now-2*retain {
			cut := 0
			for cut < len(h.points) && h.points[cut].T < now-retain {
				cut++
			}
			h.points = append(h.points[:0], h.points[cut:]...)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
