package query

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/augur-sre/augur/engine"
)

// MetricCapacityETA is the capacity plan's time to limit, computed at query
// time: what /api/v1/capacity answers, as a series.
const MetricCapacityETA = "augur_capacity_eta_seconds"

// DefaultCapacityHorizon is the horizon of augur_capacity_eta_seconds
// without a horizon matcher, /api/v1/capacity's default.
const DefaultCapacityHorizon = engine.DefaultCapacityHorizon

// Planner is what the capacity querier reads of the live models.
type Planner interface {
	// Evaluated is the time of the last evaluation; zero while no model
	// is fitted.
	Evaluated() time.Time
	// Plans calls fn with the capacity plan, within horizon, of every
	// series whose labels (without __name__) ms all match and that has a
	// limit: the quantiles of its time to the limit, nil where the limit
	// is not reached within horizon with that probability.
	Plans(ms []*labels.Matcher, horizon time.Duration, fn func(l map[string]string, p10, p50, p90 *float64)) ([]string, error)
}

// capacityQuerier serves augur_capacity_eta_seconds{quantile, horizon}:
// one sample per series and quantile at the last evaluation, the plan
// within the horizon an equality matcher on horizon names (a Prometheus
// duration; DefaultCapacityHorizon without one). The TSDB's
// augur_time_to_limit_seconds is the same plan's ETA against the limit
// within DefaultCapacityHorizon, recorded at every evaluation; this
// answers at any horizon and threshold, from the same model as
// /api/v1/capacity, and costs nothing until asked.
type capacityQuerier struct {
	p          Planner
	maxSamples int
}

func (q *capacityQuerier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	if hints == nil || hints.Func == "series" || !matchName(ms, MetricCapacityETA) {
		return storage.EmptySeriesSet()
	}
	evaluated := q.p.Evaluated()
	if evaluated.IsZero() || evaluated.UnixMilli() < hints.Start || evaluated.UnixMilli() > hints.End {
		return storage.EmptySeriesSet()
	}
	horizon := DefaultCapacityHorizon
	var own []*labels.Matcher
	for _, m := range ms {
		switch {
		case m.Name == "horizon" && m.Type == labels.MatchEqual:
			d, err := model.ParseDuration(m.Value)
			if err != nil || d <= 0 {
				return storage.ErrSeriesSet(fmt.Errorf("invalid horizon %q of %s: want a positive duration such as 1d", m.Value, MetricCapacityETA))
			}
			horizon = time.Duration(d)
		case m.Name == labels.MetricName || m.Name == "horizon" || m.Name == "quantile":
		default:
			own = append(own, m)
		}
	}
	h := model.Duration(horizon).String()
	t := evaluated.UnixMilli()
	var out []storage.Series
	var tooMany bool
	warnings, err := q.p.Plans(own, horizon, func(l map[string]string, p10, p50, p90 *float64) {
		if err := ctx.Err(); err != nil || tooMany {
			return
		}
		for i, v := range [...]*float64{p10, p50, p90} {
			if v == nil {
				continue
			}
			b := labels.NewBuilder(labels.FromMap(l))
			b.Set(labels.MetricName, MetricCapacityETA)
			b.Set("quantile", [...]string{"0.1", "0.5", "0.9"}[i])
			b.Set("horizon", h)
			ls := b.Labels()
			if !matchesAll(ms, ls) {
				continue
			}
			if len(out) >= q.maxSamples {
				tooMany = true
				return
			}
			out = append(out, regular(ls, t, 1, []float64{*v}))
		}
	})
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && tooMany {
		err = promql.ErrTooManySamples(fmt.Sprintf("more than --query.max-samples=%d capacity plans: narrow the selector", q.maxSamples))
	}
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	var warns annotations.Annotations
	for _, w := range warnings {
		warns.Add(fmt.Errorf("%s", w))
	}
	slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &seriesSet{series: out, warnings: warns}
}

// LabelValues lists the metric's name among the metric names, when no
// matcher but __name__'s restricts them: its series are computed only for
// a query, so other label requests do not see them.
func (q *capacityQuerier) LabelValues(_ context.Context, name string, _ *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	if name != labels.MetricName || q.p.Evaluated().IsZero() || !matchName(ms, MetricCapacityETA) {
		return nil, nil, nil
	}
	for _, m := range ms {
		if m.Name != labels.MetricName {
			return nil, nil, nil
		}
	}
	return []string{MetricCapacityETA}, nil, nil
}

func (q *capacityQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *capacityQuerier) Close() error { return nil }
