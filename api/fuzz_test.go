package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/query"
	"github.com/augur-sre/augur/store"
)

// FuzzEndpoints sends fuzzed parameters to a route of the real router (the
// routes are the router's, so a new endpoint is fuzzed once registered),
// in the URL of a GET or HEAD and in the form body of a POST, a fuzzed
// body to the webhook and a fuzzed label name to label values, over a real
// engine, TSDB and store. No answer may be a 5xx but a 503 for the
// request's own timeout; every answer under /api/ must be the JSON
// envelope, "success" exactly when 200; no handler may panic. The seeds
// give every route a few parameter sets.
func FuzzEndpoints(f *testing.F) {
	seeds := []struct{ params, body string }{
		{"horizon=2h", "host"},
		{"horizon=30s&step=1m", "__name__"},
		{"match=" + url.QueryEscape(`cpu{host="web-1"}`) + "&horizon=1h&step=10m&level=0.9", "U__a_2e_b"},
		{"match=" + url.QueryEscape(`{signal=~"memory|connections"}`) + "&threshold=95%25&horizon=2d&sort=eta&limit=2", firingPayload},
		{"threshold=1e308%25&level=0.9999999999999999", resolvedPayload},
		{"query=" + url.QueryEscape(`rate(augur_input{host="cache-1"}[5m])`) + "&time=1773144000", "{}"},
		{"query=augur_forecast&start=1773140000&end=1773150000&step=600", `{"alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"2026-03-10T11:00:00Z"}]}`},
		{"query=1&start=0&end=60&step=1e-10", "instance"},
		{"query=augur_forecast&start=1773144000&end=10000000000&step=1e9", ""},
		{"query=%22%01%22&time=-1e300", "\xff"},
		{"match[]=" + url.QueryEscape(`augur_failure_probability{host=~"cache-.*"}`) + "&start=0&end=1773144000&limit=2", "signal"},
		{"metric=augur_input&limit=1&timeout=1ms", "role"},
	}
	h := newFuzzHandler(f)
	var routes []route
	for _, r := range h.echo.Routes() {
		routes = append(routes, route{r.Method, r.Path})
	}
	// In a fixed order, so that a crasher names the same route in every run.
	slices.SortFunc(routes, func(a, b route) int { return strings.Compare(a.method+a.path, b.method+b.path) })
	for i := range routes {
		for _, s := range []int{i, i + 5} {
			f.Add(uint8(i), seeds[s%len(seeds)].params, seeds[s%len(seeds)].body)
		}
	}
	// The requests issue 16 found answered 500 (or worse), on their routes.
	for _, c := range []struct{ route, params, body string }{
		{"GET /api/v1/query_range", "query=1&start=0&end=60&step=1e-10", ""},
		{"GET /api/v1/query_range", "query=1&start=0&end=60&step=4.9e-324", ""},
		{"GET /api/v1/capacity", "threshold=1e307x", ""},
		{"GET /api/v1/capacity", "threshold=1e308%25", ""},
		{"GET /api/v1/forecast", "level=0.9999999999999999", ""},
		{"GET /api/v1/query", "query=%22%01%22", ""},
		{"GET /api/v1/query", "query=%22%5Cxff%22", ""},
		{"POST /api/v1/failures", "horizon=0.0000000001", ""},
		{"GET /api/v1/query_range", "query=augur_forecast&start=1773144000&end=99999999999&step=31536000", ""},
		{"POST /api/v1/alertmanager/webhook", "", strings.Replace(firingPayload, "a1b2c3d4e5f60718", strings.Repeat("f", 40<<10), 1)},
	} {
		i := slices.IndexFunc(routes, func(r route) bool { return r.method+" "+r.path == c.route })
		if i < 0 {
			f.Fatalf("no route %s", c.route)
		}
		f.Add(uint8(i), c.params, c.body)
	}
	f.Fuzz(func(t *testing.T, n uint8, params, body string) {
		r := routes[int(n)%len(routes)]
		path := strings.Replace(r.path, ":name", url.PathEscape(body), 1)
		var req *http.Request
		switch {
		case r.method != http.MethodPost:
			req = httptest.NewRequest(r.method, "/", nil)
			req.URL.Path, req.URL.RawQuery = path, params
		case path == WebhookPath:
			req = httptest.NewRequest(r.method, path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		default:
			req = httptest.NewRequest(r.method, path, strings.NewReader(params))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := httptest.NewRecorder()
		h.Handler().ServeHTTP(w, req)
		checkAnswer(t, r.method+" "+path, params, body, w)
	})
}

type route struct{ method, path string }

func checkAnswer(t *testing.T, route, params, body string, w *httptest.ResponseRecorder) {
	t.Helper()
	var env struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
	}
	if !strings.HasPrefix(route, "HEAD ") && strings.Contains(route, "/api/") {
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
			t.Fatalf("%s with %q, body %q: status %d, not JSON (%v): %.300s", route, params, body, w.Code, err, w.Body.Bytes())
		}
		if (w.Code == http.StatusOK) != (env.Status == "success") {
			t.Fatalf("%s with %q, body %q: status %d with %q: %.300s", route, params, body, w.Code, env.Status, w.Body.Bytes())
		}
	}
	if w.Code >= 500 && !(w.Code == http.StatusServiceUnavailable && env.ErrorType == string(errTimeout)) {
		t.Fatalf("%s with %q, body %q: status %d: %.300s", route, params, body, w.Code, w.Body.Bytes())
	}
}

// newFuzzHandler is the API of newDemoServer with the webhook on a real
// store, and query limits that keep one fuzzed query to a fraction of a
// second.
func newFuzzHandler(f *testing.F) *API {
	e, reg, db := newDemoEngine(f)
	src := query.EngineSource{E: e}
	qe := query.New(query.Options{Storage: db, Forecaster: src, Incidents: src, Step: e.Step(), MaxSamples: 50_000, Timeout: 5 * time.Second})
	a := New(Options{Engine: e, Registry: reg, MaxBodyBytes: 64 << 10, Query: qe})
	failOnPanics(f, reg)
	st, err := store.Open(f.TempDir(), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	if err := a.RegisterWebhook(WebhookOptions{Store: st}); err != nil {
		f.Fatal(err)
	}
	a.ServeIncidents(func(ctx context.Context) ([]ingest.Incident, []string, error) {
		incs, err := st.Incidents(ctx, minTime, maxTime)
		return incs, st.Warnings(), err
	})
	return a
}
