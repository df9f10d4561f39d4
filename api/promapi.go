package api

// The Prometheus-compatible query API: enough of Prometheus' HTTP API
// (web/api/v1/api.go) for Grafana's built-in Prometheus data source,
// promtool and client_golang to read augur's virtual metrics unchanged.
// Expressions are parsed with Prometheus' own parser; augur evaluates
// selectors of its virtual metrics, number literals, and arithmetic or
// comparisons between a selector and a number. Anything else is 400 bad_data.

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/augur-sre/augur/forecast"
)

// Virtual metric names.
const (
	metricInput         = "augur_input"
	metricForecast      = "augur_forecast"
	metricForecastLower = "augur_forecast_lower"
	metricForecastUpper = "augur_forecast_upper"
	metricBandLower     = "augur_baseline_lower"
	metricBandUpper     = "augur_baseline_upper"
	metricScore         = "augur_anomaly_score"
	metricFailure       = "augur_failure_probability"
	metricTimeToLimit   = "augur_time_to_limit_seconds"
	metricIncident      = "augur_incident"
)

// virtualMetrics describes every virtual metric, for /api/v1/metadata.
var virtualMetrics = []struct{ name, help, unit string }{
	{metricInput, "The series as ingested (source labels plus signal).", ""},
	{metricForecast, "One-step-ahead fit over the past, forecast into the future.", ""},
	{metricForecastLower, "Lower bound of the 95 % prediction interval of augur_forecast.", ""},
	{metricForecastUpper, "Upper bound of the 95 % prediction interval of augur_forecast.", ""},
	{metricBandLower, "Lower edge of the dynamic threshold band of the seasonal baseline.", ""},
	{metricBandUpper, "Upper edge of the dynamic threshold band of the seasonal baseline.", ""},
	{metricScore, "Degree to which the newest points are unexplained by the model, in [0,1].", ""},
	{metricFailure, "Probability that the entity fails within the horizon.", ""},
	{metricTimeToLimit, "Time until the series reaches its limit, by quantile.", "seconds"},
	{metricIncident, "1 while a known incident (Alertmanager webhook, ALERTS, demo script) is under way.", ""},
}

// seriesMetrics are the virtual metrics read from a series' history.
var seriesMetrics = []string{metricInput, metricForecast, metricForecastLower, metricForecastUpper, metricBandLower, metricBandUpper, metricScore}

const (
	// maxPointsPerSeries is Prometheus' limit of a range query's resolution.
	maxPointsPerSeries = 11000
	// maxQuerySamples bounds the samples one query returns (422 beyond).
	maxQuerySamples = 5_000_000
	// maxFutureSpan bounds how far a range query reaches into the future.
	maxFutureSpan = 31 * 24 * time.Hour
	// lookbackDelta is how far back an instant looks for a sample, as in Prometheus.
	lookbackDelta = 5 * time.Minute
)

// historyEngine is what the query API needs from the engine besides Engine.
type historyEngine interface {
	History(match forecast.Matcher, start, end time.Time) []forecast.SeriesHistory
	FailureHistory(start, end time.Time) []forecast.EntityHistory
}

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
			return nil, &apiError{typ: errBadData, status: http.StatusRequestEntityTooLarge, err: fmt.Errorf("request body too large: %w", err)}
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

// bounds of timestamps accepted: Prometheus' min and max times, which
// clients send for "no bound", are clamped to these.
var (
	minTime = time.Unix(-1<<40, 0).UTC()
	maxTime = time.Unix(1<<40, 0).UTC()
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

func (a *API) historyEngine() (historyEngine, *apiError) {
	he, ok := a.opts.Engine.(historyEngine)
	if !ok {
		return nil, &apiError{typ: errExec, status: http.StatusUnprocessableEntity, err: errors.New("the engine keeps no history")}
	}
	return he, nil
}

// sample is one point of a query result; it marshals as Prometheus does,
// [<unix seconds>, "<value>"].
type sample struct {
	T int64 // ms
	V float64
}

func (s sample) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 40)
	b = append(b, '[')
	b = strconv.AppendFloat(b, float64(s.T)/1000, 'f', -1, 64)
	b = append(b, ',', '"')
	b = appendValue(b, s.V)
	return append(b, '"', ']'), nil
}

func appendValue(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

type stringSample struct {
	T int64
	S string
}

func (s stringSample) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 32+len(s.S))
	b = append(b, '[')
	b = strconv.AppendFloat(b, float64(s.T)/1000, 'f', -1, 64)
	b = append(b, ',')
	b = strconv.AppendQuote(b, s.S)
	return append(b, ']'), nil
}

type vectorItem struct {
	Metric map[string]string `json:"metric"`
	Value  sample            `json:"value"`
}

type matrixItem struct {
	Metric map[string]string `json:"metric"`
	Values []sample          `json:"values"`
}

type queryData struct {
	ResultType string `json:"resultType"`
	Result     any    `json:"result"`
}

// vseries is one virtual series: its labels and samples in time order.
type vseries struct {
	labels  labels.Labels
	samples []sample
}

// evaluated is the value of an expression: a scalar or string constant, or
// a set of series.
type evaluated struct {
	typ    parser.ValueType
	scalar float64
	str    string
	series []*vseries
}

// span is the time range an expression is evaluated over: the steps
// start, start+step, ..., end.
type span struct {
	start, end time.Time
	step       time.Duration
}

func (s span) steps() int {
	if s.step <= 0 {
		return 1
	}
	return int(s.end.Sub(s.start)/s.step) + 1
}

func (s span) at(i int) int64 { return s.start.Add(time.Duration(i) * s.step).UnixMilli() }

func (a *API) promQuery(c echo.Context) result {
	p, perr := promParams(c)
	if perr != nil {
		return result{err: perr}
	}
	q := param(p, "query")
	ts := a.now()
	if s := param(p, "time"); s != "" {
		var err *apiError
		if ts, err = parseTime("time", s); err != nil {
			return result{err: err}
		}
	}
	expr, err := parseExpr(q)
	if err != nil {
		return result{err: err}
	}
	ev, warns, err := a.eval(expr, span{start: ts, end: ts})
	if err != nil {
		return result{err: err, warnings: warns}
	}
	t := ts.UnixMilli()
	switch ev.typ {
	case parser.ValueTypeScalar:
		return result{data: queryData{ResultType: "scalar", Result: sample{T: t, V: ev.scalar}}, warnings: warns}
	case parser.ValueTypeString:
		return result{data: queryData{ResultType: "string", Result: stringSample{T: t, S: ev.str}}, warnings: warns}
	}
	out := []vectorItem{}
	for _, s := range ev.series {
		if len(s.samples) > 0 {
			out = append(out, vectorItem{Metric: s.labels.Map(), Value: sample{T: t, V: s.samples[0].V}})
		}
	}
	return result{data: queryData{ResultType: "vector", Result: out}, warnings: warns}
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
	if err != nil {
		return result{err: badData("invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer")}
	}
	if end.Sub(start)/step > maxPointsPerSeries {
		return result{err: badData("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)")}
	}
	expr, err := parseExpr(param(p, "query"))
	if err != nil {
		return result{err: err}
	}
	if t := expr.Type(); t != parser.ValueTypeScalar && t != parser.ValueTypeVector {
		return result{err: badData("invalid expression type %q for range query, must be Scalar or instant Vector", parser.DocumentedType(t))}
	}
	sp := span{start: start, end: end, step: step}
	ev, warns, err := a.eval(expr, sp)
	if err != nil {
		return result{err: err, warnings: warns}
	}
	out := []matrixItem{}
	if ev.typ == parser.ValueTypeScalar {
		vals := make([]sample, sp.steps())
		for i := range vals {
			vals[i] = sample{T: sp.at(i), V: ev.scalar}
		}
		out = append(out, matrixItem{Metric: map[string]string{}, Values: vals})
	}
	for _, s := range ev.series {
		if len(s.samples) > 0 {
			out = append(out, matrixItem{Metric: s.labels.Map(), Values: s.samples})
		}
	}
	return result{data: queryData{ResultType: "matrix", Result: out}, warnings: warns}
}

// parseExpr parses a PromQL expression with Prometheus' parser.
func parseExpr(q string) (parser.Expr, *apiError) {
	if strings.TrimSpace(q) == "" {
		return nil, badData("invalid parameter \"query\": empty query")
	}
	expr, err := parser.ParseExpr(q)
	if err != nil {
		return nil, badData("invalid parameter \"query\": %v", err)
	}
	return expr, nil
}

// errUnsupported explains what augur evaluates.
func errUnsupported(what string) *apiError {
	return badData("unsupported expression %s: augur evaluates selectors of its virtual metrics (augur_input, augur_forecast, augur_forecast_lower, augur_forecast_upper, augur_baseline_lower, augur_baseline_upper, augur_anomaly_score, augur_failure_probability, augur_time_to_limit_seconds, augur_incident), number literals, and arithmetic or comparisons between them and numbers; aggregations and functions are for Prometheus: scrape augur's /metrics", what)
}

// eval evaluates expr at every step of sp. Series carry one sample per step
// at which they have a value.
func (a *API) eval(expr parser.Expr, sp span) (evaluated, []string, *apiError) {
	switch e := expr.(type) {
	case *parser.NumberLiteral:
		return evaluated{typ: parser.ValueTypeScalar, scalar: e.Val}, nil, nil
	case *parser.StringLiteral:
		return evaluated{typ: parser.ValueTypeString, str: e.Val}, nil, nil
	case *parser.ParenExpr:
		return a.eval(e.Expr, sp)
	case *parser.StepInvariantExpr:
		return a.eval(e.Expr, sp)
	case *parser.UnaryExpr:
		ev, w, err := a.eval(e.Expr, sp)
		if err != nil || e.Op == parser.ADD {
			return ev, w, err
		}
		if ev.typ == parser.ValueTypeScalar {
			ev.scalar = -ev.scalar
			return ev, w, nil
		}
		for _, s := range ev.series {
			s.labels = s.labels.DropMetricName()
			for i := range s.samples {
				s.samples[i].V = -s.samples[i].V
			}
		}
		return ev, w, nil
	case *parser.BinaryExpr:
		return a.evalBinary(e, sp)
	case *parser.VectorSelector:
		if e.Timestamp != nil || e.StartOrEnd != 0 {
			return evaluated{}, nil, errUnsupported("with the @ modifier")
		}
		return a.evalSelector(e, sp)
	case *parser.MatrixSelector:
		return evaluated{}, nil, errUnsupported("range vector " + e.String())
	case *parser.Call:
		return evaluated{}, nil, errUnsupported("function call " + e.Func.Name + "()")
	case *parser.AggregateExpr:
		return evaluated{}, nil, errUnsupported("aggregation " + e.Op.String())
	case *parser.SubqueryExpr:
		return evaluated{}, nil, errUnsupported("subquery")
	}
	return evaluated{}, nil, errUnsupported(expr.String())
}

func (a *API) evalBinary(e *parser.BinaryExpr, sp span) (evaluated, []string, *apiError) {
	lhs, w1, err := a.eval(e.LHS, sp)
	if err != nil {
		return evaluated{}, w1, err
	}
	rhs, w2, err := a.eval(e.RHS, sp)
	warns := append(w1, w2...)
	if err != nil {
		return evaluated{}, warns, err
	}
	if e.Op.IsSetOperator() || (lhs.typ == parser.ValueTypeVector && rhs.typ == parser.ValueTypeVector) {
		return evaluated{}, warns, errUnsupported("between two vectors (" + e.String() + ")")
	}
	returnBool := e.ReturnBool
	if lhs.typ == parser.ValueTypeScalar && rhs.typ == parser.ValueTypeScalar {
		v, keep := binop(e.Op, lhs.scalar, rhs.scalar)
		if e.Op.IsComparisonOperator() {
			v = 0
			if keep {
				v = 1
			}
		}
		return evaluated{typ: parser.ValueTypeScalar, scalar: v}, warns, nil
	}
	vec, scalar, swapped := lhs, rhs.scalar, false
	if lhs.typ == parser.ValueTypeScalar {
		vec, scalar, swapped = rhs, lhs.scalar, true
	}
	for _, s := range vec.series {
		if !e.Op.IsComparisonOperator() || returnBool {
			s.labels = s.labels.DropMetricName()
		}
		kept := s.samples[:0]
		for _, p := range s.samples {
			x, y := p.V, scalar
			if swapped {
				x, y = y, x
			}
			v, keep := binop(e.Op, x, y)
			switch {
			case e.Op.IsComparisonOperator() && returnBool:
				v = 0
				if keep {
					v = 1
				}
			case e.Op.IsComparisonOperator():
				if !keep {
					continue
				}
				v = p.V
			}
			kept = append(kept, sample{T: p.T, V: v})
		}
		s.samples = kept
	}
	return vec, warns, nil
}

// binop applies an arithmetic or comparison operator; for comparisons keep
// reports whether it holds.
func binop(op parser.ItemType, x, y float64) (v float64, keep bool) {
	switch op {
	case parser.ADD:
		return x + y, true
	case parser.SUB:
		return x - y, true
	case parser.MUL:
		return x * y, true
	case parser.DIV:
		return x / y, true
	case parser.POW:
		return math.Pow(x, y), true
	case parser.MOD:
		return math.Mod(x, y), true
	case parser.ATAN2:
		return math.Atan2(x, y), true
	case parser.EQLC:
		return x, x == y
	case parser.NEQ:
		return x, x != y
	case parser.GTR:
		return x, x > y
	case parser.LSS:
		return x, x < y
	case parser.GTE:
		return x, x >= y
	case parser.LTE:
		return x, x <= y
	}
	return math.NaN(), false
}

// metricSelected reports whether the selector's __name__ matchers accept name.
func metricSelected(ms []*labels.Matcher, name string) bool {
	for _, m := range ms {
		if m.Name == labels.MetricName && !m.Matches(name) {
			return false
		}
	}
	return true
}

// prefilter selects series by the matchers on their own labels: every
// matcher but those on the labels the virtual metrics add.
func prefilter(ms []*labels.Matcher) forecast.Matcher {
	return func(l map[string]string) bool {
		for _, m := range ms {
			switch m.Name {
			case labels.MetricName, "quantile", "horizon":
				continue
			}
			if !m.Matches(l[m.Name]) {
				return false
			}
		}
		return true
	}
}

func matchesAll(ms []*labels.Matcher, l labels.Labels) bool {
	for _, m := range ms {
		if !m.Matches(l.Get(m.Name)) {
			return false
		}
	}
	return true
}

// withName returns the labels of m plus extra pairs (name, value, ...).
func withName(m map[string]string, extra ...string) labels.Labels {
	b := labels.NewScratchBuilder(len(m) + len(extra)/2)
	for k, v := range m {
		b.Add(k, v)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		b.Add(extra[i], extra[i+1])
	}
	b.Sort()
	return b.Labels()
}

// evalSelector evaluates a selector of virtual metrics over sp. A step
// takes the newest sample in (t - lookback, t], as Prometheus does; where a
// series has no more history, forecasts continue it into the future.
func (a *API) evalSelector(vs *parser.VectorSelector, sp span) (evaluated, []string, *apiError) {
	he, err := a.historyEngine()
	if err != nil {
		return evaluated{}, nil, err
	}
	ms := vs.LabelMatchers
	offset := vs.OriginalOffset
	start, end := sp.start.Add(-offset), sp.end.Add(-offset)
	lookback := max(lookbackDelta, a.opts.Engine.Step())
	from := start.Add(-lookback)
	var raw []*vseries
	var warns []string

	wantSeries := false
	for _, name := range seriesMetrics {
		wantSeries = wantSeries || metricSelected(ms, name)
	}
	if wantSeries {
		hist := he.History(prefilter(ms), from, end)
		var fcs map[string]forecast.SeriesForecast
		if wantForecast(ms) && len(hist) > 0 {
			var w []string
			fcs, w = a.futureForecasts(ms, hist, end)
			warns = append(warns, w...)
		}
		for _, h := range hist {
			fc := fcs[labelsKeyOf(h.Labels)]
			for _, name := range seriesMetrics {
				if !metricSelected(ms, name) {
					continue
				}
				vs := &vseries{labels: withName(h.Labels, labels.MetricName, name)}
				if !matchesAll(ms, vs.labels) {
					continue
				}
				for _, p := range h.Points {
					vs.samples = append(vs.samples, sample{T: p.T, V: historyValue(name, p)})
				}
				for _, p := range fc.Points {
					var v float64
					switch name {
					case metricForecast:
						v = p.Forecast
					case metricForecastLower:
						v = p.Lower
					case metricForecastUpper:
						v = p.Upper
					default:
						continue
					}
					vs.samples = append(vs.samples, sample{T: p.Time.UnixMilli(), V: v})
				}
				raw = append(raw, vs)
			}
		}
	}
	if metricSelected(ms, metricFailure) {
		horizon := model.Duration(a.opts.Engine.Horizon()).String()
		for _, eh := range he.FailureHistory(from, end) {
			vs := &vseries{labels: labels.FromStrings(labels.MetricName, metricFailure, eh.EntityLabel, eh.Entity, "horizon", horizon)}
			if !matchesAll(ms, vs.labels) {
				continue
			}
			for _, p := range eh.Points {
				vs.samples = append(vs.samples, sample{T: p.T, V: p.P})
			}
			raw = append(raw, vs)
		}
	}
	if metricSelected(ms, metricTimeToLimit) && a.opts.Engine.Ready() {
		now := a.opts.Engine.Now().UnixMilli()
		if now >= from.UnixMilli() && now <= end.UnixMilli() {
			for _, s := range a.opts.Engine.Scores() {
				for _, q := range []struct {
					name string
					v    *float64
				}{{"0.1", s.ETASeconds.P10}, {"0.5", s.ETASeconds.P50}, {"0.9", s.ETASeconds.P90}} {
					if q.v == nil {
						continue
					}
					vs := &vseries{labels: withName(s.Labels, labels.MetricName, metricTimeToLimit, "quantile", q.name)}
					if matchesAll(ms, vs.labels) {
						vs.samples = []sample{{T: now, V: *q.v}}
						raw = append(raw, vs)
					}
				}
			}
		}
	}
	if metricSelected(ms, metricIncident) {
		raw = append(raw, a.incidentSeries(he, ms, start, end)...)
	}

	// Sample every series at the steps; offset shifts the output times back.
	n := sp.steps()
	total := 0
	out := make([]*vseries, 0, len(raw))
	lb := lookback.Milliseconds()
	for _, vs := range raw {
		src := vs.samples
		sort.SliceStable(src, func(i, j int) bool { return src[i].T < src[j].T })
		var dst []sample
		j := 0
		for i := range n {
			t := sp.at(i) - offset.Milliseconds()
			for j < len(src) && src[j].T <= t {
				j++
			}
			// src[j-1] is the newest sample at or before t; skip missing values.
			k := j - 1
			for k >= 0 && src[k].T > t-lb && math.IsNaN(src[k].V) {
				k--
			}
			if k >= 0 && src[k].T > t-lb {
				dst = append(dst, sample{T: sp.at(i), V: src[k].V})
			}
		}
		if len(dst) == 0 {
			continue
		}
		total += len(dst)
		if total > maxQuerySamples {
			return evaluated{}, warns, &apiError{typ: errExec, status: http.StatusUnprocessableEntity, err: fmt.Errorf("query processing would load too many samples into memory (more than %d): narrow the selector or raise the step", maxQuerySamples)}
		}
		vs.samples = dst
		out = append(out, vs)
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].labels, out[j].labels) < 0 })
	return evaluated{typ: parser.ValueTypeVector, series: out}, warns, nil
}

func wantForecast(ms []*labels.Matcher) bool {
	return metricSelected(ms, metricForecast) || metricSelected(ms, metricForecastLower) || metricSelected(ms, metricForecastUpper)
}

// futureForecasts returns, by series, the forecasts from the end of each
// series' history up to end, when end lies beyond it.
func (a *API) futureForecasts(ms []*labels.Matcher, hist []forecast.SeriesHistory, end time.Time) (map[string]forecast.SeriesForecast, []string) {
	step := a.opts.Engine.Step()
	now := a.opts.Engine.Now()
	if !end.After(now) || !a.opts.Engine.Ready() {
		return nil, nil
	}
	var warns []string
	horizon := end.Sub(now) + step
	if horizon > maxFutureSpan {
		horizon = maxFutureSpan
		warns = append(warns, fmt.Sprintf("forecasts reach at most %s into the future", model.Duration(maxFutureSpan)))
	}
	fcs, err := a.opts.Engine.Forecast(prefilter(ms), horizon, step, 0.95)
	if err != nil {
		return nil, append(warns, "cannot forecast: "+err.Error())
	}
	out := make(map[string]forecast.SeriesForecast, len(fcs))
	for _, f := range fcs {
		out[labelsKeyOf(f.Labels)] = f
	}
	return out, warns
}

func labelsKeyOf(m map[string]string) string { return labels.FromMap(m).String() }

func historyValue(name string, p forecast.HistoryPoint) float64 {
	switch name {
	case metricInput:
		return p.Value
	case metricForecast:
		return p.Forecast
	case metricForecastLower:
		return p.Lower
	case metricForecastUpper:
		return p.Upper
	case metricBandLower:
		return p.BandLower
	case metricBandUpper:
		return p.BandUpper
	case metricScore:
		return p.Score
	}
	return math.NaN()
}

// entityLabels maps each entity to the name of its label (e.g. "host"),
// from the series the engine models.
func entityLabels(he historyEngine) map[string]string {
	out := map[string]string{}
	for _, h := range he.History(nil, maxTime, maxTime) {
		if h.EntityLabel != "" {
			out[h.Entity] = h.EntityLabel
		}
	}
	return out
}

// incidentLabels are the labels of augur_incident for an incident.
func incidentLabels(entityLabel map[string]string, entity, name, signal, source string) labels.Labels {
	el := entityLabel[entity]
	if el == "" {
		el = "entity"
	}
	m := map[string]string{el: entity, "alertname": name, "source": source}
	if signal != "" {
		m["signal"] = signal
	}
	return withName(m, labels.MetricName, metricIncident)
}

// incidentSeries is augur_incident: 1 at every minute an incident is under
// way in [start, end]; an incident with no end lasts until now.
func (a *API) incidentSeries(he historyEngine, ms []*labels.Matcher, start, end time.Time) []*vseries {
	incs := a.opts.Engine.Incidents()
	if len(incs) == 0 {
		return nil
	}
	el := entityLabels(he)
	byKey := map[string]*vseries{}
	var keys []string
	step := max(a.opts.Engine.Step(), time.Minute).Milliseconds()
	now := a.now().UnixMilli()
	for _, in := range incs {
		l := incidentLabels(el, in.Entity, in.Name, in.Signal, in.Source)
		if !matchesAll(ms, l) {
			continue
		}
		k := l.String()
		vs := byKey[k]
		if vs == nil {
			vs = &vseries{labels: l}
			byKey[k] = vs
			keys = append(keys, k)
		}
		t0, t1 := in.Start.UnixMilli(), in.End.UnixMilli()
		if in.End.IsZero() || t1 < t0 {
			t1 = now
		}
		t0, t1 = max(t0, start.Add(-lookbackDelta).UnixMilli()), min(t1, end.UnixMilli())
		if t1 < t0 || (t1-t0)/step > 1_000_000 {
			continue
		}
		for t := t0; t <= t1; t += step {
			vs.samples = append(vs.samples, sample{T: t, V: 1})
		}
		if (t1-t0)%step != 0 {
			vs.samples = append(vs.samples, sample{T: t1, V: 1})
		}
	}
	out := make([]*vseries, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

// seriesSets returns the label sets of every virtual series that one of the
// selectors selects (every series when there are none).
func (a *API) seriesSets(p map[string][]string) ([]labels.Labels, *apiError) {
	he, err := a.historyEngine()
	if err != nil {
		return nil, err
	}
	var sels [][]*labels.Matcher
	for _, s := range p["match[]"] {
		ms, perr := parser.ParseMetricSelector(s)
		if perr != nil {
			return nil, badData("invalid parameter \"match[]\": %v", perr)
		}
		sels = append(sels, ms)
	}
	var all []labels.Labels
	horizon := model.Duration(a.opts.Engine.Horizon()).String()
	entities := map[string]string{}
	el := map[string]string{}
	for _, h := range he.History(nil, maxTime, maxTime) {
		for _, name := range seriesMetrics {
			all = append(all, withName(h.Labels, labels.MetricName, name))
		}
		if !math.IsNaN(h.Limit) {
			for _, q := range []string{"0.1", "0.5", "0.9"} {
				all = append(all, withName(h.Labels, labels.MetricName, metricTimeToLimit, "quantile", q))
			}
		}
		if h.EntityLabel != "" {
			entities[h.Entity] = h.EntityLabel
			el[h.Entity] = h.EntityLabel
		}
	}
	for _, e := range sortedKeys(entities) {
		all = append(all, labels.FromStrings(labels.MetricName, metricFailure, entities[e], e, "horizon", horizon))
	}
	seen := map[string]bool{}
	for _, in := range a.opts.Engine.Incidents() {
		l := incidentLabels(el, in.Entity, in.Name, in.Signal, in.Source)
		if k := l.String(); !seen[k] {
			seen[k] = true
			all = append(all, l)
		}
	}
	if len(sels) == 0 {
		return all, nil
	}
	out := all[:0]
	for _, l := range all {
		for _, ms := range sels {
			if matchesAll(ms, l) {
				out = append(out, l)
				break
			}
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// parseLimit reads the optional "limit" parameter (0: no limit).
func parseLimit(p map[string][]string) (int, *apiError) {
	s := param(p, "limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, badData("invalid parameter \"limit\": %q is not a non-negative integer", s)
	}
	return n, nil
}

// checkRange validates the optional start and end of metadata queries;
// augur's series exist over its whole retained history, so they do not
// narrow the answer.
func checkRange(p map[string][]string) *apiError {
	for _, name := range []string{"start", "end"} {
		if s := param(p, name); s != "" {
			if _, err := parseTime(name, s); err != nil {
				return err
			}
		}
	}
	return nil
}

const truncatedWarning = "results truncated due to limit"

// labelSets reads the time range, limit and match[] selectors of a labels
// or label values request and returns the label sets they select.
func (a *API) labelSets(p map[string][]string) ([]labels.Labels, int, *apiError) {
	if err := checkRange(p); err != nil {
		return nil, 0, err
	}
	limit, err := parseLimit(p)
	if err != nil {
		return nil, 0, err
	}
	sets, err := a.seriesSets(p)
	return sets, limit, err
}

func (a *API) promLabels(c echo.Context) result {
	p, err := promParams(c)
	if err != nil {
		return result{err: err}
	}
	sets, limit, err := a.labelSets(p)
	if err != nil {
		return result{err: err}
	}
	names := map[string]bool{}
	for _, l := range sets {
		l.Range(func(l labels.Label) { names[l.Name] = true })
	}
	return sortedLimited(names, limit)
}

// sortedLimited answers a set of names or values, sorted, cut to limit
// (0: no limit) with Prometheus' truncation warning.
func sortedLimited(set map[string]bool, limit int) result {
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Strings(out)
	var warns []string
	if limit > 0 && len(out) > limit {
		out, warns = out[:limit], []string{truncatedWarning}
	}
	return result{data: out, warnings: warns}
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
	sets, limit, err := a.labelSets(p)
	if err != nil {
		return result{err: err}
	}
	vals := map[string]bool{}
	for _, l := range sets {
		if v := l.Get(name); v != "" {
			vals[v] = true
		}
	}
	return sortedLimited(vals, limit)
}

func (a *API) promSeries(c echo.Context) result {
	p, err := promParams(c)
	if err != nil {
		return result{err: err}
	}
	if len(p["match[]"]) == 0 {
		return result{err: badData("no match[] parameter provided")}
	}
	if err := checkRange(p); err != nil {
		return result{err: err}
	}
	limit, err := parseLimit(p)
	if err != nil {
		return result{err: err}
	}
	sets, err := a.seriesSets(p)
	if err != nil {
		return result{err: err}
	}
	slices.SortFunc(sets, labels.Compare)
	out := make([]map[string]string, 0, len(sets))
	for _, l := range sets {
		out = append(out, l.Map())
	}
	var warns []string
	if limit > 0 && len(out) > limit {
		out, warns = out[:limit], []string{truncatedWarning}
	}
	return result{data: out, warnings: warns}
}

// promBuildInfo answers status/buildinfo without "features", so that
// Grafana takes augur for plain Prometheus.
func (a *API) promBuildInfo(c echo.Context) result {
	version, revision := "unknown", "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		version = info.Main.Version
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	return result{data: map[string]string{
		"application": "augur",
		"version":     version,
		"revision":    revision,
		"branch":      "",
		"buildUser":   "",
		"buildDate":   "",
		"goVersion":   runtime.Version(),
	}}
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
	for _, m := range virtualMetrics {
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
		if _, err := parseExpr(q); err != nil {
			return result{err: err}
		}
	}
	return result{data: []any{}}
}

func (a *API) promRules(c echo.Context) result {
	return result{data: map[string]any{"groups": []any{}}}
}

// promAlerts answers Prometheus' /api/v1/alerts with augur's pending and
// firing alerts.
func (a *API) promAlerts(c echo.Context) result {
	type alert struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		State       string            `json:"state"`
		ActiveAt    time.Time         `json:"activeAt"`
		Value       string            `json:"value"`
	}
	out := []alert{}
	if a.alerts != nil {
		for _, al := range a.alerts() {
			if al.State != forecast.StatePending && al.State != forecast.StateFiring {
				continue
			}
			out = append(out, alert{Labels: al.Labels, Annotations: al.Annotations, State: al.State, ActiveAt: al.ActiveAt, Value: strconv.FormatFloat(al.Value, 'e', -1, 64)})
		}
	}
	return result{data: map[string]any{"alerts": out}}
}

func (a *API) promFormatQuery(c echo.Context) result {
	p, err := promParams(c)
	if err != nil {
		return result{err: err}
	}
	expr, err := parseExpr(param(p, "query"))
	if err != nil {
		return result{err: err}
	}
	return result{data: expr.String()}
}
