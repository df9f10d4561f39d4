package api

// The Prometheus-compatible query API: enough of Prometheus' HTTP API
// (web/api/v1/api.go) for Grafana's built-in Prometheus data source,
// promtool and client_golang to read augur's series unchanged. Queries run
// on Prometheus' own engine (package query) over augur's TSDB merged with
// the live forecasts; label and series requests read the same merged
// storage.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/query"
	"github.com/augur-sre/augur/rules"
)

// augurMetrics describes every series augur serves, for /api/v1/metadata.
var augurMetrics = []struct{ name, help, unit string }{
	{engine.MetricInput, "The series as ingested (source labels plus signal).", ""},
	{engine.MetricForecast, "One-step-ahead fit over the past, forecast into the future.", ""},
	{engine.MetricForecastLower, "Lower bound of the 95 % prediction interval of augur_forecast.", ""},
	{engine.MetricForecastUpper, "Upper bound of the 95 % prediction interval of augur_forecast.", ""},
	{engine.MetricBandLower, "Lower edge of the dynamic threshold band of the seasonal baseline.", ""},
	{engine.MetricBandUpper, "Upper edge of the dynamic threshold band of the seasonal baseline.", ""},
	{engine.MetricScore, "Degree to which the newest points are unexplained by the model, in [0,1].", ""},
	{engine.MetricFailure, "Probability that the entity fails within the horizon.", ""},
	{engine.MetricCrossing, "Probability that one of the entity's signals reaches its limit within the horizon: evidence of augur_failure_probability.", ""},
	{engine.MetricAnomalyEvidence, "Prior probability of failure from the entity's anomaly scores: evidence of augur_failure_probability.", ""},
	{engine.MetricTimeToLimit, "Time until the series reaches its limit within the failure horizon, by quantile.", "seconds"},
	{query.MetricCapacityETA, "Capacity plan: time until the series reaches its limit within the horizon its horizon matcher names (default 1w), by quantile, at the last evaluation; as /api/v1/capacity.", "seconds"},
	{engine.MetricIncident, "1 while a known incident (Alertmanager webhook, ALERTS, demo script) is under way.", ""},
}

// maxPointsPerSeries is Prometheus' limit of a range query's resolution.
const maxPointsPerSeries = 11000

// registerPrometheusAPI serves the Prometheus HTTP API subset on e, every
// endpoint on GET and form POST.
func (a *API) registerPrometheusAPI(e *echo.Echo) {
	for path, h := range map[string]handler{
		"/api/v1/query":              a.promQuery,
		"/api/v1/query_range":        a.promQueryRange,
		"/api/v1/labels":             a.promLabels,
		"/api/v1/label/:name/values": a.promLabelValues,
		"/api/v1/series":             a.promSeries,
		"/api/v1/status/buildinfo":   a.promBuildInfo,
		"/api/v1/metadata":           a.promMetadata,
		"/api/v1/query_exemplars":    a.promExemplars,
		"/api/v1/rules":              a.promRules,
		"/api/v1/alerts":             a.promAlerts,
		"/api/v1/format_query":       a.promFormatQuery,
	} {
		e.GET(path, wrap(h))
		e.POST(path, wrap(h))
	}
}

// promParams returns the request's parameters, from the URL and a form body.
func promParams(c echo.Context) (map[string][]string, *apiError) {
	r := c.Request()
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &apiError{kind: kindTooLarge, err: fmt.Errorf("request body too large: %w", err)}
		}
		return nil, badData("cannot parse form: %v", err)
	}
	return r.Form, nil
}

func param(p map[string][]string, name string) string {
	if v := p[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// The bounds of the timestamps accepted: the times Prometheus' engine can
// evaluate at, which it reads in nanoseconds since 1970 (a time.Time's
// UnixNano overflows outside 1678-2262, and a query ending in 2300 would
// evaluate at a time in 1715). Prometheus' min and max times, which clients
// send for "no bound", and any time beyond are clamped to these.
var (
	minTime = time.Unix(math.MinInt64/int64(time.Second)+1, 0).UTC()
	maxTime = time.Unix(math.MaxInt64/int64(time.Second)-1, 0).UTC()
)

// parseTime reads a Unix timestamp in (float) seconds or an RFC 3339 time.
func parseTime(name, s string) (time.Time, *apiError) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) {
			return time.Time{}, badData("invalid parameter %q: cannot parse %q to a valid timestamp", name, s)
		}
		switch {
		case f <= float64(minTime.Unix()):
			return minTime, nil
		case f >= float64(maxTime.Unix()):
			return maxTime, nil
		}
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// Prometheus' own min/max time strings lie outside time.Parse's years.
		if strings.HasPrefix(s, "-") {
			return minTime, nil
		}
		if len(s) > 20 && strings.Count(s, "-") >= 2 && s[0] >= '0' && s[0] <= '9' {
			return maxTime, nil
		}
		return time.Time{}, badData("invalid parameter %q: cannot parse %q to a valid timestamp", name, s)
	}
	switch {
	case t.Before(minTime):
		return minTime, nil
	case t.After(maxTime):
		return maxTime, nil
	}
	return t.UTC(), nil
}

// now is the default evaluation time: the later of the wall clock and the
// engine's clock (the demo's may run ahead).
func (a *API) now() time.Time {
	now := time.Now()
	if t := a.opts.Engine.Now(); t.After(now) {
		return t
	}
	return now
}

// badQuery is a query refused before it runs: its syntax, its type, its
// length or nesting depth.
func badQuery(err error) *apiError { return badData("invalid parameter \"query\": %v", err) }

// queryContext is the request's context, shortened by its optional
// "timeout" parameter (Prometheus' per-query timeout).
func queryContext(c echo.Context, p map[string][]string) (context.Context, context.CancelFunc, *apiError) {
	ctx := c.Request().Context()
	if s := param(p, "timeout"); s != "" {
		d, err := parseDuration("timeout", s, 0)
		if err != nil {
			return nil, nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, d)
		return ctx, cancel, nil
	}
	return ctx, func() {}, nil
}

func (a *API) promQuery(c echo.Context) result {
	p, perr := promParams(c)
	if perr != nil {
		return result{err: perr}
	}
	ts := a.now()
	if s := param(p, "time"); s != "" {
		var err *apiError
		if ts, err = parseTime("time", s); err != nil {
			return result{err: err}
		}
	}
	ctx, cancel, err := queryContext(c, p)
	if err != nil {
		return result{err: err}
	}
	defer cancel()
	qs := param(p, "query")
	qry, qerr := a.queryEngine(p).NewInstantQuery(ctx, qs, ts)
	return a.runQuery(ctx, qs, qry, qerr)
}

func (a *API) promQueryRange(c echo.Context) result {
	p, perr := promParams(c)
	if perr != nil {
		return result{err: perr}
	}
	start, err := parseTime("start", param(p, "start"))
	if err != nil {
		return result{err: err}
	}
	end, err := parseTime("end", param(p, "end"))
	if err != nil {
		return result{err: err}
	}
	if end.Before(start) {
		return result{err: badData("invalid parameter \"end\": end timestamp must not be before start time")}
	}
	if param(p, "step") == "" {
		return result{err: badData("invalid parameter \"step\": missing")}
	}
	step, err := parseDuration("step", param(p, "step"), 0)
	if err != nil || step < time.Millisecond {
		if f, ferr := strconv.ParseFloat(param(p, "step"), 64); err == nil || ferr == nil && f < 1e-3 {
			return result{err: badData("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer (the engine's resolution is 1ms)")}
		}
		return result{err: err}
	}
	// In milliseconds, which cannot overflow between minTime and maxTime
	// as a time.Duration does past 292 years.
	if (end.UnixMilli()-start.UnixMilli())/step.Milliseconds() > maxPointsPerSeries {
		return result{err: badData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")}
	}
	ctx, cancel, err := queryContext(c, p)
	if err != nil {
		return result{err: err}
	}
	defer cancel()
	qs := param(p, "query")
	qry, qerr := a.queryEngine(p).NewRangeQuery(ctx, qs, start, end, step)
	return a.runQuery(ctx, qs, qry, qerr)
}

// queryEngine is the engine a request is answered with: over the whole
// fleet's series, or this replica's own with local=true (what the JSON
// fan-outs send; the replicas read each other's series over remote read,
// which answers locally too).
func (a *API) queryEngine(p map[string][]string) *query.Engine {
	if param(p, localParam) == "true" {
		return a.opts.Query.Local()
	}
	return a.opts.Query
}

// runQuery executes a prepared query (or reports why it could not be
// prepared) and answers its value, streamed by wrap.
func (a *API) runQuery(ctx context.Context, qs string, qry promql.Query, err error) result {
	if err != nil {
		return result{err: badQuery(err)}
	}
	res := qry.Exec(ctx)
	warns, infos := res.Warnings.AsStrings(qs, 10, 10)
	warns = append(warns, a.signalWarnings()...)
	if res.Err != nil {
		qry.Close()
		return result{err: res.Err, warnings: warns, infos: infos}
	}
	return result{data: queryResult{v: res.Value}, warnings: warns, infos: infos, done: qry.Close}
}

// queryResult is a query's value in Prometheus' JSON form, written
// straight to the response: a big matrix is never held twice.
type queryResult struct{ v parser.Value }

func (r queryResult) writeJSON(w *bufio.Writer) {
	var b []byte
	b = append(b, `{"resultType":"`...)
	b = append(b, r.v.Type()...)
	b = append(b, `","result":`...)
	switch v := r.v.(type) {
	case promql.Scalar:
		b = appendSample(b, v.T, v.V)
	case promql.String:
		b = append(b, '[')
		b = appendTime(b, v.T)
		b = append(b, ',')
		b = appendString(b, v.V)
		b = append(b, ']')
	case promql.Vector:
		b = appendList(w, b, len(v), func(b []byte, i int) []byte {
			b = appendMetric(b, v[i].Metric)
			b = append(b, `,"value":`...)
			b = appendSample(b, v[i].T, v[i].F)
			return append(b, '}')
		})
	case promql.Matrix:
		b = appendList(w, b, len(v), func(b []byte, i int) []byte {
			b = appendMetric(b, v[i].Metric)
			b = append(b, `,"values":`...)
			fs := v[i].Floats
			b = appendList(w, b, len(fs), func(b []byte, j int) []byte { return appendSample(b, fs[j].T, fs[j].F) })
			return append(b, '}')
		})
	}
	b = append(b, '}')
	_, _ = w.Write(b)
}

// appendList appends the JSON array of n items, writing to w as it grows.
func appendList(w *bufio.Writer, b []byte, n int, item func(b []byte, i int) []byte) []byte {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = flush(w, item(b, i))
	}
	return append(b, ']')
}

// flush writes b to w once it has grown, and returns it emptied.
func flush(w *bufio.Writer, b []byte) []byte {
	if len(b) < 4096 {
		return b
	}
	_, _ = w.Write(b)
	return b[:0]
}

// appendMetric opens a series' object with its labels: {"metric":{...}.
func appendMetric(b []byte, l labels.Labels) []byte {
	b = append(b, `{"metric":{`...)
	i := 0
	l.Range(func(l labels.Label) {
		if i > 0 {
			b = append(b, ',')
		}
		i++
		b = appendString(b, l.Name)
		b = append(b, ':')
		b = appendString(b, l.Value)
	})
	return append(b, '}')
}

// appendSample appends [<unix seconds>,"<value>"], NaN and infinities in
// Prometheus' strings "NaN", "+Inf", "-Inf".
func appendSample(b []byte, t int64, v float64) []byte {
	b = append(b, '[')
	b = appendTime(b, t)
	b = append(b, ',', '"')
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	return append(b, '"', ']')
}

// appendTime appends t (Unix milliseconds) as seconds: the integer part,
// then the milliseconds without trailing zeros, as strconv.AppendFloat of
// t/1000 writes them for every t a query can reach (|t| < 2^53), without
// its shortest-decimal search: the timestamps took 61 % of a query_range's
// encoding that way, 20 % this way (BenchmarkQueryRangeJSON's CPU
// profile). Prometheus' jsonutil.MarshalTimestamp also writes integers.
func appendTime(b []byte, t int64) []byte {
	if t < 0 {
		b = append(b, '-')
		t = -t
	}
	b = strconv.AppendInt(b, t/1000, 10)
	ms := t % 1000
	if ms == 0 {
		return b
	}
	digits := [3]byte{byte('0' + ms/100), byte('0' + ms/10%10), byte('0' + ms%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// appendString appends s as a JSON string: Go's quoting (\a, \x01, \xff)
// is not JSON.
func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// labelRange reads the optional start and end of a label or series
// request: Prometheus' whole time range when absent.
func labelRange(p map[string][]string) (int64, int64, *apiError) {
	start, end := minTime, maxTime
	for _, r := range []struct {
		name string
		t    *time.Time
	}{{"start", &start}, {"end", &end}} {
		if s := param(p, r.name); s != "" {
			t, err := parseTime(r.name, s)
			if err != nil {
				return 0, 0, err
			}
			*r.t = t
		}
	}
	return start.UnixMilli(), end.UnixMilli(), nil
}

// parseLimit reads the optional "limit" parameter (0: no limit).
func parseLimit(p map[string][]string) (int, *apiError) { return parseLimitValue(param(p, "limit")) }

// parseLimitValue reads a bound on a list's length, 0 for none.
func parseLimitValue(s string) (int, *apiError) {
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badData("invalid parameter \"limit\": %q is not a non-negative integer", s)
	}
	return n, nil
}

// matcherSets parses the match[] selectors.
func matcherSets(p map[string][]string) ([][]*labels.Matcher, *apiError) {
	var sets [][]*labels.Matcher
	for _, s := range p["match[]"] {
		ms, err := parser.ParseMetricSelector(s)
		if err != nil {
			return nil, badData("invalid parameter \"match[]\": %v", err)
		}
		sets = append(sets, ms)
	}
	return sets, nil
}

// labelQuery is a labels or label values request: a querier over its time
// range, its selectors and its limit.
type labelQuery struct {
	q          storage.Querier
	start, end int64
	sets       [][]*labels.Matcher
	limit      int
}

func (a *API) labelQuery(p map[string][]string) (*labelQuery, *apiError) {
	start, end, err := labelRange(p)
	if err != nil {
		return nil, err
	}
	limit, err := parseLimit(p)
	if err != nil {
		return nil, err
	}
	sets, err := matcherSets(p)
	if err != nil {
		return nil, err
	}
	q, qerr := a.queryEngine(p).Queryable().Querier(start, end)
	if qerr != nil {
		return nil, errorOf(qerr)
	}
	return &labelQuery{q: q, start: start, end: end, sets: sets, limit: limit}, nil
}

// hints asks a querier for one more name than the limit, to tell a
// truncated answer.
func (lq *labelQuery) hints() *storage.LabelHints {
	if lq.limit == 0 {
		return nil
	}
	return &storage.LabelHints{Limit: lq.limit + 1}
}

// collect answers the union of what f returns for each selector (once
// without one when there are none), sorted and cut to the limit with
// Prometheus' truncation warning, and the storage's warnings (a replica
// left out).
func (lq *labelQuery) collect(f func(ms ...*labels.Matcher) ([]string, annotations.Annotations, error)) result {
	defer lq.q.Close()
	sets := lq.sets
	if len(sets) == 0 {
		sets = [][]*labels.Matcher{nil}
	}
	set := map[string]bool{}
	var annots annotations.Annotations
	for _, ms := range sets {
		vals, a, err := f(ms...)
		if err != nil {
			return result{err: err}
		}
		annots.Merge(a)
		for _, v := range vals {
			set[v] = true
		}
	}
	out := make([]string, 0, len(set))
	for v := range set {
		out = append(out, v)
	}
	sort.Strings(out)
	warns := storageWarnings(annots)
	if lq.limit > 0 && len(out) > lq.limit {
		out, warns = out[:lq.limit], append(warns, truncatedWarning)
	}
	return result{data: out, warnings: warns}
}

// storageWarnings are the warnings of a label or series request, as
// Prometheus words them.
func storageWarnings(a annotations.Annotations) []string {
	warns, _ := a.AsStrings("", 10, 0)
	return warns
}

const truncatedWarning = "results truncated due to limit"

func (a *API) promLabels(c echo.Context) result {
	p, err := promParams(c)
	if err != nil {
		return result{err: err}
	}
	lq, err := a.labelQuery(p)
	if err != nil {
		return result{err: err}
	}
	ctx := c.Request().Context()
	return lq.collect(func(ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return lq.q.LabelNames(ctx, lq.hints(), ms...)
	})
}

func (a *API) promLabelValues(c echo.Context) result {
	p, err := promParams(c)
	if err != nil {
		return result{err: err}
	}
	name := c.Param("name")
	if strings.HasPrefix(name, "U__") {
		name = model.UnescapeName(name, model.ValueEncodingEscaping)
	}
	if !model.LabelName(name).IsValid() || name == "" {
		return result{err: badData("invalid label name: %q", name)}
	}
	lq, err := a.labelQuery(p)
	if err != nil {
		return result{err: err}
	}
	ctx := c.Request().Context()
	return lq.collect(func(ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
		return lq.q.LabelValues(ctx, name, lq.hints(), ms...)
	})
}

func (a *API) promSeries(c echo.Context) result {
	p, err := promParams(c)
	if err != nil {
		return result{err: err}
	}
	if len(p["match[]"]) == 0 {
		return result{err: badData("no match[] parameter provided")}
	}
	lq, err := a.labelQuery(p)
	if err != nil {
		return result{err: err}
	}
	defer lq.q.Close()
	ctx := c.Request().Context()
	hints := &storage.SelectHints{Start: lq.start, End: lq.end, Func: "series"}
	var sets []storage.SeriesSet
	for _, ms := range lq.sets {
		sets = append(sets, lq.q.Select(ctx, len(lq.sets) > 1, hints, ms...))
	}
	ss := storage.NewMergeSeriesSet(sets, 0, storage.ChainedSeriesMerge)
	out := []map[string]string{}
	truncated := false
	for ss.Next() {
		if lq.limit > 0 && len(out) == lq.limit {
			truncated = true
			break
		}
		out = append(out, ss.At().Labels().Map())
	}
	if err := ss.Err(); err != nil {
		return result{err: err}
	}
	warns := storageWarnings(ss.Warnings())
	if truncated {
		warns = append(warns, truncatedWarning)
	}
	return result{data: out, warnings: warns}
}

// promBuildInfo answers status/buildinfo without "features", so that
// Grafana takes augur for plain Prometheus.
func (a *API) promBuildInfo(c echo.Context) result {
	return result{data: buildInfo()}
}

type metadata struct {
	Type string `json:"type"`
	Help string `json:"help"`
	Unit string `json:"unit"`
}

func (a *API) promMetadata(c echo.Context) result {
	p, err := promParams(c)
	if err != nil {
		return result{err: err}
	}
	limit, err := parseLimit(p)
	if err != nil {
		return result{err: err}
	}
	metric := param(p, "metric")
	out := map[string][]metadata{}
	for _, m := range augurMetrics {
		if metric != "" && metric != m.name {
			continue
		}
		if limit > 0 && len(out) >= limit {
			break
		}
		out[m.name] = []metadata{{Type: "gauge", Help: m.help, Unit: m.unit}}
	}
	return result{data: out}
}

func (a *API) promExemplars(c echo.Context) result {
	p, err := promParams(c)
	if err != nil {
		return result{err: err}
	}
	if q := param(p, "query"); q != "" {
		if _, err := a.opts.Query.Parse(q); err != nil {
			return result{err: badQuery(err)}
		}
	}
	return result{data: []any{}}
}

// promAlert is an alert in the Prometheus API's /api/v1/rules and
// /api/v1/alerts.
type promAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    time.Time         `json:"activeAt"`
	Value       string            `json:"value"`
}

// promAlerts lists the pending and firing alerts among as.
func promAlerts(as []rules.Alert) []promAlert {
	out := []promAlert{}
	for _, al := range as {
		if al.State != rules.StatePending && al.State != rules.StateFiring {
			continue
		}
		out = append(out, promAlert{Labels: al.Labels, Annotations: al.Annotations, State: al.State.String(), ActiveAt: al.ActiveAt, Value: strconv.FormatFloat(al.Value, 'e', -1, 64)})
	}
	return out
}

// promRules answers Prometheus' /api/v1/rules with augur's alert rules, one
// group, in the form Grafana's alerting view reads.
func (a *API) promRules(c echo.Context) result {
	type rule struct {
		State          string      `json:"state"`
		Name           string      `json:"name"`
		Query          string      `json:"query"`
		Duration       float64     `json:"duration"`
		Labels         struct{}    `json:"labels"`
		Annotations    struct{}    `json:"annotations"`
		Alerts         []promAlert `json:"alerts"`
		Health         string      `json:"health"`
		LastError      string      `json:"lastError,omitempty"`
		EvaluationTime float64     `json:"evaluationTime"`
		LastEvaluation time.Time   `json:"lastEvaluation"`
		Type           string      `json:"type"`
	}
	type group struct {
		Name           string    `json:"name"`
		File           string    `json:"file"`
		Rules          []rule    `json:"rules"`
		Interval       float64   `json:"interval"`
		EvaluationTime float64   `json:"evaluationTime"`
		LastEvaluation time.Time `json:"lastEvaluation"`
	}
	if a.rules == nil {
		return result{data: map[string]any{"groups": []group{}}}
	}
	g := group{Name: "augur", File: "", Rules: []rule{}}
	for _, rs := range a.rules.Rules() {
		r := rule{Name: rs.Name, Query: rs.Query, Duration: rs.For.Seconds(), Alerts: promAlerts(rs.Alerts), Health: "ok", LastEvaluation: rs.LastEvaluation, Type: "alerting", State: "inactive"}
		if rs.LastEvaluation.IsZero() {
			r.Health = "unknown"
		}
		if rs.Err != nil {
			r.Health, r.LastError = "err", rs.Err.Error()
		}
		for _, al := range r.Alerts {
			if al.State == rules.StateFiring.String() || r.State == "inactive" {
				r.State = al.State
			}
		}
		g.Interval, g.LastEvaluation = rs.Interval.Seconds(), rs.LastEvaluation
		g.Rules = append(g.Rules, r)
	}
	return result{data: map[string]any{"groups": []group{g}}}
}

// promAlerts answers Prometheus' /api/v1/alerts with augur's pending and
// firing alerts.
func (a *API) promAlerts(c echo.Context) result {
	var as []rules.Alert
	if a.rules != nil {
		as = a.rules.Alerts()
	}
	return result{data: map[string]any{"alerts": promAlerts(as)}}
}

func (a *API) promFormatQuery(c echo.Context) result {
	p, err := promParams(c)
	if err != nil {
		return result{err: err}
	}
	expr, perr := a.opts.Query.Parse(param(p, "query"))
	if perr != nil {
		return result{err: badQuery(perr)}
	}
	return result{data: expr.Pretty(0)}
}
