package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestGrid(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	minute := time.Minute.Milliseconds()
	base := at("2024-03-01T00:00:00Z").UnixMilli()
	for _, tc := range []struct {
		name       string
		start, end time.Time
		step       time.Duration
		maxPoints  int
		want       []grid // chunks
		wantErr    bool
	}{
		{"aligned, one chunk", at("2024-03-01T00:00:00Z"), at("2024-03-01T00:10:00Z"), time.Minute, 100,
			[]grid{{base, base + 10*minute, minute}}, false},
		{"rounded inward", at("2024-03-01T00:00:01Z"), at("2024-03-01T00:10:59Z"), time.Minute, 100,
			[]grid{{base + minute, base + 10*minute, minute}}, false},
		{"chunks of at most 4 points, no overlap", at("2024-03-01T00:00:00Z"), at("2024-03-01T00:10:00Z"), time.Minute, 4,
			[]grid{{base, base + 3*minute, minute}, {base + 4*minute, base + 7*minute, minute}, {base + 8*minute, base + 10*minute, minute}}, false},
		{"exact multiple", at("2024-03-01T00:00:00Z"), at("2024-03-01T00:07:00Z"), time.Minute, 4,
			[]grid{{base, base + 3*minute, minute}, {base + 4*minute, base + 7*minute, minute}}, false},
		{"single point", at("2024-03-01T00:05:00Z"), at("2024-03-01T00:05:00Z"), time.Minute, 4,
			[]grid{{base + 5*minute, base + 5*minute, minute}}, false},
		{"no grid point inside", at("2024-03-01T00:05:01Z"), at("2024-03-01T00:05:59Z"), time.Minute, 4, nil, false},
		{"before 1970", time.UnixMilli(-90_000), time.UnixMilli(0), time.Minute, 10,
			[]grid{{-minute, 0, minute}}, false},
		{"end before start", at("2024-03-01T00:05:00Z"), at("2024-03-01T00:04:00Z"), time.Minute, 4, nil, true},
		{"zero step", at("2024-03-01T00:00:00Z"), at("2024-03-01T00:04:00Z"), 0, 4, nil, true},
		{"sub-millisecond step", at("2024-03-01T00:00:00Z"), at("2024-03-01T00:04:00Z"), time.Microsecond, 4, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := newGrid(tc.start, tc.end, tc.step)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error: %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var got []grid
			if g.points() > 0 {
				got = g.split(tc.maxPoints)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("chunks %v, want %v", got, tc.want)
			}
			n := 0
			for _, c := range got {
				n += c.points()
				if c.points() > tc.maxPoints {
					t.Errorf("chunk %v has %d points, more than %d", c, c.points(), tc.maxPoints)
				}
			}
			if n != g.points() {
				t.Errorf("chunks hold %d points, the grid %d", n, g.points())
			}
		})
	}
}

// fakeFlakyPrometheus answers the first `failures` requests with the given
// status and a Prometheus-style error body, then with a one-point matrix: a
// real Prometheus cannot be made to fail on cue like this.
func fakeFlakyPrometheus(t *testing.T, failures int32, status int) (url string, requests *atomic.Int32) {
	requests = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if n := requests.Add(1); n <= failures {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"status":"error","errorType":"unavailable","error":"injected failure %d"}`, n)
			return
		}
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"job":"x"},"values":[[60,"1.5"]]}]}}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, requests
}

func TestPrometheusRetries(t *testing.T) {
	for _, tc := range []struct {
		name         string
		status       int
		failures     int32
		retries      int
		wantRequests int32
		wantErr      string
	}{
		{"503 retried until success", http.StatusServiceUnavailable, 2, 3, 3, ""},
		{"500 retried until retries run out", http.StatusInternalServerError, 5, 2, 3, "injected failure 3"},
		{"negative retries: one attempt", http.StatusBadGateway, 1, -1, 1, "injected failure 1"},
		{"400 not retried", http.StatusBadRequest, 1, 3, 1, "injected failure 1"},
		{"422 not retried", http.StatusUnprocessableEntity, 1, 3, 1, "injected failure 1"},
		{"401 not retried", http.StatusUnauthorized, 1, 3, 1, "401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, requests := fakeFlakyPrometheus(t, tc.failures, tc.status)
			p, err := NewPrometheus(PrometheusOptions{URL: url, QueryOptions: QueryOptions{Retries: tc.retries, RetryBackoff: time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Range(context.Background(), "x", time.Unix(60, 0), time.Unix(60, 0), time.Minute)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || len(got[0].Samples) != 1 || got[0].Samples[0] != (Sample{T: 60000, V: 1.5}) {
					t.Errorf("got %+v, want one sample 1.5@60000", got)
				}
			} else if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("got error %v, want one containing %q", err, tc.wantErr)
			}
			if n := requests.Load(); n != tc.wantRequests {
				t.Errorf("%d requests, want %d", n, tc.wantRequests)
			}
		})
	}
}

func TestNewPrometheusRejectsBadOptions(t *testing.T) {
	for _, opts := range []PrometheusOptions{
		{},
		{URL: "http://127.0.0.1:9090", QueryOptions: QueryOptions{Concurrency: -1}},
		{URL: "http://127.0.0.1:9090", QueryOptions: QueryOptions{MaxPointsPerQuery: -5}},
		{URL: "http://127.0.0.1:9090", QueryOptions: QueryOptions{MaxGap: -1}},
	} {
		if _, err := NewPrometheus(opts); err == nil {
			t.Errorf("NewPrometheus(%+v) accepted bad options", opts)
		}
	}
}

// Both sources check QueryOptions in one place; the message still names the
// kind of source and the URL without its password.
func TestNewSourcesRejectNegativeQueryOptions(t *testing.T) {
	const url = "http://augur:s3cret@127.0.0.1:9090"
	q := QueryOptions{Timeout: -time.Second}
	_, perr := NewPrometheus(PrometheusOptions{URL: url, QueryOptions: q})
	_, ierr := NewInfluxDB(InfluxDBOptions{URL: url, QueryOptions: q})
	for kind, err := range map[string]error{"Prometheus": perr, "InfluxDB": ierr} {
		want := "cannot create " + kind + " source for http://augur:xxxxx@127.0.0.1:9090: negative max_points_per_query, concurrency, timeout or max gap"
		if err == nil || err.Error() != want {
			t.Errorf("got error %v, want %q", err, want)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:9090":               "http://127.0.0.1:9090",
		"https://augur:s3cret@prom.example/x": "https://augur:xxxxx@prom.example/x",
		"http://[::1":                         "<unparsable url>",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}
