// Package remoteread serves and reads series over Prometheus' remote-read
// protocol (prompb's ReadRequest and ReadResponse, snappy-compressed
// protobuf over HTTP POST, the SAMPLES response type): the replicas of a
// fleet read each other's series with it, as Thanos Query reads its stores,
// and a Prometheus with a remote_read entry can read augur's.
//
// A replica answers a remote read from its own storage only, never from
// the other replicas': what asks it is another replica's query, which
// merges the answers itself, so a read never recurses.
package remoteread

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gogo/protobuf/proto"
	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"
)

// Path is where a replica serves remote reads, as Prometheus does. Its
// errors are the caller's to write.
const Path = "/api/v1/read"

// seriesFunc is the hint of a read that wants the series' labels, not
// their samples (Prometheus' /api/v1/series sets it): the answer carries
// no sample, and the label requests ask with it.
const seriesFunc = "series"

// ErrBadRequest is a read request that cannot be decoded or asks what
// cannot be answered.
var ErrBadRequest = errors.New("bad remote read request")

// Read answers the remote read r from q. A query of the read whose answer
// would hold more than sampleLimit samples (0: no limit) fails with
// promql.ErrTooManySamples, as Prometheus refuses it beyond
// --storage.remote.read-sample-limit.
func Read(r *http.Request, q storage.Queryable, sampleLimit int) (*prompb.ReadResponse, error) {
	req, err := remote.DecodeReadRequest(r)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot decode it: %w", ErrBadRequest, err)
	}
	// The first accepted type the server implements: SAMPLES, the
	// protocol's default when none is named.
	if ts := req.AcceptedResponseTypes; len(ts) > 0 && !slices.Contains(ts, prompb.ReadRequest_SAMPLES) {
		return nil, fmt.Errorf("%w: augur answers the SAMPLES response type only, not %v", ErrBadRequest, ts)
	}
	resp := &prompb.ReadResponse{Results: make([]*prompb.QueryResult, len(req.Queries))}
	for i, rq := range req.Queries {
		res, err := read(r.Context(), q, rq, sampleLimit)
		if err != nil {
			return nil, err
		}
		resp.Results[i] = res
	}
	return resp, nil
}

// WriteResponse writes the answer of a read.
func WriteResponse(w http.ResponseWriter, resp *prompb.ReadResponse) error {
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Header().Set("Content-Encoding", "snappy")
	return remote.EncodeReadResponse(resp, w)
}

// read answers one query of a read request.
func read(ctx context.Context, q storage.Queryable, rq *prompb.Query, sampleLimit int) (*prompb.QueryResult, error) {
	ms, err := remote.FromLabelMatchers(rq.Matchers)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	hints := &storage.SelectHints{Start: rq.StartTimestampMs, End: rq.EndTimestampMs}
	if h := rq.Hints; h != nil {
		hints = &storage.SelectHints{Start: h.StartMs, End: h.EndMs, Step: h.StepMs, Func: h.Func, Grouping: h.Grouping, By: h.By, Range: h.RangeMs}
	}
	querier, err := q.Querier(rq.StartTimestampMs, rq.EndTimestampMs)
	if err != nil {
		return nil, err
	}
	defer querier.Close()
	ss := querier.Select(ctx, true, hints, ms...)
	if hints.Func == seriesFunc {
		ss = labelsOnly{ss}
	}
	res, _, err := remote.ToQueryResult(ss, sampleLimit)
	var herr remote.HTTPError
	if errors.As(err, &herr) {
		// The only HTTPError it returns: the sample limit.
		err = promql.ErrTooManySamples(fmt.Sprintf("remote read: %v (--query.max-samples): narrow the selector or the time range", herr))
	}
	return res, err
}

// labelsOnly is a series set whose series carry no samples.
type labelsOnly struct{ storage.SeriesSet }

func (s labelsOnly) At() storage.Series { return labelsSeries{s.SeriesSet.At().Labels()} }

type labelsSeries struct{ l labels.Labels }

func (s labelsSeries) Labels() labels.Labels { return s.l }

func (s labelsSeries) Iterator(chunkenc.Iterator) chunkenc.Iterator { return chunkenc.NewNopIterator() }

// Queryable is another replica's storage read over remote read: the
// series of its own entities. Each Select is one POST to the replica's
// Path, within the timeout; its failure fails that Select, which a merge
// querier that holds it as a secondary turns into a warning.
type Queryable struct {
	// URL is the replica's API base URL.
	URL     string
	Client  *http.Client
	Timeout time.Duration
	// MaxBytes bounds the answer, compressed and decompressed.
	MaxBytes int64
}

func (q *Queryable) Querier(mint, maxt int64) (storage.Querier, error) {
	return &querier{q: q, mint: mint, maxt: maxt}, nil
}

type querier struct {
	q          *Queryable
	mint, maxt int64
}

// Select asks the replica for the series ms select. The read happens at
// once, so that a failure is known at the set's first Next, as
// storage's secondary querier expects.
func (q *querier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	res, err := q.read(ctx, hints, ms)
	if err != nil {
		return storage.ErrSeriesSet(err)
	}
	return remote.FromQueryResult(true, res)
}

// LabelNames and LabelValues read the labels of the series ms select, as
// a read with the "series" hint, which answers labels without samples:
// the protocol has no label request.
func (q *querier) LabelNames(ctx context.Context, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return q.labels(ctx, hints, ms, func(l labels.Labels, add func(string)) {
		l.Range(func(l labels.Label) { add(l.Name) })
	})
}

func (q *querier) LabelValues(ctx context.Context, name string, hints *storage.LabelHints, ms ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return q.labels(ctx, hints, ms, func(l labels.Labels, add func(string)) {
		if v := l.Get(name); v != "" {
			add(v)
		}
	})
}

func (q *querier) labels(ctx context.Context, hints *storage.LabelHints, ms []*labels.Matcher, each func(labels.Labels, func(string))) ([]string, annotations.Annotations, error) {
	if len(ms) == 0 {
		ms = []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")}
	}
	res, err := q.read(ctx, &storage.SelectHints{Start: q.mint, End: q.maxt, Func: seriesFunc}, ms)
	if err != nil {
		return nil, nil, err
	}
	set := map[string]struct{}{}
	b := labels.NewScratchBuilder(0)
	for _, ts := range res.Timeseries {
		each(ts.ToLabels(&b, nil), func(s string) { set[s] = struct{}{} })
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	slices.Sort(out)
	if hints != nil && hints.Limit > 0 && len(out) > hints.Limit {
		out = out[:hints.Limit]
	}
	return out, nil, nil
}

func (q *querier) Close() error { return nil }

// read posts one query and returns its result; its errors name the
// replica.
func (q *querier) read(ctx context.Context, hints *storage.SelectHints, ms []*labels.Matcher) (*prompb.QueryResult, error) {
	res, err := q.post(ctx, hints, ms)
	if err != nil {
		return nil, fmt.Errorf("replica %s left out: %w", q.q.URL, err)
	}
	return res, nil
}

func (q *querier) post(ctx context.Context, hints *storage.SelectHints, ms []*labels.Matcher) (*prompb.QueryResult, error) {
	pq, err := remote.ToQuery(q.mint, q.maxt, ms, hints)
	if err != nil {
		return nil, err
	}
	body, err := proto.Marshal(&prompb.ReadRequest{Queries: []*prompb.Query{pq}, AcceptedResponseTypes: []prompb.ReadRequest_ResponseType{prompb.ReadRequest_SAMPLES}})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, q.q.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(q.q.URL, "/")+Path, bytes.NewReader(snappy.Encode(nil, body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Read-Version", "0.1.0")
	resp, err := q.q.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	compressed, err := io.ReadAll(io.LimitReader(resp.Body, q.q.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		// augur's errors are the API's JSON envelope; another server's
		// may be text.
		var env struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(compressed[:min(len(compressed), 512)]))
		if json.Unmarshal(compressed, &env) == nil && env.Error != "" {
			msg = env.Error
		}
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	if int64(len(compressed)) > q.q.MaxBytes {
		return nil, fmt.Errorf("the answer is larger than %d bytes", q.q.MaxBytes)
	}
	if n, err := snappy.DecodedLen(compressed); err != nil || int64(n) > q.q.MaxBytes {
		return nil, fmt.Errorf("cannot decode the answer: %d bytes decompressed (at most %d), %v", n, q.q.MaxBytes, err)
	}
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		return nil, fmt.Errorf("cannot decode the answer: %w", err)
	}
	var rr prompb.ReadResponse
	if err := proto.Unmarshal(raw, &rr); err != nil {
		return nil, fmt.Errorf("cannot decode the answer: %w", err)
	}
	if len(rr.Results) != 1 {
		return nil, fmt.Errorf("cannot decode the answer: %d results to one query", len(rr.Results))
	}
	return rr.Results[0], nil
}
