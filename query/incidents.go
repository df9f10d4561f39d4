package query

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"
)

// IncidentSource lists the known incidents for augur_incident.
type IncidentSource interface {
	// Incidents returns every known incident that overlaps [start, end].
	Incidents(ctx context.Context, start, end time.Time) ([]Incident, error)
}

// Incident is a failure under way from Start to End (the source's present
// while it lasts). Labels identify it, without __name__: the entity's
// label (e.g. host="db-1"), alertname, source and, when known, signal.
type Incident struct {
	Labels     labels.Labels
	Start, End time.Time
}

// incidentQuerier serves augur_incident: 1 while an incident is under way.
// Its samples are computed when the engine reads them, never expanded: a
// query costs what its step grid reads (a binary search and a lookback's
// worth of samples per step), however long the incidents, and the engine's
// sample limit counts every sample it reads.
type incidentQuerier struct {
	src        IncidentSource
	mint, maxt int64
	spacing    int64
}

// interval is [start, end] in Unix milliseconds.
type interval struct{ start, end int64 }

func (q *incidentQuerier) series(ctx context.Context, mint, maxt int64, ms []*labels.Matcher) ([]storage.Series, error) {
	if !matchName(ms, MetricIncident) {
		return nil, nil
	}
	incs, err := q.src.Incidents(ctx, time.UnixMilli(mint), time.UnixMilli(maxt))
	if err != nil {
		return nil, err
	}
	type labelled struct {
		labels    labels.Labels
		intervals []interval
	}
	byKey := map[string]*labelled{}
	for _, in := range incs {
		l := labels.NewBuilder(in.Labels).Set(labels.MetricName, MetricIncident).Labels()
		if !matchesAll(ms, l) {
			continue
		}
		iv := interval{in.Start.UnixMilli(), in.End.UnixMilli()}
		if iv.end < iv.start || iv.end < mint || iv.start > maxt {
			continue
		}
		k := l.String()
		s := byKey[k]
		if s == nil {
			s = &labelled{labels: l}
			byKey[k] = s
		}
		s.intervals = append(s.intervals, iv)
	}
	out := make([]storage.Series, 0, len(byKey))
	for _, s := range byKey {
		inc := newIncidents(s.intervals, q.spacing)
		out = append(out, &samplesSeries{labels: s.labels, n: inc.len(), at: inc.at})
	}
	slices.SortFunc(out, func(a, b storage.Series) int { return labels.Compare(a.Labels(), b.Labels()) })
	return out, nil
}

func (q *incidentQuerier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	mint, maxt := q.mint, q.maxt
	if hints != nil {
		mint, maxt = hints.Start, hints.End
	}
	out, err := q.series(ctx, mint, maxt, ms)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	return &seriesSet{series: out}
}

func (q *incidentQuerier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return q.labelSet(ctx, ms, func(l labels.Labels, add func(string)) {
		if v := l.Get(name); v != "" {
			add(v)
		}
	})
}

func (q *incidentQuerier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return q.labelSet(ctx, ms, func(l labels.Labels, add func(string)) {
		l.Range(func(l labels.Label) { add(l.Name) })
	})
}

// labelSet collects, sorted, the strings f adds from the labels of the
// series ms select.
func (q *incidentQuerier) labelSet(ctx context.Context, ms []*labels.Matcher, f func(labels.Labels, func(string))) ([]string, annotations.Annotations, error) {
	ss, err := q.series(ctx, q.mint, q.maxt, ms)
	if err != nil {
		return nil, nil, err
	}
	set := map[string]bool{}
	for _, s := range ss {
		f(s.Labels(), func(v string) { set[v] = true })
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil, nil
}

func (q *incidentQuerier) Close() error { return nil }

// incidents is 1 over its intervals, absent elsewhere: in each interval,
// samples at its start and every spacing after, one at its end and a stale
// marker 1 ms after it, so the series ends at once, not a lookback later.
// Samples are computed from their index; none is stored.
type incidents struct {
	intervals []interval
	spacing   int64
	// first[j] is the index of interval j's first sample; first[len] is Len.
	first []int
}

// newIncidents sorts the intervals and joins those that overlap or touch.
func newIncidents(ivs []interval, spacing int64) *incidents {
	slices.SortFunc(ivs, func(a, b interval) int { return cmp.Compare(a.start, b.start) })
	out := ivs[:0]
	for _, iv := range ivs {
		if n := len(out); n > 0 && iv.start <= out[n-1].end+1 {
			out[n-1].end = max(out[n-1].end, iv.end)
			continue
		}
		out = append(out, iv)
	}
	s := &incidents{intervals: out, spacing: spacing, first: make([]int, len(out)+1)}
	for j, iv := range out {
		s.first[j+1] = s.first[j] + s.before(iv) + 2
	}
	return s
}

// before is the number of samples of iv before its end.
func (s *incidents) before(iv interval) int {
	return int((iv.end - iv.start + s.spacing - 1) / s.spacing)
}

func (s *incidents) len() int { return s.first[len(s.intervals)] }

// at is sample i.
func (s *incidents) at(i int) (int64, float64) {
	j := sort.SearchInts(s.first, i+1) - 1
	iv, k := s.intervals[j], i-s.first[j]
	switch n := s.before(iv); {
	case k < n:
		return iv.start + int64(k)*s.spacing, 1
	case k == n:
		return iv.end, 1
	}
	return iv.end + 1, math.Float64frombits(value.StaleNaN)
}
