// Package api serves augur over HTTP with echo: health, /metrics, the REST
// endpoints of failures, forecasts, capacity and targets. Handlers return
// data or a typed error; one wrapper writes Prometheus' JSON envelope.
package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/query"
	"github.com/augur-sre/augur/remoteread"
	"github.com/augur-sre/augur/rules"
)

// Engine is what the API reads: engine.Engine satisfies it.
type Engine interface {
	Now() time.Time
	Horizon() time.Duration
	Step() time.Duration
	Failures(horizon time.Duration) ([]engine.EntityRisk, error)
	Forecast(match engine.Matcher, horizon, step time.Duration, level float64) ([]engine.SeriesForecast, error)
	Capacity(q engine.CapacityQuery) ([]engine.Capacity, []string, error)
	Targets() []engine.SignalTarget
	Calibration() engine.Calibration
	State() *engine.State
	Incidents() []ingest.Incident
	// OnPublish registers a function called with each State after it is
	// published, off the requests' path.
	OnPublish(f func(*engine.State))
}

// Options configures the API.
type Options struct {
	Engine Engine
	Logger *slog.Logger
	// Registry receives the score collector and is served on /metrics.
	Registry *prometheus.Registry
	// MaxExportedSeries caps the score series on /metrics (0: 10,000).
	MaxExportedSeries int
	// MaxBodyBytes limits request bodies (0: 4 MiB).
	MaxBodyBytes int64
	// Query answers the Prometheus API's queries, labels and series (nil:
	// an engine over no storage, which knows no series).
	Query *query.Engine
	// Cluster, when replicas share the fleet, makes /api/v1/failures,
	// /api/v1/forecast and /api/v1/capacity answer for all of it by asking
	// the other replicas, each within FanoutTimeout (0: 10s) with
	// FanoutClient (nil: http.DefaultClient). The Prometheus API reads
	// their series through Query (query.Options.Peers).
	Cluster       Cluster
	FanoutTimeout time.Duration
	FanoutClient  *http.Client
}

// API is augur's HTTP interface.
type API struct {
	opts Options
	echo *echo.Echo
	// rules serves /api/v1/rules and /api/v1/alerts; nil until
	// ServeRules, then none.
	rules Rules
	// listIncidents serves /api/v1/incidents; nil until ServeIncidents,
	// then the engine's.
	listIncidents IncidentsFunc
	// webhookAuth checks the webhook's own credentials; nil when it has
	// none (see Run).
	webhookAuth func(*http.Request) bool
	// encodedFailures is the encoded answer of /api/v1/failures at the
	// configured horizon for one State: a fleet's answer is megabytes of
	// JSON, and every request between two evaluations would encode the
	// same entities again. It is encoded once each State is published
	// (see New), so that no request waits for it but those that come
	// before.
	encodedFailures atomic.Pointer[encodedFailures]
}

// encodedFailures is the data of /api/v1/failures for the State st.
type encodedFailures struct {
	st   *engine.State
	body rawJSON
}

// rawJSON is data encoded once, written as it is.
type rawJSON []byte

func (r rawJSON) writeJSON(w *bufio.Writer) { _, _ = w.Write(r) }

// IncidentsFunc lists the known incidents, with warnings about those it
// could not read.
type IncidentsFunc func(ctx context.Context) ([]ingest.Incident, []string, error)

// ServeIncidents makes /api/v1/incidents list what f returns rather than
// the engine's last refresh (so that an incident the webhook acknowledged
// is listed at once). Call it before serving.
func (a *API) ServeIncidents(f IncidentsFunc) { a.listIncidents = f }

// Rules is what /api/v1/rules and /api/v1/alerts read; *rules.Manager is one.
type Rules interface {
	Rules() []rules.RuleStatus
	Alerts() []rules.Alert
}

// ServeRules makes /api/v1/rules and /api/v1/alerts show r's rules and
// their pending and firing alerts. Call it before serving.
func (a *API) ServeRules(r Rules) { a.rules = r }

const (
	statusOK     = "success"
	statusFailed = "error"
)

type response struct {
	Status    string    `json:"status"`
	Data      any       `json:"data,omitempty"`
	ErrorType errorType `json:"errorType,omitempty"`
	Error     string    `json:"error,omitempty"`
	Warnings  []string  `json:"warnings,omitempty"`
	Infos     []string  `json:"infos,omitempty"`
}

type result struct {
	data            any
	warnings, infos []string
	// err is answered with the status of its kind (see errorOf).
	err error
	// done, when set, is called once the response is written (it frees a
	// query's result).
	done func()
}

// jsonWriter is data too big to marshal whole: it writes its JSON to the
// response itself.
type jsonWriter interface {
	writeJSON(w *bufio.Writer)
}

type handler func(c echo.Context) result

// wrap writes a handler's result in Prometheus' envelope.
func wrap(h handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := h(c)
		if r.done != nil {
			defer r.done()
		}
		if r.err != nil {
			ae := errorOf(r.err)
			return writeJSON(c, ae.status(), response{Status: statusFailed, ErrorType: ae.typ(), Error: ae.Error(), Warnings: r.warnings, Infos: r.infos})
		}
		if jw, ok := r.data.(jsonWriter); ok {
			return writeStreamed(c, jw, r)
		}
		return writeJSON(c, http.StatusOK, response{Status: statusOK, Data: r.data, Warnings: r.warnings, Infos: r.infos})
	}
}

// writeStreamed writes the envelope of a successful result around data
// that writes itself.
func writeStreamed(c echo.Context, jw jsonWriter, r result) error {
	resp := c.Response()
	resp.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	resp.WriteHeader(http.StatusOK)
	w := bufio.NewWriterSize(resp, 32<<10)
	_, _ = w.WriteString(`{"status":"success","data":`)
	jw.writeJSON(w)
	for _, f := range []struct {
		key  string
		list []string
	}{{"warnings", r.warnings}, {"infos", r.infos}} {
		if len(f.list) > 0 {
			b, _ := json.Marshal(f.list) // strings always marshal
			_, _ = fmt.Fprintf(w, `,%q:%s`, f.key, b)
		}
	}
	_, _ = w.WriteString("}\n")
	return w.Flush()
}

// New builds the API and registers the score collector.
func New(opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxExportedSeries <= 0 {
		opts.MaxExportedSeries = 10000
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Query == nil {
		opts.Query = query.New(query.Options{})
	}
	if opts.FanoutTimeout <= 0 {
		opts.FanoutTimeout = 10 * time.Second
	}
	if opts.FanoutClient == nil {
		opts.FanoutClient = http.DefaultClient
	}
	opts.Registry.MustRegister(newScoreCollector(opts.Engine, opts.MaxExportedSeries))
	a := &API{opts: opts, echo: echo.New()}
	e := a.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = a.httpError
	panics := prometheus.NewCounter(prometheus.CounterOpts{Name: "augur_http_panics_total", Help: "Panics recovered in HTTP handlers (each is a bug)."})
	opts.Registry.MustRegister(panics)
	e.Use(a.recoverPanics(panics))
	e.Use(limitBody(opts.MaxBodyBytes))

	// Probes and scrapers may ask with HEAD, as Prometheus' own endpoints allow.
	getOrHead := []string{http.MethodGet, http.MethodHead}
	e.Match(getOrHead, "/", a.index)
	e.Match(getOrHead, "/-/healthy", func(c echo.Context) error { return c.String(http.StatusOK, "augur is Healthy.\n") })
	e.Match(getOrHead, "/-/ready", func(c echo.Context) error {
		if err := opts.Engine.State().Readiness(); err != nil {
			return c.String(http.StatusServiceUnavailable, "augur is not ready: "+err.Error()+".\n")
		}
		return c.String(http.StatusOK, "augur is Ready.\n")
	})
	e.Match(getOrHead, "/metrics", echo.WrapHandler(promhttp.HandlerFor(opts.Registry, promhttp.HandlerOpts{Registry: opts.Registry})))
	for path, h := range map[string]handler{
		"/api/v1/failures":       a.fleet(a.failures, failuresList),
		"/api/v1/forecast":       a.fleet(a.forecast, forecastList),
		"/api/v1/capacity":       a.fleet(a.capacity, capacityList),
		"/api/v1/targets":        a.targets,
		"/api/v1/incidents":      a.incidents,
		"/api/v1/status/cluster": a.clusterStatus,
	} {
		e.GET(path, wrap(h))
		e.POST(path, wrap(h))
	}
	a.registerPrometheusAPI(e)
	opts.Engine.OnPublish(func(st *engine.State) {
		if !st.Ready {
			return
		}
		// An error is the request's to report; a request's encoding of a
		// newer State, stored meanwhile, stays.
		old := a.encodedFailures.Load()
		if f, err := encodeFailures(st); err == nil {
			a.encodedFailures.CompareAndSwap(old, f)
		}
	})
	// The replicas' series, read by the others' queries; Prometheus'
	// remote_read can read them too.
	e.POST(remoteread.Path, a.remoteRead)
	// Go's profiles, where Prometheus and Alertmanager serve them, so that
	// `go tool pprof http://augur:9464/debug/pprof/heap` works on a fleet.
	e.GET("/debug/pprof/*", echo.WrapHandler(http.HandlerFunc(servePprof)))
	return a
}

// remoteRead answers a remote read from this replica's own series (see
// package remoteread), its errors in the JSON envelope.
func (a *API) remoteRead(c echo.Context) error {
	resp, err := remoteread.Read(c.Request(), a.opts.Query.Local().Queryable(), a.opts.Query.MaxSamples())
	if err != nil {
		ae := errorOf(err)
		return writeJSON(c, ae.status(), response{Status: statusFailed, ErrorType: ae.typ(), Error: ae.Error()})
	}
	return remoteread.WriteResponse(c.Response(), resp)
}

// servePprof serves net/http/pprof's handlers under /debug/pprof/.
func servePprof(w http.ResponseWriter, r *http.Request) {
	switch strings.TrimPrefix(r.URL.Path, "/debug/pprof/") {
	case "cmdline":
		pprof.Cmdline(w, r)
	case "profile":
		pprof.Profile(w, r)
	case "symbol":
		pprof.Symbol(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Index(w, r)
	}
}

// Handler returns the HTTP handler serving the API.
func (a *API) Handler() http.Handler { return a.echo }

// httpError answers the router's errors (404, 405) and the middleware's
// (body too large, a recovered panic) in the JSON envelope.
func (a *API) httpError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ae := errorOf(err)
	_ = writeJSON(c, ae.status(), response{Status: statusFailed, ErrorType: ae.typ(), Error: ae.Error()})
}

// parseDuration accepts Prometheus durations (5m, 1h30m, 14d) and float seconds.
func parseDuration(name, s string, def time.Duration) (time.Duration, *apiError) {
	if s == "" {
		return def, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		switch ns := f * float64(time.Second); {
		case !(ns >= 1): // NaN, negative, zero or rounding to zero
			return 0, badData("invalid parameter %q: %q is not a positive duration", name, s)
		case ns >= math.MaxInt64:
			return 0, badData("invalid parameter %q: %q is longer than a duration can be (292 years)", name, s)
		default:
			return time.Duration(ns), nil
		}
	}
	d, err := model.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, badData("invalid parameter %q: cannot parse %q as a positive duration (e.g. 90s, 1h, 7d)", name, s)
	}
	return time.Duration(d), nil
}

// parseMatch parses a series selector (e.g. memory{host="cache-1"} or
// {signal=~"cpu|memory"}) into a matcher; __name__ matches the signal name.
func parseMatch(s string) (engine.Matcher, *apiError) {
	if s == "" {
		return nil, nil
	}
	ms, err := parser.ParseMetricSelector(s)
	if err != nil {
		return nil, badData("invalid parameter \"match\": %v", err)
	}
	return matcherFunc(ms), nil
}

func matcherFunc(ms []*labels.Matcher) engine.Matcher {
	return func(l map[string]string) bool {
		for _, m := range ms {
			name := m.Name
			if name == labels.MetricName {
				name = "signal"
			}
			if !m.Matches(l[name]) {
				return false
			}
		}
		return true
	}
}

func formValue(c echo.Context, name string) string {
	if v := c.QueryParam(name); v != "" {
		return v
	}
	return c.FormValue(name)
}

// parseHorizon reads the "horizon" parameter: at least one analysis
// step, the least the engine can look ahead.
func (a *API) parseHorizon(c echo.Context, def time.Duration) (time.Duration, *apiError) {
	h, err := parseDuration("horizon", formValue(c, "horizon"), def)
	if err != nil {
		return 0, err
	}
	if step := a.opts.Engine.Step(); h < step {
		return 0, badData("invalid parameter \"horizon\": %s is shorter than the analysis step %s", model.Duration(h), model.Duration(step))
	}
	return h, nil
}

func (a *API) failures(c echo.Context) result {
	h, err := a.parseHorizon(c, a.opts.Engine.Horizon())
	if err != nil {
		return result{err: err}
	}
	// At its own horizon the published State holds every entity's risk:
	// its answer is encoded once, and served to every request until the
	// next State.
	if st := a.opts.Engine.State(); h == st.Horizon && st.Ready {
		f := a.encodedFailures.Load()
		if f == nil || f.st != st {
			var err error
			if f, err = encodeFailures(st); err != nil {
				return result{err: &apiError{kind: kindInternal, err: err}}
			}
			a.encodedFailures.Store(f)
		}
		return result{data: f.body, warnings: a.signalWarnings()}
	}
	risks, ferr := a.opts.Engine.Failures(h)
	if ferr != nil {
		return result{err: ferr, warnings: a.signalWarnings()}
	}
	return result{data: failuresData(h, a.opts.Engine.Now(), risks), warnings: a.signalWarnings()}
}

// encodeFailures encodes the answer of /api/v1/failures at st's horizon.
func encodeFailures(st *engine.State) (*encodedFailures, error) {
	body, err := wireJSON.Marshal(failuresData(st.Horizon, st.At, st.Entities))
	if err != nil {
		return nil, fmt.Errorf("cannot encode the answer: %w", err)
	}
	return &encodedFailures{st, body}, nil
}

// failuresData is the data of /api/v1/failures.
func failuresData(h time.Duration, at time.Time, risks []engine.EntityRisk) map[string]any {
	return map[string]any{
		"horizon":      model.Duration(h).String(),
		"evaluated_at": at.UTC(),
		"entities":     toEntityRisks(risks),
	}
}

func (a *API) forecast(c echo.Context) result {
	match, err := parseMatch(formValue(c, "match"))
	if err != nil {
		return result{err: err}
	}
	h, err := a.parseHorizon(c, a.opts.Engine.Horizon())
	if err != nil {
		return result{err: err}
	}
	step, err := parseDuration("step", formValue(c, "step"), a.opts.Engine.Step())
	if err != nil {
		return result{err: err}
	}
	switch {
	case step < a.opts.Engine.Step():
		return result{err: badData("invalid parameter \"step\": %s is finer than the analysis step %s", step, a.opts.Engine.Step())}
	case h < step:
		return result{err: badData("invalid parameter \"horizon\": %s is shorter than the step %s", model.Duration(h), model.Duration(step))}
	}
	level := 0.95
	if s := formValue(c, "level"); s != "" {
		v, perr := strconv.ParseFloat(s, 64)
		if perr != nil || !(v > 0 && v < 1) {
			return result{err: badData("invalid parameter \"level\": %q is not a probability in (0,1)", s)}
		}
		level = v
	}
	// Bounded before anything is computed, as Prometheus bounds a range
	// query's resolution (400, as it answers): 138 days at one minute for
	// 24 series was a 548 MB answer.
	if n := int64(h / step); n > maxForecastPoints {
		return result{err: badData("%s at step %s is %d points per series, more than the limit of %d (too long): raise \"step\" or shorten \"horizon\"", model.Duration(h), model.Duration(step), n, maxForecastPoints)}
	}
	fc, ferr := a.opts.Engine.Forecast(match, h, step, level)
	if ferr != nil {
		return result{err: ferr, warnings: a.signalWarnings()}
	}
	if total := len(fc) * int(h/step); total > maxForecastTotal {
		return result{err: &apiError{kind: kindExec, err: fmt.Errorf(
			"%d series of %d points is more than %d points in all: narrow \"match\" or raise \"step\"", len(fc), int(h/step), maxForecastTotal)}}
	}
	return result{data: toForecasts(fc), warnings: a.signalWarnings()}
}

// signalWarnings are the problems of the signals (no data, no limit, a
// source down...), which every answer built on them carries: missing data
// must not read as a healthy fleet.
func (a *API) signalWarnings() []string {
	return slices.Clip(a.opts.Engine.State().Warnings)
}

// The bounds of a forecast response: Prometheus' points per series of a
// range query, and a total that keeps the answer under about 64 MiB
// (a point is about 100 bytes of JSON, and as many in memory).
const (
	maxForecastPoints = 11_000
	maxForecastTotal  = 300_000
)

// parseThreshold reads an absolute threshold ("90") or a fraction of the
// series' limit ("90%" or "0.9x").
func parseThreshold(s string) (*engine.Threshold, *apiError) {
	if s == "" {
		return nil, nil
	}
	num, frac := s, 1.0
	switch {
	case strings.HasSuffix(s, "%"):
		num, frac = strings.TrimSuffix(s, "%"), 100
	case strings.HasSuffix(s, "x"):
		num = strings.TrimSuffix(s, "x")
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, badData("invalid parameter \"threshold\": %q is not a number, a percentage of the limit (90%%) or a fraction of it (0.9x)", s)
	}
	if num != s {
		// A share over the whole limit is a typo (90x for 90 % or 0.9x),
		// not a plan: the limit is the capacity.
		if v <= 0 || v/frac > 1 {
			return nil, badData("invalid parameter \"threshold\": %q must be a share of the limit in (0, 100%%], e.g. 90%% or 0.9x", s)
		}
		return &engine.Threshold{Value: v / frac, Fraction: true}, nil
	}
	return &engine.Threshold{Value: v}, nil
}

func (a *API) capacity(c echo.Context) result {
	match, err := parseMatch(formValue(c, "match"))
	if err != nil {
		return result{err: err}
	}
	th, err := parseThreshold(formValue(c, "threshold"))
	if err != nil {
		return result{err: err}
	}
	h, err := a.parseHorizon(c, engine.DefaultCapacityHorizon)
	if err != nil {
		return result{err: err}
	}
	limit, err := parseLimitValue(formValue(c, "limit"))
	if err != nil {
		return result{err: err}
	}
	sortBy := formValue(c, "sort")
	if sortBy != "" && sortBy != "eta" {
		return result{err: badData("invalid parameter \"sort\": %q (only \"eta\" is supported)", sortBy)}
	}
	caps, warns, cerr := a.opts.Engine.Capacity(engine.CapacityQuery{Match: match, Threshold: th, Horizon: h, SortByETA: sortBy == "eta", Limit: limit})
	warns = append(a.signalWarnings(), warns...)
	if cerr != nil {
		return result{err: cerr, warnings: warns}
	}
	return result{data: map[string]any{"horizon": model.Duration(h).String(), "series": toCapacities(caps)}, warnings: warns}
}

// ready is /-/ready's answer (engine.State.Readiness): the models fitted,
// every signal with data or a reported problem, some source up.
func (a *API) ready() bool { return a.opts.Engine.State().Readiness() == nil }

func (a *API) targets(c echo.Context) result {
	data := map[string]any{"ready": a.ready(), "signals": toTargets(a.opts.Engine.Targets()), "calibration": toCalibration(a.opts.Engine.Calibration())}
	var warnings []string
	if st, err := a.fleetStatus(c.Request().Context()); err != nil {
		warnings = append(warnings, "cannot read the cluster's status: "+err.Error())
	} else {
		data["cluster"] = toClusterSummary(st)
	}
	return result{data: data, warnings: warnings}
}

func (a *API) incidents(c echo.Context) result {
	var inc []ingest.Incident
	var warnings []string
	if a.listIncidents == nil {
		inc = a.opts.Engine.Incidents()
	} else {
		var err error
		if inc, warnings, err = a.listIncidents(c.Request().Context()); err != nil {
			return result{err: &apiError{kind: kindUnavailable, err: fmt.Errorf("cannot list incidents: %w", err)}, warnings: warnings}
		}
	}
	if inc == nil {
		inc = []ingest.Incident{}
	}
	return result{data: inc, warnings: warnings}
}
