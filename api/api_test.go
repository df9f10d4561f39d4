package api

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/history"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/query"
)

// newDemoServer serves the API over a real engine on three days of the
// demo fleet, its queries on the TSDB the engine appends to.
func newDemoServer(t testing.TB) *httptest.Server {
	t.Helper()
	return newDemoServerWith(t, query.Options{})
}

// newDemoServerWith is newDemoServer with the query engine's options
// (storage and sources are filled in).
func newDemoServerWith(t testing.TB, qo query.Options) *httptest.Server {
	t.Helper()
	return newDemoServerAt(t, qo, 0)
}

// newDemoServerAt is newDemoServerWith on newDemoEngineAt's engine.
func newDemoServerAt(t testing.TB, qo query.Options, elapsed time.Duration) *httptest.Server {
	t.Helper()
	e, reg, db := newDemoEngineAt(t, elapsed)
	src := query.EngineSource{E: e}
	qo.Storage, qo.Forecaster, qo.Incidents, qo.Planner, qo.Step = db, src, src, src, e.Step()
	srv := httptest.NewServer(New(Options{Engine: e, Registry: reg, MaxBodyBytes: 1024, Query: query.New(qo)}).Handler())
	t.Cleanup(srv.Close)
	failOnPanics(t, reg)
	return srv
}

// newDemoEngine runs a real engine on three days of the demo fleet, frozen
// at its anchor, with its metrics in the returned registry, and returns
// once its first evaluation is in the returned TSDB.
func newDemoEngine(t testing.TB) (*engine.Engine, *prometheus.Registry, *history.DB) {
	t.Helper()
	return newDemoEngineAt(t, 0)
}

// newDemoEngineAt is newDemoEngine with the demo's present frozen at
// elapsed after its anchor (its scripted failures recur relative to the
// anchor).
func newDemoEngineAt(t testing.TB, elapsed time.Duration) (*engine.Engine, *prometheus.Registry, *history.DB) {
	t.Helper()
	db, err := history.Open(t.TempDir(), history.Options{OutOfOrderWindow: 48 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	anchor := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	clock := anchor
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1, Start: anchor, History: 3 * 24 * time.Hour, Clock: func() time.Time { return clock }})
	clock = anchor.Add(elapsed)
	var signals []engine.Signal
	for _, name := range []string{"cpu", "memory", "connections"} {
		s := engine.Signal{Name: name, SourceName: "demo", Source: demo, Query: name, Entity: "host", Limit: 100}
		if name == "connections" {
			s.Limit, s.LimitQuery = math.NaN(), "max_connections"
		}
		signals = append(signals, s)
	}
	reg := prometheus.NewRegistry()
	e, err := engine.New(engine.Options{
		Signals: signals, Step: time.Minute, History: 3 * 24 * time.Hour, Horizon: time.Hour,
		Now: demo.Now, Tick: time.Hour, Incidents: demo, Registerer: reg, Store: db,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// The State is published once its outputs are in the TSDB. The
	// compactions of the days the first fetch wrote are done before the
	// tests, and no more run during them: they would swell the
	// allocations the tests measure.
	for !e.Ready() {
		time.Sleep(20 * time.Millisecond)
	}
	if err := db.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	db.DisableCompactions()
	return e, reg, db
}

func do(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestEndpoints(t *testing.T) {
	srv := newDemoServer(t)
	cases := []struct {
		method, path, body string
		status             int
		contains           string
	}{
		{"GET", "/", "", 200, `<a href="/api/v1/failures">`},
		{"GET", "/", "", 200, "Ready."},
		{"GET", "/", "", 200, `<a href="/metrics">`},
		{"GET", "/", "", 200, "Version "},
		{"HEAD", "/", "", 200, ""},
		{"GET", "/-/healthy", "", 200, "Healthy"},
		{"GET", "/-/ready", "", 200, "Ready"},
		{"GET", "/api/v1/failures", "", 200, `"entity":"cache-1"`},
		{"GET", "/api/v1/failures?horizon=30m", "", 200, `"horizon":"30m"`},
		{"POST", "/api/v1/failures", "horizon=2h", 200, `"horizon":"2h"`},
		{"GET", `/api/v1/forecast?match=cpu{host="web-1"}&horizon=1h&step=10m`, "", 200, `"model":"`},
		{"GET", `/api/v1/capacity?match=memory&threshold=95%25&horizon=2d&sort=eta&limit=2`, "", 200, `"eta_seconds"`},
		{"GET", "/api/v1/targets", "", 200, `"signal":"connections"`},
		{"GET", "/api/v1/incidents", "", 200, `"name":"OOMKilled"`},
		{"GET", "/api/v1/forecast?step=1s", "", 400, `"errorType":"bad_data"`},
		{"GET", "/api/v1/forecast?horizon=1000d", "", 400, `too long`},
		{"GET", "/api/v1/forecast?horizon=138d&step=1m", "", 400, `raise \"step\"`},
		{"GET", "/api/v1/forecast?level=0.9999999999999999&horizon=10m", "", 200, `"points"`},
		{"GET", "/api/v1/capacity?threshold=90x", "", 400, `share of the limit`},
		// A horizon under the analysis step (1m) is a bad parameter on every endpoint.
		{"GET", "/api/v1/forecast?horizon=30s", "", 400, `\"horizon\": 30s is shorter than the analysis step 1m`},
		{"GET", "/api/v1/forecast?horizon=0.0000000001", "", 400, `\"horizon\": \"0.0000000001\" is not a positive duration`},
		{"GET", "/api/v1/forecast?horizon=10m&step=1h", "", 400, `\"horizon\": 10m is shorter than the step 1h`},
		{"GET", "/api/v1/failures?horizon=1s", "", 400, `\"horizon\": 1s is shorter than the analysis step 1m`},
		{"POST", "/api/v1/capacity", "horizon=59s", 400, `\"horizon\": 59s is shorter than the analysis step 1m`},
		{"GET", "/api/v1/failures?horizon=1000d", "", 400, `"errorType":"bad_data"`},
		{"GET", "/api/v1/capacity?horizon=1000d", "", 400, `"errorType":"bad_data"`},
		// No match is an empty list, not null.
		{"GET", "/api/v1/forecast?match=nomatch", "", 200, `"data":[]`},
		{"GET", "/api/v1/capacity?match=nomatch", "", 200, `"series":[]`},
		{"GET", "/api/v1/nope", "", 404, `"status":"error"`},
		{"POST", "/api/v1/failures", "horizon=" + strings.Repeat("9", 4096), 413, `"status":"error"`},
		{"GET", "/metrics", "", 200, `augur_failure_probability{horizon="1h",host="cache-1",top_factor="memory"}`},
		{"GET", "/metrics", "", 200, `augur_time_to_limit_seconds{`},
		{"GET", "/metrics", "", 200, `augur_fit_duration_seconds_count`},
		{"GET", "/debug/pprof/", "", 200, `heap`},
		{"GET", "/debug/pprof/cmdline", "", 200, `api.test`},
		{"GET", "/debug/pprof/heap?debug=1", "", 200, `heap profile:`},
		{"GET", "/debug/pprof/goroutine?debug=1", "", 200, `goroutine profile:`},
	}
	for _, c := range cases {
		status, body := do(t, c.method, srv.URL+c.path, c.body)
		if status != c.status || !strings.Contains(string(body), c.contains) {
			t.Errorf("%s %s: status %d, want %d containing %q; body:\n%.600s", c.method, c.path, status, c.status, c.contains, body)
		}
	}
}

func TestCapacityRanking(t *testing.T) {
	srv := newDemoServer(t)
	_, body := do(t, "GET", srv.URL+`/api/v1/capacity?match={signal=~"memory|connections"}&sort=eta&limit=3&horizon=1d`, "")
	var env struct {
		Data struct {
			Series []wireCapacity `json:"series"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	s := env.Data.Series
	if len(s) != 3 {
		t.Fatalf("want 3 series, got %d: %s", len(s), body)
	}
	// The leaking cache-1 is the soonest to run out of memory.
	if s[0].Labels["host"] != "cache-1" || s[0].Labels["signal"] != "memory" || s[0].ETASeconds.P50 == nil {
		t.Errorf("first to run out: %v (eta %v), want cache-1 memory", s[0].Labels, s[0].ETASeconds.P50)
	}
	for i := 1; i < len(s); i++ {
		if a, b := s[i-1].ETASeconds.P50, s[i].ETASeconds.P50; b != nil && (a == nil || *b < *a) {
			t.Errorf("not sorted by eta at %d", i)
		}
	}
}

// stateSwapper serves the States a test sets instead of the engine's.
type stateSwapper struct {
	*engine.Engine
	st atomic.Pointer[engine.State]
}

func (s *stateSwapper) State() *engine.State { return s.st.Load() }

// TestFailuresEncodedOncePerState checks that /api/v1/failures at the
// configured horizon serves the answer it encoded for the published
// State until the next State, and then the next State's.
func TestFailuresEncodedOncePerState(t *testing.T) {
	e, reg, _ := newDemoEngine(t)
	sw := &stateSwapper{Engine: e}
	st := *e.State()
	sw.st.Store(&st)
	srv := httptest.NewServer(New(Options{Engine: sw, Registry: reg}).Handler())
	defer srv.Close()
	evaluatedAt := func(path string) string {
		status, body := do(t, "GET", srv.URL+path, "")
		var r struct {
			Data struct {
				EvaluatedAt string `json:"evaluated_at"`
				Entities    []any  `json:"entities"`
			} `json:"data"`
		}
		if err := json.Unmarshal(body, &r); status != 200 || err != nil || len(r.Data.Entities) == 0 {
			t.Fatalf("GET %s: status %d, %v, body %.300s", path, status, err, body)
		}
		return r.Data.EvaluatedAt
	}
	first := evaluatedAt("/api/v1/failures")
	if again := evaluatedAt("/api/v1/failures"); again != first {
		t.Errorf("the same State answered evaluated_at %s, then %s", first, again)
	}
	next := st
	next.At = st.At.Add(time.Minute)
	sw.st.Store(&next)
	want := next.At.UTC().Format(time.RFC3339)
	if got := evaluatedAt("/api/v1/failures"); got != want {
		t.Errorf("after a new State: evaluated_at %s, want %s", got, want)
	}
	// Another horizon is computed, not served from the encoded State.
	if got := evaluatedAt("/api/v1/failures?horizon=2h"); got == "" {
		t.Error("no evaluated_at at horizon 2h")
	}
}
