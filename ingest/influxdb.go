package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxhttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/influxdata/influxdb-client-go/v2/api/query"
	"github.com/prometheus/common/config"
)

// InfluxDBOptions configures an InfluxDB source. Zero values take the
// documented defaults.
type InfluxDBOptions struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8086.
	URL string
	// Token authenticates to InfluxDB 2.x; for 1.8 it is "user:password",
	// or empty without authentication.
	Token string
	// Org is the 2.x organisation; empty for 1.8.
	Org string
	// HTTP holds TLS settings (and any other http_config option) for the
	// connection; authentication is Token's job.
	HTTP config.HTTPClientConfig
	QueryOptions
}

// InfluxDB reads series with Flux from InfluxDB 2.x, or 1.8+ with
// flux-enabled. It is safe for concurrent use; Close releases its
// connections.
type InfluxDB struct {
	where  string // the URL without credentials, for messages
	client influxdb2.Client
	opts   InfluxDBOptions
	retry  retryPolicy
}

var _ Source = (*InfluxDB)(nil)

// NewInfluxDB validates opts and returns a source for the server at
// opts.URL. It does not contact the server; see Check.
func NewInfluxDB(opts InfluxDBOptions) (*InfluxDB, error) {
	if opts.URL == "" {
		return nil, errors.New("cannot create InfluxDB source: no url")
	}
	where := redactURL(opts.URL)
	if err := opts.HTTP.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create InfluxDB source for %s: %w", where, err)
	}
	if err := opts.setDefaults("InfluxDB", where); err != nil {
		return nil, err
	}
	hc, err := config.NewClientFromConfig(opts.HTTP, "augur")
	if err != nil {
		return nil, fmt.Errorf("cannot create HTTP client for %s: %w", where, err)
	}
	client := influxdb2.NewClientWithOptions(opts.URL, opts.Token, influxdb2.DefaultOptions().SetHTTPClient(hc))
	logger := opts.Logger.With("component", "ingest.influxdb", "url", where)
	return &InfluxDB{
		where:  where,
		client: client,
		opts:   opts,
		retry:  retryPolicy{retries: max(opts.Retries, 0), backoff: opts.RetryBackoff, timeout: opts.Timeout, logger: logger},
	}, nil
}

// Close releases the client's idle connections.
func (i *InfluxDB) Close() { i.client.Close() }

// Check runs the Flux query over the last minute, so that syntax errors,
// unknown buckets and bad credentials surface at startup with InfluxDB's
// own message.
func (i *InfluxDB) Check(ctx context.Context, flux string) error {
	now := time.Now()
	_, err := i.Range(ctx, flux, now.Add(-time.Minute), now, time.Minute)
	return err
}

// Range runs the Flux query with v.timeStart/v.timeStop (and Grafana's
// v.timeRangeStart/v.timeRangeStop) set to the span whose samples the step
// grid's points take (see fluxPrelude) and v.windowPeriod set to step. Each table becomes a series labelled
// with its group key, _measurement and _field as "measurement" and "field",
// _start/_stop left out; tables with the same labels are merged. Samples are
// passed through Align on the grid of multiples of step in [start, end].
// Ranges of more than MaxPointsPerQuery steps are queried in chunks, up to
// Concurrency at a time; aggregateWindow windows fall on multiples of step,
// so chunks give the same points as one query would.
func (i *InfluxDB) Range(ctx context.Context, flux string, start, end time.Time, step time.Duration) ([]Series, error) {
	g, err := newGrid(start, end, step)
	if err != nil {
		return nil, fmt.Errorf("cannot run Flux query: %w", err)
	}
	if g.points() == 0 {
		return nil, nil
	}
	chunks, err := fetchChunks(ctx, g.split(i.opts.MaxPointsPerQuery), i.opts.Concurrency, func(ctx context.Context, c grid) ([]rawSeries, error) {
		var raw []rawSeries
		err := i.retry.do(ctx, func(ctx context.Context) error {
			var rerr error
			raw, rerr = i.read(ctx, fluxPrelude(c)+flux)
			return rerr
		}, influxTransient)
		return raw, err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot run Flux query at %s: %w", i.where, describeInfluxError(err))
	}
	// Merge the chunks' tables by label set, in time order.
	var merged []rawSeries
	byKey := map[string]int{}
	for _, chunk := range chunks {
		for _, r := range chunk {
			key := toLabelSet(r.labels).String()
			k, ok := byKey[key]
			if !ok {
				k = len(merged)
				byKey[key] = k
				merged = append(merged, rawSeries{labels: r.labels})
			}
			merged[k].samples = append(merged[k].samples, r.samples...)
		}
	}
	out := make([]Series, len(merged))
	for k, r := range merged {
		out[k] = Series{Labels: r.labels, Samples: Align(nil, r.samples, g.start, g.end, g.step, i.opts.MaxGap)}
	}
	sortSeries(out)
	return out, nil
}

// fluxPrelude defines the record v that Flux dashboards (InfluxDB UI,
// Grafana) use for the time range. Align gives grid point t the latest
// sample in (t-step, t], so the range starts a step before the first point.
// It ends a step after the last (Flux's stop is exclusive) so that every
// window of aggregateWindow(every: v.windowPeriod) up to the last point is
// whole: a window cut short by the stop would be stamped inside the grid
// and, summed again by a second aggregation, count twice. What lies beyond
// the last point, Align drops.
func fluxPrelude(g grid) string {
	ts := func(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano) }
	start, stop := ts(g.start-g.step), ts(g.end+g.step)
	return fmt.Sprintf("option v = {timeStart: %s, timeStop: %s, timeRangeStart: %s, timeRangeStop: %s, windowPeriod: %dms}\n",
		start, stop, start, stop, g.step)
}

type rawSeries struct {
	labels  map[string]string
	samples []Sample
}

// read runs one Flux query and returns its tables.
func (i *InfluxDB) read(ctx context.Context, flux string) ([]rawSeries, error) {
	// A QueryAPI caches its URL without a lock (influxdb-client-go v2.14):
	// one per query keeps concurrent chunks race-free, and costs nothing.
	res, err := i.client.QueryAPI(i.opts.Org).Query(ctx, flux)
	if err != nil {
		return nil, err
	}
	var (
		out   []rawSeries // one per table; Range merges equal label sets
		table = -1
	)
	for res.Next() {
		// Tables of one schema share one annotation block: a new table
		// shows only in the table column.
		if res.TableChanged() || res.Record().Table() != table || len(out) == 0 {
			table = res.Record().Table()
			out = append(out, rawSeries{labels: groupLabels(res.TableMetadata(), res.Record())})
		}
		cur := len(out) - 1
		rec := res.Record()
		if rec.Value() == nil {
			continue // an empty window of aggregateWindow: a missing point
		}
		v, ok := toFloat(rec.Value())
		if !ok {
			_ = res.Close()
			return nil, fmt.Errorf("table %v has non-numeric _value %v (%T): select a numeric field", out[cur].labels, rec.Value(), rec.Value())
		}
		if _, ok := rec.ValueByKey("_time").(time.Time); !ok {
			_ = res.Close()
			return nil, fmt.Errorf("table %v has no _time column: keep _time (aggregate with aggregateWindow, not sum/mean alone)", out[cur].labels)
		}
		out[cur].samples = append(out[cur].samples, Sample{T: rec.Time().UnixMilli(), V: v})
	}
	if err := res.Err(); err != nil {
		// The client flattens read errors into strings: a connection cut
		// mid-answer is recognised by its message.
		if msg := err.Error(); strings.Contains(msg, io.ErrUnexpectedEOF.Error()) || strings.Contains(msg, "connection reset") {
			return nil, fmt.Errorf("%w: %s", errCutOff, msg)
		}
		return nil, err
	}
	return out, nil
}

// errCutOff marks an answer that broke off: worth retrying.
var errCutOff = errors.New("answer cut off")

// groupLabels turns a table's group key into labels.
func groupLabels(meta *query.FluxTableMetadata, rec *query.FluxRecord) map[string]string {
	labels := map[string]string{}
	for _, c := range meta.Columns() {
		if !c.IsGroup() {
			continue
		}
		name := c.Name()
		switch name {
		case "_start", "_stop", "result", "table":
			continue
		case "_measurement":
			name = "measurement"
		case "_field":
			name = "field"
		}
		if v := rec.ValueByKey(c.Name()); v != nil {
			labels[name] = fmt.Sprint(v)
		}
	}
	return labels
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// influxTransient reports whether a failed Flux query is worth retrying:
// broken connections, 429 and the 502/503/504 of an overloaded server or
// proxy are. A 500 is not: InfluxDB 1.8 answers every failed Flux query,
// syntax errors included, with a 500.
func influxTransient(err error) bool {
	var herr *influxhttp.Error
	if errors.As(err, &herr) && herr.StatusCode != 0 {
		switch herr.StatusCode {
		case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return true
		}
		return false
	}
	if untrustedServer(err) {
		return false
	}
	var nerr net.Error
	return errors.As(err, &nerr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errCutOff) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED)
}

// describeInfluxError adds what InfluxDB 1.8 leaves out of its 401 and 403
// answers (their JSON body does not reach the client's error).
func describeInfluxError(err error) error {
	var herr *influxhttp.Error
	if errors.As(err, &herr) && (herr.StatusCode == http.StatusUnauthorized || herr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w: authentication failed: check the token (InfluxDB 1.8: \"user:password\")", err)
	}
	return err
}
