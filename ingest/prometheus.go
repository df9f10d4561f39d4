package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
)

// Defaults of QueryOptions and PrometheusOptions.
const (
	DefaultMaxPointsPerQuery = 10000 // Prometheus refuses more than 11,000 per series
	DefaultConcurrency       = 4
	DefaultQueryTimeout      = time.Minute
	DefaultRetries           = 3
	DefaultRetryBackoff      = 500 * time.Millisecond
	DefaultEntityLabel       = "instance"
)

// maxRetryBackoff caps the exponential backoff between retries.
const maxRetryBackoff = 10 * time.Second

// alertRunGap is the longest pause between two samples of an ALERTS series
// that still counts as one firing run: Prometheus' default lookback, beyond
// which Prometheus itself no longer sees the alert as present.
const alertRunGap = 5 * time.Minute

// QueryOptions are the query settings PrometheusOptions and InfluxDBOptions
// share. Zero values take the documented defaults.
type QueryOptions struct {
	// Timeout bounds every query attempt on the client and, for
	// Prometheus, on the server too (as the `timeout` parameter).
	// Default DefaultQueryTimeout.
	Timeout time.Duration
	// MaxPointsPerQuery is the most steps one query asks for; longer
	// ranges are split into step-aligned chunks (which InfluxDB evaluates
	// in parallel). Default 10,000.
	MaxPointsPerQuery int
	// Concurrency bounds the chunk queries of one Range call in flight.
	// Default 4.
	Concurrency int
	// Retries is how many times a query failing with a transient error is
	// retried; negative means none. Default 3. What is transient differs:
	// for Prometheus a 5xx or transport error; for InfluxDB 429, 502, 503,
	// 504 or a transport error, but not 500, because InfluxDB 1.8 answers
	// any failed Flux query with it. Other 4xx and timeouts are not retried.
	Retries int
	// RetryBackoff is the first pause before a retry; it doubles on each
	// further retry, up to 10 s. Default 500 ms.
	RetryBackoff time.Duration
	// MaxGap is the longest run of missing steps Align interpolates; longer
	// gaps stay NaN.
	MaxGap int
	// Logger receives retries and, from Prometheus, query warnings.
	// Default slog.Default().
	Logger *slog.Logger
}

// setDefaults replaces o's zero values with the defaults and rejects
// negative ones; kind ("Prometheus", "InfluxDB") and where (the redacted
// URL) name the source in the error.
func (o *QueryOptions) setDefaults(kind, where string) error {
	o.Timeout = cmpOr(o.Timeout, DefaultQueryTimeout)
	o.MaxPointsPerQuery = cmpOr(o.MaxPointsPerQuery, DefaultMaxPointsPerQuery)
	o.Concurrency = cmpOr(o.Concurrency, DefaultConcurrency)
	o.Retries = cmpOr(o.Retries, DefaultRetries)
	o.RetryBackoff = cmpOr(o.RetryBackoff, DefaultRetryBackoff)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxPointsPerQuery < 0 || o.Concurrency < 0 || o.Timeout < 0 || o.MaxGap < 0 {
		return fmt.Errorf("cannot create %s source for %s: negative max_points_per_query, concurrency, timeout or max gap", kind, where)
	}
	return nil
}

// PrometheusOptions configures a Prometheus source. Zero values take the
// documented defaults.
type PrometheusOptions struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:9090.
	URL string
	// HTTP holds basic auth, bearer token and TLS settings with Prometheus'
	// http_config semantics (files are re-read on every request).
	HTTP config.HTTPClientConfig
	QueryOptions
	// IncidentAlerts names the alerts whose firing runs in ALERTS are
	// incidents; empty means Incidents returns none.
	IncidentAlerts []string
	// IncidentEntity names the entity an ALERTS series' labels (without
	// __name__) are about, "" for none; by default their instance label.
	IncidentEntity func(labels map[string]string) string
}

// Prometheus reads series through Prometheus' HTTP API. It is safe for
// concurrent use.
type Prometheus struct {
	api    v1.API
	opts   PrometheusOptions
	where  string // the URL without credentials, for messages
	retry  retryPolicy
	logger *slog.Logger
}

var (
	_ Source         = (*Prometheus)(nil)
	_ IncidentLister = (*Prometheus)(nil)
)

// NewPrometheus validates opts and returns a source for the server at
// opts.URL. It does not contact the server; see Check.
func NewPrometheus(opts PrometheusOptions) (*Prometheus, error) {
	if opts.URL == "" {
		return nil, errors.New("cannot create Prometheus source: no url")
	}
	where := redactURL(opts.URL)
	if err := opts.HTTP.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create Prometheus source for %s: %w", where, err)
	}
	if err := opts.setDefaults("Prometheus", where); err != nil {
		return nil, err
	}
	if opts.IncidentEntity == nil {
		opts.IncidentEntity = func(l map[string]string) string { return l[DefaultEntityLabel] }
	}
	rt, err := config.NewRoundTripperFromConfig(opts.HTTP, "augur")
	if err != nil {
		return nil, fmt.Errorf("cannot create HTTP client for %s: %w", where, err)
	}
	client, err := api.NewClient(api.Config{Address: opts.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("cannot create Prometheus client for %s: %w", where, err)
	}
	logger := opts.Logger.With("component", "ingest.prometheus", "url", where)
	return &Prometheus{
		api:    v1.NewAPI(client),
		opts:   opts,
		where:  where,
		retry:  retryPolicy{retries: max(opts.Retries, 0), backoff: opts.RetryBackoff, timeout: opts.Timeout, logger: logger},
		logger: logger,
	}, nil
}

// Check runs query as an instant query at the current time, so that bad
// PromQL and unreachable servers surface at startup with Prometheus' own
// message.
func (p *Prometheus) Check(ctx context.Context, query string) error {
	err := p.retry.do(ctx, func(ctx context.Context) error {
		_, warnings, err := p.api.Query(ctx, query, time.Now(), v1.WithTimeout(p.opts.Timeout))
		p.logWarnings(query, warnings)
		return err
	}, prometheusTransient)
	if err != nil {
		return fmt.Errorf("cannot query %q at %s: %w", query, p.where, describePrometheusError(err))
	}
	return nil
}

// Range evaluates query at every multiple of step (counted from the Unix
// epoch, so successive calls share one grid) in [start, end]. Ranges of more
// than MaxPointsPerQuery steps are fetched as chunks, up to Concurrency at a
// time, and merged by label set. Series keep the labels Prometheus returns
// (with __name__ for plain selectors) and are passed through Align.
func (p *Prometheus) Range(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error) {
	g, err := newGrid(start, end, step)
	if err != nil {
		return nil, fmt.Errorf("cannot query %q: %w", query, err)
	}
	if g.points() == 0 {
		return nil, nil
	}
	results, err := fetchChunks(ctx, g.split(p.opts.MaxPointsPerQuery), p.opts.Concurrency, func(ctx context.Context, c grid) (model.Matrix, error) {
		return p.queryRange(ctx, query, c)
	})
	if err != nil {
		return nil, fmt.Errorf("cannot query %q at %s: %w", query, p.where, describePrometheusError(err))
	}
	return p.merge(results, g), nil
}

// fetchChunks runs fetch for every chunk, at most concurrency at a time,
// and returns the results in chunk order. The first error cancels the
// chunks still running and is returned.
func fetchChunks[T any](ctx context.Context, chunks []grid, concurrency int, fetch func(context.Context, grid) (T, error)) ([]T, error) {
	results := make([]T, len(chunks))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		sem      = make(chan struct{}, concurrency)
		errOnce  sync.Once
		firstErr error
	)
	for i, c := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			r, err := fetch(ctx, c)
			if err != nil {
				errOnce.Do(func() {
					firstErr = err
					cancel() // the other chunks are wasted work now
				})
				return
			}
			results[i] = r
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err() // the caller's context ended
	}
	return results, firstErr
}

func (p *Prometheus) queryRange(ctx context.Context, query string, c grid) (model.Matrix, error) {
	var m model.Matrix
	err := p.retry.do(ctx, func(ctx context.Context) error {
		r := v1.Range{Start: time.UnixMilli(c.start), End: time.UnixMilli(c.end), Step: time.Duration(c.step) * time.Millisecond}
		v, warnings, err := p.api.QueryRange(ctx, query, r, v1.WithTimeout(p.opts.Timeout))
		p.logWarnings(query, warnings)
		if err != nil {
			return err
		}
		mat, ok := v.(model.Matrix)
		if !ok {
			return &v1.Error{Type: v1.ErrBadResponse, Msg: fmt.Sprintf("range query returned %s, not a matrix", v.Type())}
		}
		m = mat
		return nil
	}, prometheusTransient)
	return m, err
}

// merge joins the chunks' series by label set, in chunk (time) order.
func (p *Prometheus) merge(chunks []model.Matrix, g grid) []Series {
	type merged struct {
		metric model.Metric
		raw    []Sample
	}
	byKey := map[string]*merged{}
	var order []*merged
	for _, m := range chunks {
		for _, ss := range m {
			key := ss.Metric.String()
			s, ok := byKey[key]
			if !ok {
				s = &merged{metric: ss.Metric, raw: make([]Sample, 0, g.points())}
				byKey[key] = s
				order = append(order, s)
			}
			for _, sp := range ss.Values {
				s.raw = append(s.raw, Sample{T: int64(sp.Timestamp), V: float64(sp.Value)})
			}
		}
	}
	out := make([]Series, 0, len(order))
	for _, s := range order {
		labels := make(map[string]string, len(s.metric))
		for k, v := range s.metric {
			labels[string(k)] = string(v)
		}
		out = append(out, Series{Labels: labels, Samples: Align(nil, s.raw, g.start, g.end, g.step, p.opts.MaxGap)})
	}
	sortSeries(out)
	return out
}

// Incidents returns the firing runs of the alerts named in IncidentAlerts
// that overlap [start, end], read from the raw samples of Prometheus'
// ALERTS series. Samples less than 5 minutes apart belong to one run.
func (p *Prometheus) Incidents(ctx context.Context, start, end time.Time) ([]Incident, error) {
	if len(p.opts.IncidentAlerts) == 0 || !end.After(start) {
		return nil, nil
	}
	names := make([]string, len(p.opts.IncidentAlerts))
	for i, n := range p.opts.IncidentAlerts {
		names[i] = regexp.QuoteMeta(n)
	}
	// A range selector returns the stored samples themselves, so run ends
	// are not smeared by the lookback of a range query.
	query := fmt.Sprintf(`ALERTS{alertstate="firing",alertname=~%q}[%dms]`,
		strings.Join(names, "|"), end.Sub(start).Milliseconds())
	var m model.Matrix
	err := p.retry.do(ctx, func(ctx context.Context) error {
		v, warnings, err := p.api.Query(ctx, query, end, v1.WithTimeout(p.opts.Timeout))
		p.logWarnings(query, warnings)
		if err != nil {
			return err
		}
		mat, ok := v.(model.Matrix)
		if !ok {
			return &v1.Error{Type: v1.ErrBadResponse, Msg: fmt.Sprintf("range selector returned %s, not a matrix", v.Type())}
		}
		m = mat
		return nil
	}, prometheusTransient)
	if err != nil {
		return nil, fmt.Errorf("cannot read incidents from %s: %w", p.where, describePrometheusError(err))
	}
	var out []Incident
	for _, ss := range m {
		l := make(map[string]string, len(ss.Metric))
		for k, v := range ss.Metric {
			if k != model.MetricNameLabel {
				l[string(k)] = string(v)
			}
		}
		entity := p.opts.IncidentEntity(l)
		if entity == "" {
			p.logger.Debug("ignoring alert without entity", "alert", ss.Metric.String())
			continue
		}
		name := string(ss.Metric[model.AlertNameLabel])
		for i := 0; i < len(ss.Values); {
			j := i
			for j+1 < len(ss.Values) && ss.Values[j+1].Timestamp.Sub(ss.Values[j].Timestamp) <= alertRunGap {
				j++
			}
			out = append(out, Incident{
				Entity: entity,
				Name:   name,
				Start:  ss.Values[i].Timestamp.Time().UTC(),
				End:    ss.Values[j].Timestamp.Time().UTC(),
				Source: "prometheus",
			})
			i = j + 1
		}
	}
	slices.SortFunc(out, func(a, b Incident) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return strings.Compare(a.Entity+"\x00"+a.Name, b.Entity+"\x00"+b.Name)
	})
	return out, nil
}

func (p *Prometheus) logWarnings(query string, warnings v1.Warnings) {
	for _, w := range warnings {
		p.logger.Warn("query warning", "query", query, "warning", w)
	}
}

// prometheusTransient reports whether a failed query is worth retrying:
// server errors and transport failures are, the server's verdict on the
// query (400 bad_data, 422 execution, other 4xx) is not.
func prometheusTransient(err error) bool {
	var apiErr *v1.Error
	if errors.As(err, &apiErr) {
		return apiErr.Type == v1.ErrServer || apiErr.Type == v1.ErrTimeout || apiErr.Type == v1.ErrCanceled
	}
	return !untrustedServer(err)
}

// untrustedServer reports a TLS verification failure: a transport error
// that no retry will cure.
func untrustedServer(err error) bool {
	var verr *tls.CertificateVerificationError
	var herr x509.HostnameError
	var uerr x509.UnknownAuthorityError
	return errors.As(err, &verr) || errors.As(err, &herr) || errors.As(err, &uerr)
}

// describePrometheusError puts the body of a 5xx answer, where Prometheus
// writes its reason, into the error message.
func describePrometheusError(err error) error {
	var apiErr *v1.Error
	if errors.As(err, &apiErr) && apiErr.Detail != "" {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(apiErr.Detail))
	}
	return err
}

// grid is the timestamps start, start+step, ..., end, in Unix milliseconds.
type grid struct {
	start, end, step int64
}

// newGrid rounds [start, end] inward to multiples of step.
func newGrid(start, end time.Time, step time.Duration) (grid, error) {
	st := step.Milliseconds()
	if st <= 0 {
		return grid{}, fmt.Errorf("step %v is not a positive number of milliseconds", step)
	}
	if end.Before(start) {
		return grid{}, fmt.Errorf("end %v is before start %v", end, start)
	}
	s, e := start.UnixMilli(), end.UnixMilli()
	return grid{start: ceilDiv(s, st) * st, end: floorDiv(e, st) * st, step: st}, nil
}

func (g grid) points() int {
	if g.end < g.start {
		return 0
	}
	return int((g.end-g.start)/g.step) + 1
}

// split cuts g into consecutive grids of at most n points each.
func (g grid) split(n int) []grid {
	var out []grid
	for s := g.start; s <= g.end; s += int64(n) * g.step {
		out = append(out, grid{start: s, end: min(s+int64(n-1)*g.step, g.end), step: g.step})
	}
	return out
}

// sortSeries orders series by their label sets, for stable output.
func sortSeries(ss []Series) {
	type keyed struct {
		key string
		s   Series
	}
	ks := make([]keyed, len(ss))
	for i, s := range ss {
		ks[i] = keyed{toLabelSet(s.Labels).String(), s}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.key, b.key) })
	for i := range ks {
		ss[i] = ks[i].s
	}
}

func toLabelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// redactURL hides a password in a URL's user info, for logs and errors.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable url>"
	}
	return u.Redacted()
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// retryPolicy runs an operation with a timeout per attempt, retrying
// transient failures with exponential backoff and jitter.
type retryPolicy struct {
	retries int
	backoff time.Duration
	timeout time.Duration
	logger  *slog.Logger
}

func (r retryPolicy) do(ctx context.Context, op func(context.Context) error, transient func(error) bool) error {
	delay := r.backoff
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, r.timeout)
		err := op(actx)
		timedOut := errors.Is(actx.Err(), context.DeadlineExceeded)
		cancel()
		switch {
		case err == nil:
			return nil
		case ctx.Err() != nil:
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		case timedOut:
			// A server that cannot answer within the timeout is overloaded
			// or hung: asking again only adds load.
			return fmt.Errorf("no answer within %v: %w", r.timeout, err)
		case attempt >= r.retries || !transient(err):
			return err
		}
		wait := delay/2 + rand.N(delay/2+1)
		// Debug: a query that still fails is reported by its caller, once.
		r.logger.Debug("retrying query", "err", err, "attempt", attempt+1, "backoff", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", ctx.Err(), err)
		}
		delay = min(2*delay, maxRetryBackoff)
	}
}
