package query

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// past is what the engine would have appended over ten minutes, one
// evaluation a minute from Unix 0.
const past = `
load 1m
	augur_input{host="a",signal="cpu"}           0+1x10
	augur_input{host="b",signal="cpu"}           0+2x10
	augur_input{host="a",signal="memory"}        50+0x10
	augur_forecast{host="a",signal="cpu"}        1+1x10
	augur_baseline_upper{host="a",signal="cpu"}  5+0x10
	augur_failure_probability{host="a",horizon="1h"} 0.1+0.01x10
`

// linearForecaster is a fixture of the models for the test: after the
// last evaluation at 10m, host a's cpu goes on growing by 1 a minute with a
// ±2 interval.
type linearForecaster struct{ evaluated time.Time }

func (f linearForecaster) Evaluated() time.Time { return f.evaluated }

func (f linearForecaster) Forecasts(_ context.Context, ms []*labels.Matcher, end time.Time, _ int, fn func(Forecast) error) error {
	l := labels.FromStrings("host", "a", "signal", "cpu")
	if !matchesAll(ms, l) {
		return nil
	}
	start := f.evaluated.Add(time.Minute).UnixMilli()
	fc := Forecast{Labels: l, Start: start, Step: 60_000}
	for t := start; t <= end.UnixMilli(); t += 60_000 {
		v := float64(t / 60_000)
		fc.Point, fc.Lower, fc.Upper = append(fc.Point, v), append(fc.Lower, v-2), append(fc.Upper, v+2)
	}
	return fn(fc)
}

// staticIncidents is a fixed incident list.
type staticIncidents []Incident

func (s staticIncidents) Incidents(_ context.Context, start, end time.Time) ([]Incident, error) {
	var out []Incident
	for _, in := range s {
		if !in.End.Before(start) && !in.Start.After(end) {
			out = append(out, in)
		}
	}
	return out, nil
}

func minutes(m float64) time.Time {
	return time.Unix(0, 0).Add(time.Duration(m * float64(time.Minute)))
}

func newTestEngine(t *testing.T, opts Options) *Engine {
	t.Helper()
	if opts.Storage == nil {
		opts.Storage = promqltest.LoadedStorage(t, past)
	}
	if opts.Forecaster == nil {
		opts.Forecaster = linearForecaster{evaluated: minutes(10)}
	}
	if opts.Incidents == nil {
		opts.Incidents = staticIncidents{{Labels: labels.FromStrings("host", "a", "alertname", "OOMKilled", "source", "demo", "signal", "memory"), Start: minutes(3), End: minutes(6)}}
	}
	return New(opts)
}

// format writes a result as "labels => value" lines, series in order.
func format(v parser.Value) string {
	var b strings.Builder
	switch v := v.(type) {
	case promql.Vector:
		for _, s := range v {
			fmt.Fprintf(&b, "%s => %.6g\n", seriesName(s.Metric), s.F)
		}
	case promql.Matrix:
		for _, s := range v {
			fmt.Fprintf(&b, "%s =>", seriesName(s.Metric))
			for _, p := range s.Floats {
				fmt.Fprintf(&b, " %g@%gm", p.F, float64(p.T)/60_000)
			}
			b.WriteString("\n")
		}
	case promql.Scalar:
		fmt.Fprintf(&b, "%g\n", v.V)
	}
	return b.String()
}

// run returns a function that executes a prepared query and formats its
// result, failing the test on an error.
func run(t *testing.T, query string) func(promql.Query, error) string {
	return func(q promql.Query, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer q.Close()
		r := q.Exec(context.Background())
		if r.Err != nil {
			t.Fatalf("%s: %v", query, r.Err)
		}
		return format(r.Value)
	}
}

// seriesName writes labels as Prometheus does, the name before the braces.
func seriesName(l labels.Labels) string {
	return l.Get(labels.MetricName) + l.DropMetricName().String()
}

func TestInstantQueries(t *testing.T) {
	e := newTestEngine(t, Options{})
	f := func(query string, at float64, want string) {
		t.Helper()
		if got := run(t, query)(e.NewInstantQuery(context.Background(), query, minutes(at))); got != want {
			t.Errorf("%s at %gm:\n%s\nwant\n%s", query, at, got, want)
		}
	}
	// Functions and aggregations over the past.
	f(`max by (host) (augur_input)`, 10, "{host=\"a\"} => 50\n{host=\"b\"} => 20\n")
	f(`rate(augur_input{signal="cpu"}[5m]) * 60`, 10, "{host=\"a\", signal=\"cpu\"} => 1\n{host=\"b\", signal=\"cpu\"} => 2\n")
	f(`avg_over_time(augur_input{host="a",signal="cpu"}[5m])`, 10, "{host=\"a\", signal=\"cpu\"} => 8\n")
	f(`topk(1, augur_input{signal="cpu"})`, 10, "augur_input{host=\"b\", signal=\"cpu\"} => 20\n")
	f(`quantile_over_time(0.5, augur_input{host="b"}[10m])`, 10, "{host=\"b\", signal=\"cpu\"} => 11\n")
	f(`count(augur_input)`, 10, "{} => 3\n")
	// Arithmetic and comparisons between augur's series.
	f(`augur_input > augur_baseline_upper`, 10, "augur_input{host=\"a\", signal=\"cpu\"} => 10\n")
	f(`augur_input > augur_baseline_upper`, 4, "")
	f(`augur_input - augur_forecast`, 10, "{host=\"a\", signal=\"cpu\"} => -1\n")
	f(`augur_failure_probability > 0.15`, 10, "augur_failure_probability{horizon=\"1h\", host=\"a\"} => 0.2\n")
	f(`augur_input{signal="cpu"} offset 5m`, 10, "augur_input{host=\"a\", signal=\"cpu\"} => 5\naugur_input{host=\"b\", signal=\"cpu\"} => 10\n")
	f(`augur_input{host="a",signal="cpu"} @ 300`, 10, "augur_input{host=\"a\", signal=\"cpu\"} => 5\n")
	// The future: the live forecasts after the last evaluation.
	f(`augur_forecast`, 40, "augur_forecast{host=\"a\", signal=\"cpu\"} => 40\n")
	f(`augur_forecast_upper - augur_forecast_lower`, 30, "{host=\"a\", signal=\"cpu\"} => 4\n")
	f(`max_over_time(augur_forecast_upper[10m])`, 30, "{host=\"a\", signal=\"cpu\"} => 32\n")
	f(`{__name__=~"augur_forecast.*"}`, 20, "augur_forecast{host=\"a\", signal=\"cpu\"} => 20\naugur_forecast_lower{host=\"a\", signal=\"cpu\"} => 18\naugur_forecast_upper{host=\"a\", signal=\"cpu\"} => 22\n")
	f(`augur_input`, 40, "")
	// Incidents: 1 from 3m to 6m, gone at once after.
	f(`augur_incident`, 4.5, "augur_incident{alertname=\"OOMKilled\", host=\"a\", signal=\"memory\", source=\"demo\"} => 1\n")
	f(`augur_incident`, 6, "augur_incident{alertname=\"OOMKilled\", host=\"a\", signal=\"memory\", source=\"demo\"} => 1\n")
	f(`augur_incident`, 6.01, "")
	f(`augur_incident`, 2.9, "")
	f(`max_over_time(augur_incident[5m])`, 10, "{alertname=\"OOMKilled\", host=\"a\", signal=\"memory\", source=\"demo\"} => 1\n")
	f(`max_over_time(augur_incident[5m])`, 12, "")
	f(`count_over_time(augur_incident[10m])`, 10, "{alertname=\"OOMKilled\", host=\"a\", signal=\"memory\", source=\"demo\"} => 4\n")
	f(`sum by (host) (augur_incident) * on (host) group_left augur_failure_probability`, 5, "{host=\"a\"} => 0.15\n")
}

func TestRangeQueries(t *testing.T) {
	e := newTestEngine(t, Options{})
	f := func(query string, start, end, step float64, want string) {
		t.Helper()
		if got := run(t, query)(e.NewRangeQuery(context.Background(), query, minutes(start), minutes(end), time.Duration(step*float64(time.Minute)))); got != want {
			t.Errorf("%s over [%g, %g]:\n%s\nwant\n%s", query, start, end, got, want)
		}
	}
	// One-step-ahead fits from the TSDB, then the live forecast.
	f(`augur_forecast`, 0, 20, 5, "augur_forecast{host=\"a\", signal=\"cpu\"} => 1@0m 6@5m 11@10m 15@15m 20@20m\n")
	f(`augur_forecast_lower`, 9, 13, 1, "augur_forecast_lower{host=\"a\", signal=\"cpu\"} => 9@11m 10@12m 11@13m\n")
	f(`augur_incident`, 0, 10, 1, "augur_incident{alertname=\"OOMKilled\", host=\"a\", signal=\"memory\", source=\"demo\"} => 1@3m 1@4m 1@5m 1@6m\n")
	f(`augur_incident`, 0, 10, 2.5, "augur_incident{alertname=\"OOMKilled\", host=\"a\", signal=\"memory\", source=\"demo\"} => 1@5m\n")
	f(`max by (host) (augur_input)`, 8, 10, 1, "{host=\"a\"} => 50@8m 50@9m 50@10m\n{host=\"b\"} => 16@8m 18@9m 20@10m\n")
	f(`sum_over_time(augur_incident[3m:30s])`, 5, 7, 1, "{alertname=\"OOMKilled\", host=\"a\", signal=\"memory\", source=\"demo\"} => 5@5m 6@6m 4@7m\n")
}

// TestLongIncidents: augur_incident over 700 days at a 2-hour step reads
// the step grid, never a sample per minute of 60 incidents 690 days long
// (issue 16 item 6: 1.77 GB).
func TestLongIncidents(t *testing.T) {
	end := time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
	var incs staticIncidents
	for i := range 60 {
		incs = append(incs, Incident{Labels: labels.FromStrings("host", fmt.Sprint("h", i), "alertname", "Down", "source", "alertmanager"), Start: end.Add(-690 * 24 * time.Hour), End: end})
	}
	e := newTestEngine(t, Options{Incidents: incs, MaxSamples: 1_000_000})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	q, err := e.NewRangeQuery(context.Background(), `augur_incident`, end.Add(-700*24*time.Hour), end, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	r := q.Exec(context.Background())
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	runtime.ReadMemStats(&after)
	// The answer itself is 496,860 samples of 16 bytes (7.6 MiB).
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
		t.Errorf("the query allocated %d MiB, want at most the 64 MiB a request may take", alloc>>20)
	}
	m := r.Value.(promql.Matrix)
	if len(m) != 60 || len(m[0].Floats) != 690*12+1 {
		t.Fatalf("%d series, %d points; want 60 of %d", len(m), len(m[0].Floats), 690*12+1)
	}
}

func TestLimits(t *testing.T) {
	f := func(name string, opts Options, query string, start, end float64, want func(error) bool) {
		t.Helper()
		e := newTestEngine(t, opts)
		q, err := e.NewRangeQuery(context.Background(), query, minutes(start), minutes(end), time.Minute)
		if err == nil {
			defer q.Close()
			err = q.Exec(context.Background()).Err
		}
		if !want(err) {
			t.Errorf("%s: %s: error %v (%T)", name, query, err, err)
		}
	}
	tooMany := func(err error) bool { var e promql.ErrTooManySamples; return errors.As(err, &e) }
	limit := func(err error) bool { return errors.Is(err, ErrLimit) }
	f("samples of the past", Options{MaxSamples: 20}, `augur_input`, 0, 10, tooMany)
	f("samples of the future", Options{MaxSamples: 20}, `augur_forecast`, 10, 60, tooMany)
	f("samples of a range", Options{MaxSamples: 3}, `max_over_time(augur_incident[1h])`, 0, 10, tooMany)
	f("within the samples", Options{MaxSamples: 20}, `augur_input{host="b"}`, 0, 10, func(err error) bool { return err == nil })
	f("timeout", Options{Timeout: time.Nanosecond}, `augur_input`, 0, 10, func(err error) bool { var e promql.ErrQueryTimeout; return errors.As(err, &e) })
	f("length", Options{MaxLength: 10}, `augur_input{host="a"}`, 0, 10, limit)
	f("parentheses", Options{}, strings.Repeat("(", 100_000)+"1"+strings.Repeat(")", 100_000), 0, 10, limit)
	f("unary minus", Options{MaxLength: 4 << 20}, strings.Repeat("-", 3_900_000)+"1", 0, 10, limit)
	f("binary chain", Options{}, "1"+strings.Repeat("+1", 1000), 0, 10, limit)
	f("selectors nested 30 deep", Options{MaxDepth: 20}, strings.Repeat(`{__name__=~"augur_.+"} + (`, 30)+"1"+strings.Repeat(")", 30), 0, 10, limit)
	f("within the depth", Options{}, strings.Repeat("(", 100)+"1"+strings.Repeat(")", 100), 0, 10, func(err error) bool { return err == nil })
	f("brackets in strings do not count", Options{MaxDepth: 3}, `augur_input{host=~"((((((a))))))"}`, 0, 10, func(err error) bool { return err == nil })
	f("syntax error", Options{}, `augur_input{`, 0, 10, func(err error) bool { var e parser.ParseErrors; return errors.As(err, &e) })
}

// TestMaxConcurrent: a query waits for a free slot; its context ends the wait.
func TestMaxConcurrent(t *testing.T) {
	e := newTestEngine(t, Options{MaxConcurrent: 1})
	// Hold the only slot as a running query does.
	if _, err := e.slots.Insert(context.Background(), "running"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := e.NewInstantQuery(ctx, "augur_input", minutes(10)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second query: %v, want it to wait until its deadline", err)
	}
	e.slots.Delete(0)
	q, err := e.NewInstantQuery(context.Background(), "augur_input", minutes(10))
	if err != nil {
		t.Fatalf("after the first ended: %v", err)
	}
	defer q.Close()
	if r := q.Exec(context.Background()); r.Err != nil {
		t.Errorf("after the first ended: %v", r.Err)
	}
}

func TestFutureWarnsAtTheCap(t *testing.T) {
	e := newTestEngine(t, Options{MaxFuture: time.Hour})
	q, err := e.NewInstantQuery(context.Background(), "augur_forecast", minutes(200))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	r := q.Exec(context.Background())
	if r.Err != nil || len(r.Value.(promql.Vector)) != 0 || len(r.Warnings) != 1 {
		t.Errorf("past the cap: %v, %v, warnings %v; want no sample and a warning", r.Err, r.Value, r.Warnings)
	}
}
