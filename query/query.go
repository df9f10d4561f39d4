// Package query answers PromQL over augur's embedded TSDB (the past) merged
// with the live forecasts (the future).
//
// The past is what the engine appended at each evaluation (augur_input, the
// one-step-ahead forecasts, bands, scores, failure probabilities, times to
// limit). Three sources are computed at query time and merged into the same
// storage.Queryable with Prometheus' merge querier: the forecasts after the
// last evaluation (augur_forecast, _lower, _upper from the live models),
// the capacity plans at the last evaluation (augur_capacity_eta_seconds, at
// the horizon its horizon matcher names) and augur_incident (1 while an
// incident is under way, from the incident list).
// When replicas share the fleet, a user's query also reads the other
// replicas' series (Options.Peers) and evaluates over their union, as
// Thanos Query does: the series are merged, not the replicas' results,
// because most aggregations (topk, quantile, avg, count_values) cannot be
// computed from per-replica aggregates, and a selector over a series two
// owners hold (replication factor 2) must see it once. A peer that fails
// or times out is a secondary of the merge: its series are left out and
// its error becomes a warning of the query, never its failure. What the
// peers ask of a replica is answered from its own series (Engine.Local).
// Queries run on Prometheus' own engine (promql.NewEngine) with its limits
// and error types; query length and nesting depth are bounded before the
// expression reaches the engine's parser and evaluator.
//
// An Engine is safe for concurrent use.
package query

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Metric names of the series computed at query time.
const (
	MetricForecast      = "augur_forecast"
	MetricForecastLower = "augur_forecast_lower"
	MetricForecastUpper = "augur_forecast_upper"
	MetricIncident      = "augur_incident"
)

// Defaults of Options.
const (
	// DefaultMaxSamples bounds the samples one query holds at once. Each
	// sample is a promql.FPoint (16 bytes) in a slice grown by append, so
	// up to 32 bytes at the peak: 1,500,000 samples keep one query's points
	// under 48 MiB, and the whole request, with the series it reads, under
	// 64 MiB (measured 50-65 MiB at 2,000,000; Prometheus' 50,000,000
	// would allow ~1.5 GiB). That is 1,041 series over a day at a
	// one-minute step.
	DefaultMaxSamples = 1_500_000
	// DefaultTimeout is Prometheus' --query.timeout.
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxLength bounds a query's text in bytes: room for a regular
	// expression listing thousands of hosts, far below the size at which
	// Prometheus' parser takes seconds.
	DefaultMaxLength = 256 << 10
	// DefaultMaxDepth bounds the nesting of an expression (parentheses,
	// brackets, unary and binary operators): every step of the engine
	// recurses on the tree, so its depth is its cost in stack.
	DefaultMaxDepth = 256
	// DefaultMaxConcurrent is Prometheus' --query.max-concurrency.
	DefaultMaxConcurrent = 20
	// DefaultLookbackDelta is Prometheus' lookback delta.
	DefaultLookbackDelta = 5 * time.Minute
	// DefaultMaxFuture bounds how far into the future forecasts reach.
	DefaultMaxFuture = 31 * 24 * time.Hour
)

// Options configures New.
type Options struct {
	// Storage holds the past: the embedded TSDB (history.DB).
	Storage storage.Queryable
	// Forecaster serves the future; nil serves none.
	Forecaster Forecaster
	// Incidents serves augur_incident; nil serves none.
	Incidents IncidentSource
	// Planner serves augur_capacity_eta_seconds; nil serves none.
	Planner Planner
	// Peers, when replicas share the fleet, returns the storage of the
	// other replicas now healthy (remoteread.Queryable), which queries
	// read beside this replica's own; nil reads none.
	Peers func() []storage.Queryable

	// LookbackDelta is how far back an instant looks for a sample; it must
	// be at least the evaluation interval, or the newest evaluation's
	// samples vanish between evaluations (default 5m).
	LookbackDelta time.Duration
	// Step is the models' step: the spacing of augur_incident's samples
	// inside range selectors (default one minute, at most half the lookback).
	Step time.Duration
	// MaxSamples, Timeout, MaxConcurrent are Prometheus' --query.max-samples,
	// --query.timeout and --query.max-concurrency.
	MaxSamples    int
	Timeout       time.Duration
	MaxConcurrent int
	// MaxLength is the longest query text accepted, in bytes.
	MaxLength int
	// MaxDepth is the deepest nesting of an expression accepted.
	MaxDepth int
	// MaxFuture bounds how far past the last evaluation forecasts reach.
	MaxFuture time.Duration

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Engine runs PromQL over the merged past and future.
type Engine struct {
	opts      Options
	ng        *promql.Engine
	slots     semaphore
	queryable storage.Queryable
	// local is the Engine over this replica's series alone, sharing ng;
	// itself when there are no peers.
	local *Engine
}

// New returns an Engine; zero options take their defaults.
func New(opts Options) *Engine {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&opts.MaxSamples, DefaultMaxSamples)
	def(&opts.MaxConcurrent, DefaultMaxConcurrent)
	def(&opts.MaxLength, DefaultMaxLength)
	def(&opts.MaxDepth, DefaultMaxDepth)
	defDur(&opts.Timeout, DefaultTimeout)
	defDur(&opts.LookbackDelta, DefaultLookbackDelta)
	defDur(&opts.Step, time.Minute)
	defDur(&opts.MaxFuture, DefaultMaxFuture)
	opts.Step = min(opts.Step, opts.LookbackDelta/2)
	if opts.Storage == nil {
		opts.Storage = storage.QueryableFunc(func(int64, int64) (storage.Querier, error) { return storage.NoopQuerier(), nil })
	}
	e := &Engine{opts: opts, slots: newSemaphore(opts.MaxConcurrent)}
	e.ng = promql.NewEngine(promql.EngineOpts{
		Logger:               opts.Logger.With("component", "query engine"),
		Reg:                  opts.Registerer,
		MaxSamples:           opts.MaxSamples,
		Timeout:              opts.Timeout,
		ActiveQueryTracker:   e.slots,
		LookbackDelta:        opts.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		// Subqueries without a step evaluate at the models' step, as
		// Prometheus does at its global evaluation interval.
		NoStepSubqueryIntervalFn: func(int64) int64 { return opts.Step.Milliseconds() },
	})
	e.queryable = storage.QueryableFunc(e.querier)
	e.local = e
	if opts.Peers != nil {
		local := *e
		local.local = &local
		e.local = &local
		e.queryable = storage.QueryableFunc(e.fleetQuerier)
	}
	return e
}

// Queryable is the merged past and future, for label and series requests.
func (e *Engine) Queryable() storage.Queryable { return e.queryable }

// MaxSamples is the most samples one query may load (--query.max-samples).
func (e *Engine) MaxSamples() int { return e.opts.MaxSamples }

// Local is the Engine over this replica's own series, without the peers':
// what a peer's request is answered from. It shares e's limits and
// concurrency slots.
func (e *Engine) Local() *Engine { return e.local }

// fleetQuerier merges this replica's querier with the peers', which are
// secondaries: a peer's error leaves its series out with a warning.
func (e *Engine) fleetQuerier(mint, maxt int64) (storage.Querier, error) {
	own, err := e.querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	var peers []storage.Querier
	for _, p := range e.opts.Peers() {
		q, err := p.Querier(mint, maxt)
		if err != nil {
			return nil, promql.ErrStorage{Err: err}
		}
		peers = append(peers, q)
	}
	return storage.NewMergeQuerier([]storage.Querier{own}, peers, storage.ChainedSeriesMerge), nil
}

// querier merges the TSDB's querier with the future and the incidents.
func (e *Engine) querier(mint, maxt int64) (storage.Querier, error) {
	past, err := e.opts.Storage.Querier(mint, maxt)
	if err != nil {
		return nil, promql.ErrStorage{Err: err}
	}
	qs := []storage.Querier{past}
	if e.opts.Forecaster != nil {
		qs = append(qs, &futureQuerier{f: e.opts.Forecaster, maxSamples: e.opts.MaxSamples, maxFuture: e.opts.MaxFuture})
	}
	if e.opts.Planner != nil {
		qs = append(qs, &capacityQuerier{p: e.opts.Planner, maxSamples: e.opts.MaxSamples})
	}
	if e.opts.Incidents != nil {
		qs = append(qs, &incidentQuerier{src: e.opts.Incidents, mint: mint, maxt: maxt, spacing: e.opts.Step.Milliseconds()})
	}
	// All primaries: a source that fails fails the query, rather than
	// answering a silently partial result.
	return storage.NewMergeQuerier(qs, nil, storage.ChainedSeriesMerge), nil
}

// NewInstantQuery checks qs against the limits and prepares it at ts. The
// caller executes the query and closes it after reading its result.
func (e *Engine) NewInstantQuery(ctx context.Context, qs string, ts time.Time) (promql.Query, error) {
	if err := e.Check(qs); err != nil {
		return nil, err
	}
	return e.limited(e.ng.NewInstantQuery(ctx, e.queryable, nil, qs, ts))
}

// NewRangeQuery checks qs against the limits and prepares it over
// [start, end] every step.
func (e *Engine) NewRangeQuery(ctx context.Context, qs string, start, end time.Time, step time.Duration) (promql.Query, error) {
	if err := e.Check(qs); err != nil {
		return nil, err
	}
	return e.limited(e.ng.NewRangeQuery(ctx, e.queryable, nil, qs, start, end, step))
}

func (e *Engine) limited(q promql.Query, err error) (promql.Query, error) {
	if err != nil {
		return nil, err
	}
	return limitedQuery{Query: q, maxSamples: e.opts.MaxSamples}, nil
}

// limitedQuery says, when a query loads too many samples, which limit it
// met and how to narrow it.
type limitedQuery struct {
	promql.Query
	maxSamples int
}

func (q limitedQuery) Exec(ctx context.Context) *promql.Result {
	r := q.Query.Exec(ctx)
	var tooMany promql.ErrTooManySamples
	if errors.As(r.Err, &tooMany) && !strings.Contains(string(tooMany), "--query.max-samples") {
		r.Err = promql.ErrTooManySamples(fmt.Sprintf("%s (more than --query.max-samples=%d at once): narrow the selector or the time range, or raise the step", string(tooMany), q.maxSamples))
	}
	return r
}

// semaphore is a promql.QueryTracker that only bounds how many queries
// run at once; Prometheus' ActiveQueryTracker also logs them to a file
// for its crash report, which augur does not keep.
type semaphore chan struct{}

func newSemaphore(n int) semaphore { return make(semaphore, n) }

func (s semaphore) GetMaxConcurrent() int { return cap(s) }

// Insert takes a free slot even when ctx has ended, so that the engine,
// not the queue, reports a query's timeout as promql.ErrQueryTimeout.
func (s semaphore) Insert(ctx context.Context, _ string) (int, error) {
	select {
	case s <- struct{}{}:
		return 0, nil
	default:
	}
	select {
	case s <- struct{}{}:
		return 0, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

func (s semaphore) Delete(int) { <-s }

func (s semaphore) Close() error { return nil }
