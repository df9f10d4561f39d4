package engine

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

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
// horizon computed at each evaluation in [start, end], with the evidence
// they were calibrated from, read back from the TSDB.
func (e *Engine) FailureHistory(start, end time.Time) []EntityHistory {
	out, err := e.failureHistory(context.Background(), start.UnixMilli(), end.UnixMilli())
	if err != nil {
		e.logger.Warn("cannot read the failure probabilities", "err", err)
	}
	return out
}

// evidenceMetrics are the per-entity series appendOutputs writes, in the
// order of a ProbabilityPoint's values.
var evidenceMetrics = [...]string{MetricFailure, MetricCrossing, MetricAnomalyEvidence}

func (e *Engine) failureHistory(ctx context.Context, from, to int64) ([]EntityHistory, error) {
	q, err := e.store.Querier(from, to)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	horizon := model.Duration(e.opts.Horizon).String()
	type key struct{ label, entity string }
	byEntity := map[key]map[int64]*ProbabilityPoint{}
	var it chunkenc.Iterator
	for k, name := range evidenceMetrics {
		ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, name), labels.MustNewMatcher(labels.MatchEqual, "horizon", horizon))
		for ss.Next() {
			var ek key
			ss.At().Labels().Range(func(l labels.Label) {
				if l.Name != labels.MetricName && l.Name != "horizon" {
					ek = key{l.Name, l.Value}
				}
			})
			pts := byEntity[ek]
			if pts == nil {
				pts = map[int64]*ProbabilityPoint{}
				byEntity[ek] = pts
			}
			it = ss.At().Iterator(it)
			for it.Next() == chunkenc.ValFloat {
				t, v := it.At()
				p := pts[t]
				if p == nil {
					p = &ProbabilityPoint{T: t}
					pts[t] = p
				}
				*[...]*float64{&p.P, &p.Cross, &p.Anom}[k] = v
			}
			if err := it.Err(); err != nil {
				return nil, err
			}
		}
		if err := ss.Err(); err != nil {
			return nil, err
		}
	}
	keys := slices.SortedFunc(maps.Keys(byEntity), func(a, b key) int { return strings.Compare(a.entity, b.entity) })
	out := make([]EntityHistory, 0, len(keys))
	for _, k := range keys {
		eh := EntityHistory{Entity: k.entity, EntityLabel: k.label}
		for _, t := range slices.Sorted(maps.Keys(byEntity[k])) {
			eh.Points = append(eh.Points, *byEntity[k][t])
		}
		out = append(out, eh)
	}
	return out, nil
}
