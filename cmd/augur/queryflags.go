package main

import (
	"log/slog"
	"strconv"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/query"
)

// queryFlags are the limits of the Prometheus query API, named as
// Prometheus names them.
type queryFlags struct {
	timeout       time.Duration
	maxSamples    int
	maxLength     int
	maxConcurrent int
}

func (f *queryFlags) register(c *kingpin.CmdClause) {
	c.Flag("query.timeout", "Maximum time a query may take before it is aborted (503 timeout).").Default(query.DefaultTimeout.String()).DurationVar(&f.timeout)
	c.Flag("query.max-samples", "Maximum number of samples a single query can load into memory (422 beyond). The default keeps one query under 64 MiB; Prometheus' is 50000000.").Default(strconv.Itoa(query.DefaultMaxSamples)).IntVar(&f.maxSamples)
	c.Flag("query.max-length", "Maximum length of a query in bytes, checked before it is parsed (400 beyond); also applies to /api/v1/format_query.").Default(strconv.Itoa(query.DefaultMaxLength)).IntVar(&f.maxLength)
	c.Flag("web.max-concurrent-queries", "Maximum number of queries executed at once; more wait for a slot (Prometheus' --query.max-concurrency).").Default(strconv.Itoa(query.DefaultMaxConcurrent)).IntVar(&f.maxConcurrent)
}

// engine builds the query engine over the TSDB and the engine's live
// models. The lookback reaches past one evaluation interval, so that the
// samples written once per evaluation (failure probabilities, times to
// limit) are seen until the next. peers, when set, are the other
// replicas' series, which a user's query reads too.
func (f *queryFlags) engine(past storage.Queryable, eng *engine.Engine, opts engine.Options, peers func() []storage.Queryable, logger *slog.Logger, reg prometheus.Registerer) *query.Engine {
	src := query.EngineSource{E: eng}
	return query.New(query.Options{
		Storage: past, Forecaster: src, Incidents: src, Planner: src, Peers: peers,
		LookbackDelta: max(query.DefaultLookbackDelta, opts.EvaluationInterval+opts.Step),
		Step:          opts.Step,
		MaxSamples:    f.maxSamples, Timeout: f.timeout, MaxConcurrent: f.maxConcurrent, MaxLength: f.maxLength,
		Logger: logger, Registerer: reg,
	})
}
