package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/augur-sre/augur/engine"
	"github.com/augur-sre/augur/ingest"
	"github.com/augur-sre/augur/store"
)

const firingPayload = `{
  "version": "4", "groupKey": "{}:{alertname=\"OOMKilled\"}", "truncatedAlerts": 0,
  "status": "firing", "receiver": "augur", "groupLabels": {"alertname": "OOMKilled"},
  "commonLabels": {"alertname": "OOMKilled"}, "commonAnnotations": {}, "externalURL": "http://am:9093",
  "someFutureField": {"ignored": true},
  "alerts": [{
    "status": "firing", "labels": {"alertname": "OOMKilled", "instance": "cache-1:9100", "signal": "memory"},
    "annotations": {"summary": "out of memory"}, "startsAt": "2026-03-10T11:00:00Z",
    "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prom/graph", "fingerprint": "a1b2c3d4e5f60718"
  }]
}`

var resolvedPayload = strings.NewReplacer(`"status": "firing"`, `"status": "resolved"`, `"endsAt": "0001-01-01T00:00:00Z"`, `"endsAt": "2026-03-10T11:20:00Z"`).Replace(firingPayload)

func newWebhookServer(t *testing.T, st IncidentStore, o WebhookOptions) *httptest.Server {
	t.Helper()
	reg := prometheus.NewRegistry()
	a := New(Options{Engine: idleEngine(t), MaxBodyBytes: 4096, Registry: reg})
	failOnPanics(t, reg)
	o.Store = st
	if err := a.RegisterWebhook(o); err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(a.Handler())
	t.Cleanup(s.Close)
	return s
}

// idleEngine is a real engine on the demo fleet that is never run: the
// webhook does not read the engine.
func idleEngine(t testing.TB) *engine.Engine {
	t.Helper()
	demo := ingest.NewDemo(ingest.DemoOptions{Seed: 1})
	e, err := engine.New(engine.Options{
		Signals: []engine.Signal{{Name: "cpu", SourceName: "demo", Source: demo, Query: "cpu", Entity: "host", Limit: 100}},
		Step:    time.Minute, History: time.Hour, Horizon: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// failingStore injects the one fault a real store cannot be made to produce
// on demand: a write that fails.
type failingStore struct{}

func (failingStore) AddIncidents([]store.Incident) (int, error) {
	return 0, errors.New("disk full")
}

func TestWebhook(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	open := newWebhookServer(t, st, WebhookOptions{})
	token := newWebhookServer(t, st, WebhookOptions{BearerToken: "s3cret"})
	basic := newWebhookServer(t, st, WebhookOptions{Username: "am", Password: "pw"})
	failing := newWebhookServer(t, failingStore{}, WebhookOptions{})

	cases := []struct {
		name     string
		srv      *httptest.Server
		body     string
		auth     func(*http.Request)
		status   int
		contains string
	}{
		{"firing", open, firingPayload, nil, 200, `"data":{"received":1,"stored":1}`},
		{"resent", open, firingPayload, nil, 200, `"data":{"received":1,"stored":0}`},
		{"resolved", open, resolvedPayload, nil, 200, `"stored":1`},
		{"resolved resent", open, resolvedPayload, nil, 200, `"stored":0`},
		{"no alerts", open, `{"version":"4","alerts":[]}`, nil, 200, `"received":0`},
		{"not JSON", open, `alerts: []`, nil, 400, `"errorType":"bad_data"`},
		{"wrong shape", open, `{"alerts":{"status":"firing"}}`, nil, 400, `cannot decode`},
		{"bad status", open, strings.Replace(firingPayload, `"status": "firing", "labels"`, `"status": "burning", "labels"`, 1), nil, 400, `neither firing nor resolved`},
		{"no labels", open, `{"alerts":[{"status":"firing","labels":{},"startsAt":"2026-03-10T11:00:00Z"}]}`, nil, 400, `no labels`},
		{"no start", open, `{"alerts":[{"status":"firing","labels":{"a":"b"}}]}`, nil, 400, `no startsAt`},
		{"bad time", open, `{"alerts":[{"status":"firing","labels":{"a":"b"},"startsAt":"yesterday"}]}`, nil, 400, `cannot decode`},
		{"too large", open, `{"alerts":[` + strings.Repeat(" ", 5000) + `]}`, nil, 413, `"status":"error"`},
		{"no fingerprint", open, `{"alerts":[{"status":"firing","labels":{"alertname":"X","host":"db-1"},"startsAt":"2026-03-10T11:00:00Z"}]}`, nil, 200, `"stored":1`},

		{"token missing", token, firingPayload, nil, 401, `unauthorized`},
		{"token wrong", token, firingPayload, func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401, `unauthorized`},
		{"token right", token, firingPayload, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }, 200, `"stored":0`},
		{"token, scheme in lower case", token, firingPayload, func(r *http.Request) { r.Header.Set("Authorization", "bearer s3cret") }, 200, `"stored":0`},
		{"basic missing", basic, firingPayload, nil, 401, `unauthorized`},
		{"basic wrong", basic, firingPayload, func(r *http.Request) { r.SetBasicAuth("am", "nope") }, 401, `unauthorized`},
		{"basic right", basic, firingPayload, func(r *http.Request) { r.SetBasicAuth("am", "pw") }, 200, `"received":1`},

		{"store fails", failing, firingPayload, nil, 500, `"errorType":"internal"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", c.srv.URL+WebhookPath, strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			if c.auth != nil {
				c.auth(req)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b := make([]byte, 4096)
			n, _ := resp.Body.Read(b)
			if resp.StatusCode != c.status || !strings.Contains(string(b[:n]), c.contains) {
				t.Errorf("status %d, want %d containing %q: %s", resp.StatusCode, c.status, c.contains, b[:n])
			}
			if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
	for _, method := range []string{"GET", "PUT"} {
		req, _ := http.NewRequest(method, open.URL+WebhookPath, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", method, resp.StatusCode)
		}
	}

	// What was acknowledged is on disk: reopen the store.
	st.Close()
	st, err = store.Open(dir, store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	incs, err := st.Incidents(context.Background(), time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 2 {
		t.Fatalf("incidents %+v, want the OOM and the one without fingerprint", incs)
	}
	oom := incs[0]
	if oom.Entity != "cache-1:9100" || oom.Name != "OOMKilled" || oom.Signal != "memory" || oom.Source != "alertmanager" ||
		!oom.Start.Equal(time.Date(2026, 3, 10, 11, 0, 0, 0, time.UTC)) || !oom.End.Equal(time.Date(2026, 3, 10, 11, 20, 0, 0, time.UTC)) {
		t.Errorf("OOM incident %+v", oom)
	}
	if incs[1].Entity != "db-1" || !incs[1].End.IsZero() {
		t.Errorf("second incident %+v, want db-1 still firing", incs[1])
	}
}

func TestOwnAlert(t *testing.T) {
	f := func(name, url string, want bool) {
		t.Helper()
		if got := ownAlert(webhookAlert{Labels: map[string]string{"alertname": name}, GeneratorURL: url}); got != want {
			t.Errorf("ownAlert(%s, %s) = %v", name, url, got)
		}
	}
	f("FailurePredicted", "http://augur:9477/api/v1/query?query=augur_failure_probability%7Bhost%3D%22a%22%7D", true)
	f("AnomalyDetected", "http://augur:9477/api/v1/query?query=augur_anomaly_score%7B%7D", true)
	f("FailurePredicted", "http://prometheus:9090/graph?g0.expr=up", false)
	f("OOMKilled", "http://augur:9477/api/v1/query?query=augur_input", false)
}

// TestWebhookRefusesOversizedFields posts notifications with one field too
// large behind a valid alert: the answer is a 400 naming the field, nothing
// of the notification is stored, and nothing tells Alertmanager to retry.
func TestWebhookRefusesOversizedFields(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs bytes.Buffer
	a := New(Options{Engine: idleEngine(t)})
	if err := a.RegisterWebhook(WebhookOptions{Store: st, Logger: slog.New(slog.NewTextHandler(&logs, nil))}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	valid := `{"status":"firing","labels":{"alertname":"NodeDown","host":"db-1"},"startsAt":"2026-03-10T11:00:00Z","fingerprint":"0011223344556677"}`
	alert := func(fp string, labels, annotations map[string]string) string {
		b, _ := json.Marshal(map[string]any{"status": "firing", "labels": labels, "annotations": annotations, "startsAt": "2026-03-10T11:05:00Z", "fingerprint": fp})
		return string(b)
	}
	big := func(n int) string { return strings.Repeat("x", n) }
	ok := map[string]string{"alertname": "OOMKilled", "host": "cache-1"}
	many := make([]string, maxWebhookAlerts+1)
	for i := range many {
		many[i] = valid
	}
	for _, c := range []struct {
		name, second, field string
	}{
		{"fingerprint of 40 KiB", alert(big(40<<10), ok, nil), "alerts[1].fingerprint"},
		{"label name of 2 KiB", alert("1", map[string]string{big(2 << 10): "v"}, nil), "alerts[1].labels"},
		{"label value of 20 KiB", alert("1", map[string]string{"alertname": big(20 << 10)}, nil), "alerts[1].labels.alertname"},
		{"annotation of 70 KiB", alert("1", ok, map[string]string{"description": big(70 << 10)}), "alerts[1].annotations.description"},
		{"10,001 alerts", strings.Join(many[1:], ","), "alerts: 10001 alerts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs.Reset()
			body := `{"version":"4","receiver":"augur","alerts":[` + valid + "," + c.second + `]}`
			resp, err := http.Post(srv.URL+WebhookPath, "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), c.field) {
				t.Errorf("status %d, want 400 naming %s: %.300s", resp.StatusCode, c.field, b)
			}
			if incs, _ := st.Incidents(context.Background(), time.Time{}, time.Now()); len(incs) != 0 {
				t.Errorf("%d incidents stored from a refused notification, want none", len(incs))
			}
			if strings.Contains(logs.String(), "retry") {
				t.Errorf("a 400 logged as retried:\n%s", logs.String())
			}
		})
	}
}

// BenchmarkWebhook stores one new notification per iteration into a store
// already holding 0, 10k and 100k incidents: the cost must not grow with
// them (each is a bbolt transaction with its fsync, and an index update).
func BenchmarkWebhook(b *testing.B) {
	for _, stored := range []int{0, 10000, 100000} {
		b.Run(fmt.Sprintf("stored=%d", stored), func(b *testing.B) {
			st, err := store.Open(b.TempDir(), store.Options{Timeout: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
			for done := 0; done < stored; {
				batch := make([]store.Incident, 0, 10000)
				for ; len(batch) < cap(batch) && done < stored; done++ {
					batch = append(batch, store.Incident{Fingerprint: fmt.Sprintf("seed-%d", done), Status: "firing", Entity: "db-1", Name: "NodeDown",
						Labels: map[string]string{"alertname": "NodeDown", "host": "db-1"}, StartsAt: t0.Add(time.Duration(done) * time.Second)})
				}
				if _, err := st.AddIncidents(batch); err != nil {
					b.Fatal(err)
				}
			}
			a := New(Options{Engine: idleEngine(b)})
			if err := a.RegisterWebhook(WebhookOptions{Store: st}); err != nil {
				b.Fatal(err)
			}
			h := a.Handler()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				body := fmt.Sprintf(`{"version":"4","receiver":"augur","alerts":[{"status":"firing","labels":{"alertname":"NodeDown","host":"db-%d"},"startsAt":"2026-04-01T00:00:00Z","fingerprint":"bench-%d"}]}`, i, i)
				req := httptest.NewRequest("POST", WebhookPath, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

func TestIncidentsWarnings(t *testing.T) {
	f := func(list IncidentsFunc, status int, contains string) {
		t.Helper()
		a := New(Options{Engine: idleEngine(t)})
		a.ServeIncidents(list)
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/incidents", nil))
		if rec.Code != status || !strings.Contains(rec.Body.String(), contains) {
			t.Errorf("status %d, want %d containing %q: %s", rec.Code, status, contains, rec.Body)
		}
	}
	one := []ingest.Incident{{Entity: "db-1", Name: "NodeDown", Source: "alertmanager"}}
	f(func(context.Context) ([]ingest.Incident, []string, error) { return one, nil, nil }, 200, `"entity":"db-1"`)
	f(func(context.Context) ([]ingest.Incident, []string, error) {
		return one, []string{"3 stored incident notifications could not be decoded"}, nil
	}, 200, `"warnings":["3 stored incident notifications could not be decoded"]`)
	f(func(context.Context) ([]ingest.Incident, []string, error) {
		return nil, nil, errors.New("prometheus is down")
	}, 503, `"errorType":"unavailable"`)
	f(func(context.Context) ([]ingest.Incident, []string, error) { return nil, nil, nil }, 200, `"data":[]`)
}
