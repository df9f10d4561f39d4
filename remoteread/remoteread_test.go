package remoteread

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

const load = `load 1m
	augur_input{host="db-1",signal="cpu"} 1 2 3 4 5
	augur_input{host="db-2",signal="cpu"} 10 20 30 40 50
	augur_anomaly_score{host="db-1",signal="cpu"} 0 0.5 1 0.5 0
`

// serve answers remote reads from a TSDB holding load, its errors as
// text with the status the API would give them.
func serve(t *testing.T, sampleLimit int) (*httptest.Server, storage.Queryable) {
	t.Helper()
	db := promqltest.LoadedStorage(t, load)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := Read(r, db, sampleLimit)
		switch {
		case errors.Is(err, ErrBadRequest):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		default:
			_ = WriteResponse(w, resp)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, db
}

type sample struct {
	t int64
	f float64
}

// selectAll reads every series ms select from q over the whole load.
func selectAll(t *testing.T, q storage.Queryable, hints *storage.SelectHints, ms ...*labels.Matcher) (map[string][]sample, error) {
	t.Helper()
	querier, err := q.Querier(0, 4*60_000)
	if err != nil {
		t.Fatal(err)
	}
	defer querier.Close()
	ss := querier.Select(context.Background(), true, hints, ms...)
	out := map[string][]sample{}
	var it chunkenc.Iterator
	for ss.Next() {
		s := ss.At()
		it = s.Iterator(it)
		var got []sample
		for it.Next() == chunkenc.ValFloat {
			ts, f := it.At()
			got = append(got, sample{ts, f})
		}
		out[s.Labels().String()] = got
	}
	return out, ss.Err()
}

// TestRoundTrip reads a TSDB's series through the protocol and compares
// them with the TSDB's own answer: the same series, the same samples; a
// read with the "series" hint answers labels only, and the label requests
// are answered from it.
func TestRoundTrip(t *testing.T) {
	srv, db := serve(t, 0)
	peer := &Queryable{URL: srv.URL, Client: srv.Client(), Timeout: 5 * time.Second, MaxBytes: 1 << 20}
	for _, ms := range [][]*labels.Matcher{
		{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "augur_input")},
		{labels.MustNewMatcher(labels.MatchRegexp, "host", "db-.*"), labels.MustNewMatcher(labels.MatchNotEqual, labels.MetricName, "augur_input")},
	} {
		hints := &storage.SelectHints{Start: 0, End: 4 * 60_000}
		want, err := selectAll(t, db, hints, ms...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := selectAll(t, peer, hints, ms...)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Errorf("%v: %d series, want %d", ms, len(got), len(want))
		}
		for k, w := range want {
			if !slices.Equal(got[k], w) {
				t.Errorf("%v: %s: %v, want %v", ms, k, got[k], w)
			}
		}
	}
	got, err := selectAll(t, peer, &storage.SelectHints{Start: 0, End: 4 * 60_000, Func: "series"}, labels.MustNewMatcher(labels.MatchEqual, "signal", "cpu"))
	if err != nil || len(got) != 3 {
		t.Errorf("series hint: %v %v, want 3 series", got, err)
	}
	for k, s := range got {
		if len(s) > 0 {
			t.Errorf("series hint: %s has %d samples, want none", k, len(s))
		}
	}
	q, _ := peer.Querier(0, 4*60_000)
	names, _, err := q.LabelNames(context.Background(), nil)
	if want := []string{"__name__", "host", "signal"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("label names: %v %v, want %v", names, err, want)
	}
	hosts, _, err := q.LabelValues(context.Background(), "host", nil, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "augur_input"))
	if want := []string{"db-1", "db-2"}; err != nil || !slices.Equal(hosts, want) {
		t.Errorf("host values: %v %v, want %v", hosts, err, want)
	}
	hosts, _, err = q.LabelValues(context.Background(), "host", &storage.LabelHints{Limit: 1})
	if err != nil || !slices.Equal(hosts, []string{"db-1"}) {
		t.Errorf("host values with limit 1: %v %v", hosts, err)
	}
}

// TestFailures: what makes a peer's read fail names the peer, within the
// timeout: the server's sample limit, an answer over MaxBytes, a
// fault-injecting server that answers 500 and one that never answers.
func TestFailures(t *testing.T) {
	limited, _ := serve(t, 3)
	whole, _ := serve(t, 0)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"status":"error","errorType":"internal","error":"injected fault"}`, http.StatusInternalServerError)
	}))
	defer failing.Close()
	// It reads the body first: only then does the server see the client
	// hang up.
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	}))
	defer hanging.Close()
	for _, c := range []struct {
		name     string
		url      string
		maxBytes int64
		want     string
	}{
		{"sample limit", limited.URL, 1 << 20, "exceeded sample limit (3)"},
		{"too large", whole.URL, 64, "larger than 64 bytes"},
		{"fault", failing.URL, 1 << 20, "HTTP 500: injected fault"},
		{"hanging", hanging.URL, 1 << 20, "context deadline exceeded"},
	} {
		t.Run(c.name, func(t *testing.T) {
			peer := &Queryable{URL: c.url, Client: http.DefaultClient, Timeout: time.Second, MaxBytes: c.maxBytes}
			began := time.Now()
			_, err := selectAll(t, peer, &storage.SelectHints{End: 4 * 60_000}, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "augur_input"))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "replica "+c.url+" left out") {
				t.Errorf("error %v, want %q naming the replica", err, c.want)
			}
			if d := time.Since(began); d > 3*time.Second {
				t.Errorf("took %s, past the timeout", d)
			}
		})
	}
}

// TestBadRequest: a body that is not a snappy protobuf is a bad request.
func TestBadRequest(t *testing.T) {
	srv, _ := serve(t, 0)
	resp, err := http.Post(srv.URL, "application/x-protobuf", strings.NewReader("not snappy"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
}
