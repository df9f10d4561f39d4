package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// Forecaster is what the query engine reads of the live models: the
// future after the last evaluation, which the TSDB cannot hold yet.
type Forecaster interface {
	// Evaluated is the time of the last evaluation; zero while no model
	// is fitted.
	Evaluated() time.Time
	// Forecasts calls fn, in any order, with the forecast of every series
	// whose labels (without __name__) ms all match, from the step after the
	// series' last evaluated point through end, at the models' step, with
	// its central 95 % prediction interval. Forecast's slices are only
	// valid during fn; an error from fn stops the walk and is returned.
	// When those forecasts would hold more than maxPoints points in all,
	// it returns a *TooManyPointsError before computing them.
	Forecasts(ctx context.Context, ms []*labels.Matcher, end time.Time, maxPoints int, fn func(Forecast) error) error
}

// Forecast is one series' forecast: Point[i], Lower[i], Upper[i] are at
// Start + i*Step (Unix milliseconds).
type Forecast struct {
	Labels              labels.Labels
	Start, Step         int64
	Point, Lower, Upper []float64
}

// TooManyPointsError is a Forecaster's refusal to compute the forecasts of
// Series series through End: Points points in all, more than asked.
type TooManyPointsError struct {
	Series int
	End    time.Time
	Points int64
}

func (e *TooManyPointsError) Error() string {
	return fmt.Sprintf("the forecasts of %d series through %s (%d points)", e.Series, e.End.UTC().Format(time.RFC3339), e.Points)
}

// maxFuturePoints bounds the forecast points one selector has computed.
// The models' forecasts are computed whole, at about 48 bytes a point and
// up to twice that while their slices grow, before they are cut to the
// samples the selector reads: 500,000 points keep them under 48 MiB (e.g.
// 347 series for a day ahead at a one-minute step, 11 series for 31 days).
const maxFuturePoints = 500_000

// futureQuerier serves augur_forecast, _lower and _upper after the last
// evaluation; the TSDB holds them before.
type futureQuerier struct {
	f          Forecaster
	maxSamples int
	maxFuture  time.Duration
}

var futureNames = [...]string{MetricForecast, MetricForecastLower, MetricForecastUpper}

func (q *futureQuerier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	// The series themselves are in the TSDB: listing them (the series and
	// label endpoints) needs no forecast.
	if hints == nil || hints.Func == "series" {
		return storage.EmptySeriesSet()
	}
	names := make([]string, 0, len(futureNames))
	var own []*labels.Matcher
	for _, m := range ms {
		if m.Name != labels.MetricName {
			own = append(own, m)
		}
	}
	for _, n := range futureNames {
		if matchName(ms, n) {
			names = append(names, n)
		}
	}
	evaluated := q.f.Evaluated()
	if len(names) == 0 || evaluated.IsZero() || hints.End <= evaluated.UnixMilli() {
		return storage.EmptySeriesSet()
	}
	var warns annotations.Annotations
	end := time.UnixMilli(hints.End)
	if limit := evaluated.Add(q.maxFuture); end.After(limit) {
		end = limit
		warns.Add(fmt.Errorf("forecasts reach at most %s past the last evaluation (%s)", model.Duration(q.maxFuture), evaluated.UTC().Format(time.RFC3339)))
	}
	var out []storage.Series
	total := 0
	// Each point computed becomes a sample of every name asked for.
	budget := min(q.maxSamples/len(names), maxFuturePoints)
	err := q.f.Forecasts(ctx, own, end, budget, func(f Forecast) error {
		// Keep only the points the selector reads: [Start, End].
		first := 0
		if hints.Start > f.Start {
			first = int((hints.Start - f.Start + f.Step - 1) / f.Step)
		}
		last := len(f.Point)
		if n := (hints.End-f.Start)/f.Step + 1; n < int64(last) {
			last = max(0, int(n))
		}
		if first >= last {
			return nil
		}
		n := last - first
		// The cap is checked before the points are copied.
		if total += n * len(names); total > q.maxSamples {
			return promql.ErrTooManySamples(fmt.Sprintf("the forecasts up to %s (more than --query.max-samples=%d past the last evaluation): narrow the selector or the time range", f.Labels, q.maxSamples))
		}
		start := f.Start + int64(first)*f.Step
		for _, name := range names {
			var v []float64
			switch name {
			case MetricForecast:
				v = f.Point
			case MetricForecastLower:
				v = f.Lower
			case MetricForecastUpper:
				v = f.Upper
			}
			l := labels.NewBuilder(f.Labels).Set(labels.MetricName, name).Labels()
			if !matchesAll(ms, l) {
				continue
			}
			out = append(out, regular(l, start, f.Step, slices.Clone(v[first:last])))
		}
		return nil
	})
	if tooMany := (*TooManyPointsError)(nil); errors.As(err, &tooMany) {
		err = promql.ErrTooManySamples(fmt.Sprintf("%v, more than the %d points of forecast a selector may compute (--query.max-samples=%d over %d metric names, at most %d): narrow the selector or the time range",
			tooMany, budget, q.maxSamples, len(names), maxFuturePoints))
	}
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return &seriesSet{series: out, warnings: warns}
}

func (q *futureQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *futureQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}

func (q *futureQuerier) Close() error { return nil }

// matchName reports whether the matchers on __name__ accept name.
func matchName(ms []*labels.Matcher, name string) bool {
	for _, m := range ms {
		if m.Name == labels.MetricName && !m.Matches(name) {
			return false
		}
	}
	return true
}

func matchesAll(ms []*labels.Matcher, l labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return true
}
